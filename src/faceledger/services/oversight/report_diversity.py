"""Diversity: how the lawfully measured faces are distributed over the DiF coding schemes,
and how many faces were *not* measured, and why.

Example::

    section = diversity_numbers(ledger, vault, purpose="train-face-recognition",
                                action="extract-template", actor="cli")
    section["skin_band"], section["not_measured"]

The measures are read from the stored, encrypted ``geometry`` templates through
:func:`faceledger.services.biometrics.templates.read_templates`: one audited ``template.read`` event per
report. Only histograms leave this module, never a face's own values. Every face falls into
exactly one of: measured, erased (its subject's key was shredded), blocked by its decision,
no decision for the purpose, or allowed but not extracted (not run yet, or it failed).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import exists, func, select

from faceledger.core.dif import ITA_BANDS, REFUSED_SCHEMES, SCHEMES
from faceledger.services.biometrics.extract import refusal_counts
from faceledger.services.biometrics.templates import GEOMETRY, read_templates
from faceledger.store import Ledger
from faceledger.store.tables import DECISIONS, FACES, PHOTOS, TEMPLATES
from faceledger.store.vault import KeyVault

#: Histogram edges (the last bin is open-ended where the edge is inf).
EDGES: dict[str, tuple[float, ...]] = {
    "skin.ita_deg": tuple(range(-90, 91, 15)),
    "pose.yaw_deg": tuple(range(-90, 91, 15)),
    "pose.pitch_deg": tuple(range(-90, 91, 15)),
    "pose.roll_deg": tuple(range(-90, 91, 15)),
    "resolution.iod_px": (0, 16, 24, 32, 48, 64, 96, 128, 192, 256, math.inf),
}
BANDS = tuple(name for name, _ in ITA_BANDS)
#: Fewer measured faces than this and a distribution says little about the dataset: the
#: section and every diversity chart carry a warning.
SMALL_SAMPLE = 30
NOT_MEASURED = {
    "erased": "erased: the subject's data key was shredded",
    "blocked": "blocked: the recorded decision forbids a template",
    "unassessed": "no decision recorded for the purpose",
    "pending": "allowed, but no template (extraction not run yet, or it failed)",
}


def _histogram(values: Sequence[float], edges: Sequence[float]) -> dict[str, Any]:
    counts = [0] * (len(edges) - 1)
    outside = 0
    for value in values:
        for i in range(len(counts)):
            last = i == len(counts) - 1
            if edges[i] <= value < edges[i + 1] or (last and value == edges[i + 1]):
                counts[i] += 1
                break
        else:
            outside += 1
    return {"edges": [e if math.isfinite(e) else None for e in edges], "counts": counts,
            "outside": outside}  # fmt: skip


def _open(vault: KeyVault | Callable[[], KeyVault]) -> KeyVault:
    return vault if isinstance(vault, KeyVault) else vault()


def _exclusive_counts(ledger: Ledger, purpose: str, action: str) -> tuple[int, int, dict[str, int]]:
    """Faces, faces with geometry templates, and faces without one by their decision."""
    templated = exists().where(  # NOT EXISTS: NOT IN (subquery) is quadratic on PostgreSQL
        TEMPLATES.c.face_id == DECISIONS.c.face_id, TEMPLATES.c.kind == GEOMETRY
    )
    decided = (DECISIONS.c.purpose == purpose) & (DECISIONS.c.action == action)
    with ledger.read() as conn:
        faces = int(conn.execute(select(func.count()).select_from(FACES)).scalar_one())
        with_template = int(
            conn.execute(select(func.count(func.distinct(TEMPLATES.c.face_id))).where(
                TEMPLATES.c.kind == GEOMETRY)).scalar_one()
        )  # fmt: skip
        by_decision: dict[Any, Any] = dict(
            conn.execute(
                select(DECISIONS.c.decision, func.count())
                .where(decided, ~templated)
                .group_by(DECISIONS.c.decision)
            ).all()
        )
        unscanned = int(
            conn.execute(
                select(func.count()).select_from(PHOTOS).where(PHOTOS.c.scan_status != "done")
            ).scalar_one()
        )
    blocked, allowed = int(by_decision.get("block", 0)), int(by_decision.get("allow", 0))
    unassessed = faces - with_template - blocked - allowed
    return faces, with_template, {"blocked": blocked, "unassessed": unassessed,
                                  "pending": allowed, "photos_not_scanned": unscanned}  # fmt: skip


def diversity_numbers(
    ledger: Ledger,
    vault: KeyVault | Callable[[], KeyVault] | None,
    *,
    purpose: str,
    action: str,
    actor: str,
) -> dict[str, Any]:
    """The ``diversity`` section of the report (see the module docs)."""
    faces, with_template, counts = _exclusive_counts(ledger, purpose, action)
    measures: list[dict[str, Any]] = []
    erased = 0
    note = None
    if with_template and vault is not None:
        batch = read_templates(
            ledger, _open(vault), kind=GEOMETRY, actor=actor,
            reason="report: DiF distributions (aggregates only)",
        )  # fmt: skip
        measures = [json.loads(data)["measures"] for data in batch.templates.values()]
        erased = len(batch.unreadable)
    elif with_template:
        note = "no key vault given: the stored measures were not read"
    reasons, _blocked, _unassessed = refusal_counts(ledger, purpose)
    schemes: Counter[str] = Counter()
    bands: Counter[str] = Counter()
    values: dict[str, list[float]] = {key: [] for key in EDGES}
    for m in measures:
        for scheme in str(m.get("schemes", "")).split(","):
            if scheme:
                schemes[scheme] += 1
        if isinstance(m.get("skin.band"), str):
            bands[m["skin.band"]] += 1
        for key in EDGES:
            value = m.get(key)
            if isinstance(value, int | float) and math.isfinite(value):
                values[key].append(float(value))
    measured = len(measures)
    small = (f"small sample: {measured:,} measured faces (fewer than {SMALL_SAMPLE}); these "
             "distributions describe those faces only, not the dataset") if 0 < measured < SMALL_SAMPLE else None  # fmt: skip
    not_measured = {
        NOT_MEASURED["erased"]: erased,
        NOT_MEASURED["blocked"]: counts["blocked"],
        NOT_MEASURED["unassessed"]: counts["unassessed"],
        NOT_MEASURED["pending"]: counts["pending"],
    }
    if note:
        not_measured[note] = with_template - erased
    return {
        "faces": faces,
        "faces_with_templates": with_template,
        "measured": measured,
        "not_measured": not_measured,
        "blocked_by": {key.removeprefix("blocked: "): n for key, n in reasons.most_common()
                       if key.startswith("blocked: ")},
        "photos_not_scanned": counts["photos_not_scanned"],
        "schemes": {f"{n} {SCHEMES[int(n)]}": schemes.get(n, 0) for n in sorted(schemes, key=int)},
        "refused_schemes": {f"{n} {SCHEMES[n]}": why for n, why in REFUSED_SCHEMES.items()},
        "skin_band": {band: bands.get(band, 0) for band in BANDS},
        "histograms": {key: _histogram(v, EDGES[key]) for key, v in values.items()},
        "missing": {key: measured - len(v) for key, v in values.items()},
        "small_sample": small,
        "small_sample_threshold": SMALL_SAMPLE,
        "notes": [
            "measured: faces whose geometry template could be read; every other face is counted "
            "once, under the first reason that applies",
            "photos not scanned (metadata only, pending or failed) hold faces nobody has counted",
            "skin band: Individual Typology Angle bands (Chardon et al. 1991), as DiF used them; "
            "age and gender are never inferred",
        ],
    }  # fmt: skip
