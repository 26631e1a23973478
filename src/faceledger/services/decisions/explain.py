"""Explain: the recorded decision for one face, with its provenance, re-checked today.

Example::

    document = explain_face(ledger, face_id=7, purpose="train-face-recognition")
    document["changed"], document["differences"], document["prose"]

The stored scenario (see :mod:`faceledger.services.decisions.assess`), given back the face's
own raw location clues from its photo (:func:`~faceledger.services.decisions.assess.face_scenario`:
the stored case holds them resolved), is re-evaluated with today's policies and boundaries on
the recorded date, so a lawyer sees both what was decided and whether the laws
as shipped now would decide differently. ``sensitive_data`` names the imported datasets that
list the face's photo with special-category labels (``ethnic-group``...) and the label kinds
the recorded scenario carried (the laws' ``sensitive_data`` rules read them).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from faceledger.core.law import Policy, evaluate, render_decision
from faceledger.errors import AssessmentNotFound
from faceledger.geo import BoundaryIndex
from faceledger.services.decisions.assess import DEFAULT_ACTION, MODE, check_action, face_scenario
from faceledger.services.decisions.datasets import sensitive_datasets
from faceledger.services.decisions.policy import parse_scenario
from faceledger.store import Ledger
from faceledger.store.tables import DECISIONS, FACES, PHOTOS, decision_records


def _face_and_photo(ledger: Ledger, face_id: int) -> dict[str, Any]:
    with ledger.read() as conn:
        row = (
            conn.execute(
                select(
                    FACES.c.id.label("face_id"),
                    FACES.c.face_index,
                    FACES.c.x1,
                    FACES.c.y1,
                    FACES.c.x2,
                    FACES.c.y2,
                    FACES.c.score,
                    PHOTOS,
                )  # fmt: skip
                .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
                .where(FACES.c.id == face_id)
            )
            .mappings()
            .first()
        )
    if row is None:
        raise AssessmentNotFound(f"no face with id {face_id} in the ledger (see faceledger status)")
    return dict(row)


def _differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What today's policies decide differently from the recorded result, in words."""
    found = []
    if recorded["decision"] != current["decision"]:
        found.append(f"decision: recorded {recorded['decision']}, now {current['decision']}")
    before = {law["id"]: law for law in recorded.get("laws", [])}
    for law in current["laws"]:
        old = before.pop(law["id"], None)
        if old is None:
            found.append(f"{law['id']}: not evaluated when recorded, now {law['applies']}")
            continue
        if old["applies"] != law["applies"]:
            found.append(f"{law['id']}: applied {old['applies']}, now {law['applies']}")
        old_sections = sorted(v["section"] for v in old["violations"])
        new_sections = sorted(v["section"] for v in law["violations"])
        if old_sections != new_sections:
            found.append(f"{law['id']}: violations {old_sections or 'none'}, now "
                         f"{new_sections or 'none'}")  # fmt: skip
    for law_id in before:
        found.append(f"{law_id}: evaluated when recorded, no longer loaded")
    old_versions = recorded.get("policy_versions", {})
    for law_id, version in current.get("policy_versions", {}).items():
        if law_id in old_versions and old_versions[law_id] != version:
            found.append(f"{law_id}: policy version {old_versions[law_id]} -> {version}")
    return found


def explain_face(
    ledger: Ledger,
    *,
    face_id: int,
    purpose: str,
    action: str = DEFAULT_ACTION,
    policies: list[Policy],
    index: BoundaryIndex | None = None,
) -> dict[str, Any]:
    """The recorded decision for one face with its provenance, re-checked against today's laws.

    The stored scenario is re-evaluated with ``policies`` (the deployment's law set) on the
    recorded date; ``changed`` says whether that differs from what was recorded, and
    ``differences`` says how. ``prose`` renders the re-evaluated decision.
    Raises :class:`AssessmentNotFound` for an unknown face or one not assessed yet.
    """
    check_action(purpose, action)
    face = _face_and_photo(ledger, face_id)
    with ledger.read() as conn:
        record = (
            conn.execute(
                decision_records().where(
                    DECISIONS.c.face_id == face_id,
                    DECISIONS.c.purpose == purpose,
                    DECISIONS.c.action == action,
                )
            )
            .mappings()
            .first()
        )
    if record is None:
        raise AssessmentNotFound(
            f"face {face_id} has no recorded decision for {purpose!r} ({action}): "
            f"run faceledger assess --purpose {purpose}"
        )
    with ledger.read() as conn:
        listed = sensitive_datasets(conn, int(face["id"]))
    recorded_scenario = face_scenario(record["scenario"], SimpleNamespace(**face))
    scenario = dict(recorded_scenario)
    mode = scenario.pop("mode", MODE)
    current = evaluate(parse_scenario(scenario, index=index), policies, mode=mode)
    current_doc = current.to_dict()
    differences = _differences(record["result"], current_doc)
    return {
        "face": {
            "id": face["face_id"], "photo_id": face["id"], "index": face["face_index"],
            "box": [face["x1"], face["y1"], face["x2"], face["y2"]], "score": face["score"],
        },
        "photo": {
            "id": face["id"], "external_id": face["external_id"], "path": face["path"],
            "page_url": face["page_url"], "title": face["title"],
            "owner_id": face["owner_id"], "owner_nickname": face["owner_nickname"],
            "owner_location": face["owner_location"], "license": face["license_name"],
            "date_taken": face["date_taken"], "ingested": face["created_at"],
            "geotag": None if face["latitude"] is None else {
                "lat": face["latitude"], "lon": face["longitude"],
                "accuracy": face["geo_accuracy"]},
        },
        "recorded": {
            "purpose": record["purpose"], "action": record["action"],
            "decision": record["decision"], "destroy_by": record["destroy_by"],
            "assessed_at": record["assessed_at"], "policy_versions": record["policy_versions"],
            "scenario": recorded_scenario, "result": record["result"],
        },
        "current": current_doc,
        "sensitive_data": {
            "labels": list(record["scenario"].get("sensitive_labels") or []),
            "datasets": listed,
        },
        "changed": bool(differences),
        "differences": differences,
        "prose": render_decision(current),
    }  # fmt: skip
