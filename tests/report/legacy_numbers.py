"""FROZEN reference: the per-row code as it was before issue 15 moved the report and status
to SQL aggregations. Only tests/report/test_report_sql_equivalence.py imports it, to prove
the new code computes identical numbers. Do not change it; delete it with that test.

Every figure of the report, as one JSON-ready dict computed from the ledger.

Example::

    document = report_numbers(ledger, purpose="train-face-recognition", vault=vault)
    document["headline"]["faces_blocked"], document["audit"]["chain"]["ok"]

Pure of presentation: no chart, no HTML. Counts come from SQL (decision documents are read
in pages and tallied here, as :mod:`faceledger.services.decisions.exposure` does, because SQLite and
PostgreSQL query JSON differently); the rules come from the services: exposure from
:func:`~faceledger.services.decisions.exposure.ledger_exposure`, collection totals from
:func:`~faceledger.services.collection.status.ledger_status`, consent validity from the law engine's
:class:`~faceledger.core.law.Consent`, refusals from
:func:`~faceledger.services.biometrics.extract.refusal_counts`, the chain from
:func:`~faceledger.store.audit.verify_chain`. DiF measures are read once, audited, in
:mod:`faceledger.services.oversight.report_diversity`; requests, retention and releases live in
:mod:`faceledger.services.oversight.report_lifecycle`. Geotags on the map are rounded to
:data:`MAP_PRECISION_DEG` and no per-face biometric value ever leaves the vault: the
document holds counts and histograms only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from tests.report import legacy_lifecycle as lifecycle
from tests.report.legacy_exposure import ledger_exposure
from tests.report.legacy_status import ledger_errors, ledger_status

from faceledger.core.law import Policy, estimate_exposure, load_policies
from faceledger.core.law.decision import IN_SCOPE
from faceledger.core.signals import reservation_words
from faceledger.errors import AssessmentNotFound
from faceledger.services.decisions.assess import DEFAULT_ACTION, engine_consent
from faceledger.services.decisions.datasets import ledger_overlap
from faceledger.services.oversight import report_diversity as diversity
from faceledger.sources.licenses import spdx_id
from faceledger.store import Ledger
from faceledger.store.audit import verify_chain
from faceledger.store.ledger import utcnow
from faceledger.store.schema import (
    AuditEvent,
    Consent,
    Face,
    FaceDecision,
    FaceSubject,
    Photo,
    Subject,
    Template,
)
from faceledger.store.tables import DECISION_OUTCOMES, OUTCOMES
from faceledger.store.vault import KeyVault

SCHEMA = "faceledger.report/1"
FACES, PHOTOS, DECISIONS = Face.__table__, Photo.__table__, FaceDecision.__table__
CONSENTS, AUDIT = Consent.__table__, AuditEvent.__table__
SUBJECTS, FACE_SUBJECTS, TEMPLATES = Subject.__table__, FaceSubject.__table__, Template.__table__
GRADES = ("yes", "likely", "uncertain", "no")
MAP_PRECISION_DEG = 0.1  # about 11 km: where, not whose house
TOP_REASONS = 10
TOP_LICENCES = 12
TOP_JURISDICTIONS = 15
_PAGE = 2_000


@dataclass
class _LawTally:
    title: str
    grades: Counter[str] = field(default_factory=Counter)
    subjects: set[int] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)
    blocking: int = 0
    #: blocked faces the law reaches, by how it applies (the exposure's faces, split)
    blocked_grades: Counter[str] = field(default_factory=Counter)


@dataclass
class _Tally:
    """One pass over the recorded decisions of a purpose and action."""

    decided: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    laws: dict[str, _LawTally] = field(default_factory=dict)
    blocked: Counter[tuple[str, str]] = field(default_factory=Counter)
    reasons: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    jurisdictions: Counter[str] = field(default_factory=Counter)
    points: dict[tuple[float, float], Counter[str]] = field(default_factory=dict)

    def add(self, row: Any) -> None:
        result = row.result
        self.decided += 1
        self.verdicts[row.decision] += 1
        in_scope = IN_SCOPE[str(result.get("mode", "conservative"))]
        for law in result.get("laws", []):
            tally = self.laws.setdefault(law["id"], _LawTally(law.get("title", law["id"])))
            tally.grades[law["applies"]] += 1
            if law["applies"] not in in_scope:
                continue
            if row.subject_id is not None:
                tally.subjects.add(int(row.subject_id))
            if row.owner_id:
                tally.owners.add(row.owner_id)
            if row.decision == "block":
                tally.blocked_grades[law["applies"]] += 1
            if row.decision == "block" and law.get("violations"):
                tally.blocking += 1
                for violation in law["violations"]:
                    key = (law["id"], violation["section"])
                    self.blocked[key] += 1
                    self.reasons.setdefault(key, Counter())[violation["reason"]] += 1
        for item in result.get("jurisdictions", []):
            self.jurisdictions[item["code"]] += 1
        if row.latitude is not None and row.longitude is not None:
            key = (_round(row.latitude), _round(row.longitude))
            self.points.setdefault(key, Counter())[row.decision] += 1


def _round(value: float) -> float:
    return round(round(value / MAP_PRECISION_DEG) * MAP_PRECISION_DEG, 4)


def _tally(ledger: Ledger, purpose: str, action: str) -> _Tally:
    tally = _Tally()
    last = 0
    query = (
        select(DECISIONS.c.id, DECISIONS.c.decision, OUTCOMES.c.result, PHOTOS.c.owner_id,
               PHOTOS.c.latitude, PHOTOS.c.longitude, FACE_SUBJECTS.c.subject_id)
        .select_from(DECISION_OUTCOMES)
        .join(FACES, FACES.c.id == DECISIONS.c.face_id)
        .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
        .outerjoin(FACE_SUBJECTS, FACE_SUBJECTS.c.face_id == FACES.c.id)
        .where(DECISIONS.c.purpose == purpose, DECISIONS.c.action == action)
        .order_by(DECISIONS.c.id)
        .limit(_PAGE)
    )  # fmt: skip
    while True:
        with ledger.read() as conn:
            rows = conn.execute(query.where(DECISIONS.c.id > last)).all()
        if not rows:
            return tally
        for row in rows:
            tally.add(row)
        last = int(rows[-1].id)


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _collection(ledger: Ledger) -> dict[str, Any]:
    status = ledger_status(ledger)
    errors = ledger_errors(ledger, limit=0)
    per_photo = (
        select(FACES.c.photo_id, func.count().label("n")).group_by(FACES.c.photo_id).subquery()
    )
    with ledger.read() as conn:
        histogram: dict[Any, Any] = dict(
            conn.execute(
                select(per_photo.c.n, func.count())
                .select_from(PHOTOS)
                .outerjoin(per_photo, per_photo.c.photo_id == PHOTOS.c.id)
                .where(PHOTOS.c.scan_status == "done")
                .group_by(per_photo.c.n)
            ).all()
        )
        licences = conn.execute(
            select(PHOTOS.c.license_id, PHOTOS.c.license_name, PHOTOS.c.license_url, func.count())
            .group_by(PHOTOS.c.license_id, PHOTOS.c.license_name, PHOTOS.c.license_url)
        ).all()  # fmt: skip
        geotagged = PHOTOS.c.latitude.is_not(None) & PHOTOS.c.longitude.is_not(None)
        geo_photos = _count(conn, PHOTOS, geotagged)
        geo_faces = int(
            conn.execute(
                select(func.count()).select_from(FACES).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
                .where(geotagged)
            ).scalar_one()
        )  # fmt: skip
    bins: Counter[str] = Counter()
    for faces, photos in histogram.items():  # faces None: a scanned photo without a face
        bins[str(faces or 0) if (faces or 0) < 10 else "10+"] += int(photos)
    top_bin = max((10 if key == "10+" else int(key) for key in bins), default=0)
    order = [str(n) for n in range(min(top_bin, 9) + 1)] + (["10+"] if "10+" in bins else [])
    scanned = status["totals"]["scanned"]
    spdx: Counter[str] = Counter()
    for license_id, name, url, n in licences:
        spdx[_spdx(license_id, name, url)] += int(n)
    named = sorted(spdx.items(), key=lambda item: (-item[1], item[0]))
    top = dict(named[:TOP_LICENCES])
    if len(named) > TOP_LICENCES:
        top["other licences"] = sum(n for _, n in named[TOP_LICENCES:])
    return {
        "totals": status["totals"],
        "sources": status["sources"],
        "faces_per_photo": {key: bins.get(key, 0) for key in order},
        "faces_per_scanned_photo": round(status["totals"]["faces"] / scanned, 3)
        if scanned
        else None,
        "licences": top,
        "scan_errors_by_reason": errors["scan_errors_by_reason"],
        "acquisition": _acquisition(status["acquisition"]),
        "geotagged": {"photos": geo_photos, "faces": geo_faces},
        "last_scan": status["last_scan"],
    }


def _acquisition(counts: dict[str, Any]) -> dict[str, Any]:
    """``faceledger fetch`` outcomes (from :func:`~faceledger.services.collection.status.acquisition_status`),
    each reservation signal also in plain words."""
    return {
        **counts,
        "signals": {code: reservation_words(code) for code in counts["reserved_by_signal"]},
        "notes": [
            "reserved: the rights holder opted out of text and data mining by a machine-readable "
            "signal (EU DSM Directive Art. 4(3)); the photo keeps its metadata, no bytes, and is "
            "never scanned. A signal that could not be read counts as a reservation (fail closed)",
            "not fetched: photos with a download URL that no fetch has tried yet",
        ],
    }


def _spdx(license_id: int | None, name: str | None, url: str | None) -> str:
    """One name per licence: its SPDX id ("Attribution License", "CC BY 2.0" and Flickr id 4
    are all ``CC-BY-2.0``); a name SPDX cannot place stays as the source wrote it."""
    for value in (license_id, name, url):
        found = spdx_id(value) if value is not None else None
        if found:
            return found
    return (name or "").strip() or "unknown"


def _jurisdictions(tally: _Tally, policies: list[Policy]) -> dict[str, Any]:
    laws = {
        law_id: {
            "title": item.title,
            "faces": {grade: item.grades.get(grade, 0) for grade in GRADES},
            "in_scope_faces": sum(item.grades.get(g, 0) for g in IN_SCOPE["conservative"]),
            "blocked_faces": {grade: item.blocked_grades.get(grade, 0) for grade in GRADES[:3]},
            "subjects": len(item.subjects),
            "owners": len(item.owners),
        }
        for law_id, item in sorted(tally.laws.items())
    }
    covered: dict[str, list[str]] = {}
    for policy in policies:
        for code in policy.territory.codes:
            covered.setdefault(code, []).append(policy.id)
    points = [
        {"lat": lat, "lon": lon, "faces": sum(c.values()), "allowed": c.get("allow", 0),
         "blocked": c.get("block", 0)}
        for (lat, lon), c in sorted(tally.points.items())
    ]  # fmt: skip
    return {
        "faces_decided": tally.decided,
        "laws": laws,
        "candidate_jurisdictions": dict(tally.jurisdictions.most_common(TOP_JURISDICTIONS)),
        "map": {
            "precision_deg": MAP_PRECISION_DEG,
            "points": points,
            "faces_without_geotag": tally.decided - sum(p["faces"] for p in points),
            "covered": {code: sorted(ids) for code, ids in sorted(covered.items())},
        },
        "notes": [
            "applies: how each law's territorial and material scope grades the face (yes, likely, "
            "uncertain, no); in scope = yes, likely or uncertain (conservative mode)",
            "subjects: people clustered by extraction (only faces with templates are clustered); "
            "owners: distinct photo owners among the faces in scope",
        ],
    }


def _decisions(ledger: Ledger, tally: _Tally) -> dict[str, Any]:
    with ledger.read() as conn:
        rows = conn.execute(
            select(DECISIONS.c.purpose, DECISIONS.c.action, DECISIONS.c.decision, func.count())
            .group_by(DECISIONS.c.purpose, DECISIONS.c.action, DECISIONS.c.decision)
            .order_by(DECISIONS.c.purpose, DECISIONS.c.action)
        ).all()
    by_purpose: dict[str, dict[str, Any]] = {}
    for purpose, action, decision, n in rows:
        entry = by_purpose.setdefault(
            f"{purpose} / {action}", {"purpose": purpose, "action": action, "allow": 0, "block": 0}
        )
        entry[decision] = int(n)  # fmt: skip
    reasons: Counter[tuple[str, str, str]] = Counter()
    for (law, section), counter in tally.reasons.items():
        for reason, n in counter.items():
            reasons[(law, section, reason)] += n
    return {
        "allowed": tally.verdicts.get("allow", 0),
        "blocked": tally.verdicts.get("block", 0),
        "by_purpose": by_purpose,
        "blocking_faces_by_law": {law: t.blocking for law, t in sorted(tally.laws.items()) if t.blocking},
        "blocked_by": {
            f"{law} {section}": {
                "law": law, "section": section, "faces": n,
                "top_reasons": [{"reason": r, "faces": k} for r, k in tally.reasons[(law, section)].most_common(3)],
            }
            for (law, section), n in sorted(tally.blocked.items(), key=lambda i: (-i[1], i[0]))
        },
        "top_reasons": [
            {"law": law, "section": section, "reason": reason, "faces": n}
            for (law, section, reason), n in reasons.most_common(TOP_REASONS)
        ],
        "notes": ["a blocked face counts once under every law section that blocks it"],
    }  # fmt: skip


def _exposure(ledger: Ledger, purpose: str, action: str, policies: list[Policy]) -> dict[str, Any]:
    try:
        document = ledger_exposure(ledger, purpose=purpose, action=action, policies=policies)
    except AssessmentNotFound as exc:
        return {"recorded": False, "note": str(exc), "laws": [], "assumptions": []}
    by_id = {p.id: p for p in policies}
    for row in document["laws"]:
        policy = by_id.get(row["law"])
        penalties = policy.enforcement.penalties if policy else []
        regimes = []
        for penalty in penalties if len(penalties) > 1 else []:
            # a date inside the penalty's window picks that regime
            on = penalty.starts or (penalty.until - timedelta(days=1) if penalty.until else None)
            if on is None or policy is None:
                continue
            estimate = estimate_exposure(
                policy, subjects=row["subjects"], faces=row["faces"], scans=row["faces"], on=on
            )
            if estimate is not None:
                regimes.append({
                    "from": penalty.starts.isoformat() if penalty.starts else None,
                    "until": penalty.until.isoformat() if penalty.until else None,
                    **estimate.to_dict(),
                })  # fmt: skip
        estimate = row.get("exposure") or {}
        for part in estimate.get("parts") or [] if not regimes else []:
            # one law, sections counted differently (BIPA since SB 2979: 15(b) per person)
            regimes.append({"from": None, "until": None, "currency": estimate.get("currency"), **part,
                            "citation": f"{', '.join(part.get('sections', []))}: {part.get('citation', '')}"})  # fmt: skip
        row["regimes"] = regimes
    return {"recorded": True, **document}


def _consent(ledger: Ledger, purpose: str, today: date) -> dict[str, Any]:
    with ledger.read() as conn:
        rows = conn.execute(select(CONSENTS).order_by(CONSENTS.c.id)).all()
        faces_by_owner: dict[Any, Any] = dict(
            conn.execute(
                select(PHOTOS.c.owner_id, func.count()).join(FACES, FACES.c.photo_id == PHOTOS.c.id)
                .where(PHOTOS.c.owner_id.is_not(None)).group_by(PHOTOS.c.owner_id)
            ).all()
        )  # fmt: skip
        faces = _count(conn, FACES)
    state: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    expiry: Counter[str] = Counter()
    covered_owners: set[str] = set()
    no_expiry = informed = for_purpose = soon = 0
    for row in rows:
        consent = engine_consent(row)
        forms[row.form] += 1
        informed += bool(row.informed)
        if consent.revoked is not None and consent.revoked <= today:
            state["revoked"] += 1
        elif consent.expires is not None and consent.expires <= today:
            state["expired"] += 1
        elif consent.active_on(today):
            state["active"] += 1
        else:
            state["not yet valid"] += 1
        if not consent.active_on(today):
            continue
        if consent.covers(purpose):
            for_purpose += 1
            if row.owner_id:
                covered_owners.add(row.owner_id)
        if consent.expires is None:
            no_expiry += 1
        else:
            expiry[consent.expires.strftime("%Y-%m")] += 1
            soon += (consent.expires - today).days <= 90
    covered = sum(int(faces_by_owner.get(owner, 0)) for owner in covered_owners)
    return {
        "total": len(rows),
        "by_state": {key: state.get(key, 0) for key in ("active", "not yet valid", "expired", "revoked")},
        "by_form": dict(sorted(forms.items())),
        "informed": informed,
        "active_for_purpose": for_purpose,
        "faces": faces,
        "faces_covered": covered,
        "expiring_by_month": dict(sorted(expiry.items())),
        "expiring_within_90_days": soon,
        "active_without_expiry": no_expiry,
        "notes": [
            f"validity as of {today.isoformat()} by the law engine's rule (granted, not expired, "
            "not revoked); a face is covered when its photo owner holds an active consent naming "
            "the purpose (whether that consent satisfies each law is the decision's business)",
        ],
    }  # fmt: skip


def _audit(ledger: Ledger) -> dict[str, Any]:
    with ledger.read() as conn:
        broken = verify_chain(conn)
        by_name: dict[Any, Any] = dict(
            conn.execute(
                select(AUDIT.c.name, func.count()).group_by(AUDIT.c.name).order_by(AUDIT.c.name)
            ).all()
        )
        first, last = conn.execute(select(func.min(AUDIT.c.at), func.max(AUDIT.c.at))).one()
    total = sum(int(n) for n in by_name.values())
    return {
        "chain": {"ok": broken is None, "first_bad_event": broken, "events": total},
        "by_name": {str(k): int(v) for k, v in by_name.items()},
        "first_at": _iso(first),
        "last_at": _iso(last),
        "notes": ["includes the template.read event this report appended to read the DiF measures"],
    }


def _processor(ledger: Ledger, purpose: str) -> dict[str, Any]:
    """Where the processing was assessed to run: the latest ``assess.run`` for the purpose."""
    with ledger.read() as conn:
        payload = conn.execute(
            select(AUDIT.c.payload)
            .where(AUDIT.c.name == "assess.run", AUDIT.c.object_id == purpose)
            .order_by(AUDIT.c.id.desc()).limit(1)
        ).scalar()  # fmt: skip
    processor = (payload or {}).get("processor") or {}
    return {"location": processor.get("location"), "commercial": processor.get("commercial")}


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _headline(doc: dict[str, Any]) -> dict[str, Any]:
    totals = doc["collection"]["totals"]
    exposure = {row["law"]: row for row in doc["exposure"]["laws"]}
    bipa = doc["jurisdictions"]["laws"].get("us-il-bipa")
    bipa_grades = bipa["blocked_faces"] if bipa else {grade: 0 for grade in GRADES[:3]}
    return {
        "photos": totals["photos"],
        "photos_scanned": totals["scanned"],
        "photos_metadata_only": totals["metadata_only"],
        "photos_fetched": doc["collection"]["acquisition"]["fetched"],
        "photos_reserved": doc["collection"]["acquisition"]["reserved"],
        "photos_fetch_failed": doc["collection"]["acquisition"]["failed"],
        "faces": totals["faces"],
        "faces_geotagged": doc["collection"]["geotagged"]["faces"],
        "faces_assessed": doc["jurisdictions"]["faces_decided"],
        "faces_allowed": doc["decisions"]["allowed"],
        "faces_blocked": doc["decisions"]["blocked"],
        "bipa_faces_at_risk": exposure["us-il-bipa"]["faces"] if "us-il-bipa" in exposure else 0,
        "bipa_faces_at_risk_by_grade": bipa_grades,
        "faces_with_templates": doc["diversity"]["faces_with_templates"],
        "subjects": doc["retention"]["subjects"]["total"],
        "subjects_erased": doc["retention"]["subjects"]["erased"],
        "consents_active": doc["consent"]["by_state"]["active"],
        "faces_covered_by_consent": doc["consent"]["faces_covered"],
        "faces_measured": doc["diversity"]["measured"],
        "faces_not_measured": doc["diversity"]["faces"] - doc["diversity"]["measured"],
        "requests_open": doc["requests"]["open"],
        "requests_overdue": doc["requests"]["overdue"],
        "release_versions": doc["releases"]["versions"],
        "audit_events": doc["audit"]["chain"]["events"],
        "audit_chain_ok": doc["audit"]["chain"]["ok"],
        "photos_in_sensitive_datasets": doc["datasets"]["photos_in_sensitive_datasets"],
        "templates_without_deadline": doc["retention"]["templates_without_deadline"],
    }


def report_numbers(
    ledger: Ledger,
    *,
    purpose: str,
    vault: KeyVault | Callable[[], KeyVault] | None,
    action: str = DEFAULT_ACTION,
    policies: list[Policy] | None = None,
    today: date | None = None,
    actor: str = "cli",
    retention_limit_days: int | None = None,
) -> dict[str, Any]:
    """The report document (stable keys; add, never rename). See the module docs.

    ``vault`` (or a function that opens it, called only when there are templates to read)
    decrypts the DiF measures; ``None`` leaves the diversity distributions empty and says
    why. ``today`` (default: UTC today) dates consent validity, deadlines and overdue items.
    ``retention_limit_days`` is the organisation's own limit (the ``retention_limit_days``
    setting) for templates no law sets a deadline for; ``None`` reports them as a warning.
    """
    today = today or datetime.now(UTC).date()
    policies = policies if policies is not None else load_policies()
    tally = _tally(ledger, purpose, action)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "as_of": today.isoformat(),
        "ledger": ledger.url,
        "purpose": purpose,
        "action": action,
        "processor": _processor(ledger, purpose),
    }
    doc["collection"] = _collection(ledger)
    doc["datasets"] = ledger_overlap(ledger)
    doc["jurisdictions"] = _jurisdictions(tally, policies)
    doc["decisions"] = _decisions(ledger, tally)
    doc["exposure"] = _exposure(ledger, purpose, action, policies)
    doc["consent"] = _consent(ledger, purpose, today)
    doc.update(
        lifecycle.lifecycle_numbers(
            ledger,
            purpose=purpose,
            action=action,
            today=today,
            retention_limit_days=retention_limit_days,
        )
    )
    doc["diversity"] = diversity.diversity_numbers(
        ledger, vault, purpose=purpose, action=action, actor=actor
    )
    doc["audit"] = _audit(ledger)  # last: it counts the diversity read
    meta = ("schema", "generated_at", "as_of", "ledger", "purpose", "action", "processor")
    return {**{k: doc.pop(k) for k in meta}, "headline": _headline(doc), **doc}
