"""Assess: record, for every detected face, the law engine's decision for a purpose.

Example::

    report = assess_faces(ledger, settings, on=date(2025, 3, 1))
    report.by_decision                       # {'allow': 3, 'block': 24}

Each face's scenario is built from its photo's provenance, never from the pixels:

- evidence: :func:`faceledger.geo.evidence_for_photo` over the geotag (with its accuracy)
  and the owner's location text, computed once per photo;
- processor: the ``processor_location`` / ``processor_commercial`` settings. An unset
  location is *unknown*: the engine then keeps every law that reaches processing in its
  territory (BIPA, GDPR, ...) in scope as ``uncertain``, so without consent the face blocks;
- ``collected``: the earliest known acquisition date: the photo's ``acquired_at`` (a source
  row may state when the dataset owner acquired it) or, when earlier or unknown, the date it
  entered the ledger. ``last_interaction``: the latest of that and the person's own contact
  with us (the date of an active claim of the face), never after the assessment date;
- consents: only those that cover this face (:mod:`faceledger.services.coverage`): the
  consents on the face's active claims, the photo owner's consents only for a face claimed
  as the owner's own with verified ownership, never a photo owner's word for anyone else.
  The same claims fill ``subject.is_photo_owner``, ``subject.minor`` and ``subject.age``;
- ``retention_schedule_published``: the earliest ``policy.publish`` recorded in the ledger
  (the public BIPA 15(a) schedule), or null;
- ``tdm_reserved``: the photo carries a machine-readable text-and-data-mining reservation
  (``photos.reservation``, set by ``faceledger fetch`` or ``faceledger optouts import``);
- ``source`` unknown (the engine assumes the worst where a law cares), ``mode`` conservative.

Faces of one photo share its evidence (computed once per photo) but not its consents: the
evaluated case is cached per (photo, coverage), so two faces with different claims or
consents get different scenarios. The scenario is stored as a ``faceledger policy evaluate`` document (so it can be replayed
by hand) next to ``Decision.to_dict()`` and the policy versions. Faces are read in pages
(keyset on face id), evaluated in Python, and each page is written in one transaction, an
upsert on (face, purpose, action): re-running replaces decisions and never duplicates them.
One ``assess.run`` audit event per run records the counts and the policy versions.

:func:`assess_face_ids` decides the same way for a given set of faces, optionally inside the
caller's transaction: the consent service uses it to re-decide the faces a consent change
touches, in the same transaction as the change.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select

from faceledger.config import Settings
from faceledger.core.law import (
    Decision,
    Evidence,
    Policy,
    Processor,
    Scenario,
    Subject,
    evaluate,
    load_policies,
)
from faceledger.core.law.decision import IN_SCOPE
from faceledger.core.law.model import ACTIONS
from faceledger.errors import FaceledgerError, PolicyError
from faceledger.geo import BoundaryIndex, evidence_for_photo
from faceledger.services.coverage import (
    ConsentBook,
    Coverage,
    as_date,
    consent_document,
    engine_consent,
    load_book,
)
from faceledger.services.progress import NoProgress, Progress
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.schema import AuditEvent, Face, FaceDecision, Photo

FACES, PHOTOS, DECISIONS = Face.__table__, Photo.__table__, FaceDecision.__table__
AUDIT = AuditEvent.__table__
__all__ = ["ConsentBook", "engine_consent"]  # re-exported: report/numbers.py reads them here
DEFAULT_ACTION = "extract-template"
MODE = "conservative"  # gating decisions are never made in "likely" mode
TOP_REASONS = 3
_PAGE = 1_000
_PHOTO_CACHE = 4_096
_UPDATED = ["decision", "destroy_by", "scenario", "result", "policy_versions", "assessed_at"]


class AssessmentNotFound(FaceledgerError):
    """No such face, or the face has no recorded decision for the purpose (exit code 2)."""


@dataclass
class AssessReport:
    """What one ``assess`` run decided. ``blocked`` is keyed ``(law, section)``."""

    purpose: str
    action: str
    on: date
    processor_location: str | None
    processor_commercial: bool
    faces: int = 0
    by_decision: Counter[str] = field(default_factory=Counter)
    blocked: Counter[tuple[str, str]] = field(default_factory=Counter)
    reasons: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    policy_versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the ``assess --json`` document; add keys, never rename)."""
        blocked = [
            {
                "law": law,
                "section": section,
                "faces": count,
                "top_reasons": [
                    {"reason": reason, "faces": n}
                    for reason, n in self.reasons[(law, section)].most_common(TOP_REASONS)
                ],
            }
            for (law, section), count in sorted(
                self.blocked.items(), key=lambda item: (-item[1], item[0])
            )
        ]
        return {
            "purpose": self.purpose,
            "action": self.action,
            "date": self.on.isoformat(),
            "mode": MODE,
            "processor": {
                "location": self.processor_location,
                "commercial": self.processor_commercial,
            },
            "faces": self.faces,
            "allowed": self.by_decision.get("allow", 0),
            "blocked": self.by_decision.get("block", 0),
            "blocked_by": blocked,
            "policy_versions": dict(sorted(self.policy_versions.items())),
            "seconds": round(self.seconds, 3),
        }


def _evidence_inputs(photo: Any) -> list[dict[str, Any]]:
    """The photo's location facts as scenario evidence items (what ``parse_scenario`` reads)."""
    items: list[dict[str, Any]] = []
    if photo.latitude is not None and photo.longitude is not None:
        items.append(
            {"kind": "geotag", "lat": photo.latitude, "lon": photo.longitude,
             "accuracy": photo.geo_accuracy}
        )  # fmt: skip
    if photo.owner_location and photo.owner_location.strip():
        items.append({"kind": "owner-location", "text": photo.owner_location})
    return items


def published_schedule(conn: Connection) -> date | None:
    """The earliest date a retention schedule was published (``policy.publish`` events, as
    :func:`faceledger.services.policy_publish.record_publication` writes them), read in
    ``conn``'s transaction. A record without a readable date never counts (fail closed)."""
    rows = conn.execute(select(AUDIT.c.payload).where(AUDIT.c.name == "policy.publish"))
    dates: list[date] = []
    for (payload,) in rows:
        try:
            dates.append(date.fromisoformat(str((payload or {}).get("published"))))
        except (ValueError, AttributeError):
            continue
    return min(dates) if dates else None


@dataclass(frozen=True)
class _PhotoCase:
    """One photo's evaluated scenario: shared by all of its faces."""

    scenario: dict[str, Any]
    decision: Decision


class Assessor:
    """Builds and evaluates one face's scenario. Caches the evidence per photo (the cost) and
    the evaluated case per (photo, coverage): faces with the same coverage share a case."""

    def __init__(
        self,
        policies: list[Policy],
        *,
        purpose: str,
        action: str,
        on: date,
        processor: Processor,
        index: BoundaryIndex | None = None,
        published: date | None = None,
    ) -> None:
        self.policies, self.purpose, self.action, self.on = policies, purpose, action, on
        self.processor, self.index, self.published = processor, index, published
        self._evidence: dict[int, list[Evidence]] = {}
        self._cache: dict[tuple[int, tuple[Any, ...]], _PhotoCase] = {}

    def _photo_evidence(self, photo: Any) -> list[Evidence]:
        found = self._evidence.get(photo.photo_id)
        if found is None:
            if len(self._evidence) >= _PHOTO_CACHE:
                self._evidence.clear()
            found = evidence_for_photo(
                latitude=photo.latitude,
                longitude=photo.longitude,
                accuracy=photo.geo_accuracy,
                owner_location=photo.owner_location,
                index=self.index,
            )
            self._evidence[photo.photo_id] = found
        return found

    def for_photo(self, photo: Any, cover: Coverage | None = None) -> _PhotoCase:
        """The evaluated case of a face of ``photo`` with its ``cover`` (consents, claims)."""
        cover = cover or Coverage()
        key = (photo.photo_id, cover.key)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(self._cache) >= _PHOTO_CACHE:
            self._cache.clear()
        evidence = self._photo_evidence(photo)
        known = [d for d in (as_date(getattr(photo, "acquired_at", None)), as_date(photo.created_at)) if d]
        collected = min(known) if known else None
        contact = min(cover.last_contact, self.on) if cover.last_contact else None
        last = max(d for d in (collected, contact) if d) if (collected or contact) else None
        reserved = getattr(photo, "reservation", None) is not None  # a TDM opt-out (fetch, optouts)
        scenario = Scenario(
            action=self.action,  # type: ignore[arg-type]
            purpose=self.purpose,
            on=self.on,
            processor=self.processor,
            subject=Subject(residence=None, evidence=tuple(evidence), minor=cover.minor,
                            age=cover.age, is_photo_owner=cover.is_photo_owner),  # fmt: skip
            consents=cover.consents,
            collected=collected,
            last_interaction=last,
            retention_schedule_published=self.published,
            tdm_reserved=reserved,
        )
        document = {
            "action": self.action,
            "purpose": self.purpose,
            "date": self.on.isoformat(),
            "mode": MODE,
            "processor": {
                "location": self.processor.location,
                "commercial": self.processor.commercial,
            },
            "subject": {
                "residence": None, "evidence": _evidence_inputs(photo), "minor": cover.minor,
                "age": cover.age, "is_photo_owner": cover.is_photo_owner,
            },
            "consents": [consent_document(c) for c in cover.consents],
            "collected": collected.isoformat() if collected else None,
            "last_interaction": last.isoformat() if last else None,
            "purpose_fulfilled": None,
            "disclosure_basis": None,
            "source": None,
            "retention_schedule_published": self.published.isoformat() if self.published else None,
            "tdm_reserved": reserved,
        }  # fmt: skip
        case = _PhotoCase(document, evaluate(scenario, self.policies, mode=MODE))
        self._cache[key] = case
        return case


def check_action(purpose: str, action: str) -> None:
    if not purpose.strip():
        raise PolicyError("purpose must not be blank")
    if action not in ACTIONS:
        raise PolicyError(f"action {action!r} is not one of {', '.join(ACTIONS)}")


def _select_faces() -> Select[Any]:
    """What a decision needs of a face: its photo's provenance, ordered by face id."""
    columns = [
        FACES.c.id.label("face_id"), FACES.c.photo_id, PHOTOS.c.latitude, PHOTOS.c.longitude,
        PHOTOS.c.geo_accuracy, PHOTOS.c.owner_location, PHOTOS.c.owner_id, PHOTOS.c.created_at,
        PHOTOS.c.acquired_at, PHOTOS.c.reservation,
    ]  # fmt: skip
    return (
        select(*columns)
        .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
        .where(_not_excluded())
        .order_by(FACES.c.id)
    )


def _not_excluded() -> Any:
    """Faces and photos an executed request excluded (tombstones) are never decided again."""
    return FACES.c.excluded_request_id.is_(None) & PHOTOS.c.excluded_request_id.is_(None)


def _read_page(conn: Connection, statement: Select[Any]) -> tuple[list[Row[Any]], ConsentBook]:
    """One page of faces and the claims and consents that may cover them (a few queries)."""
    rows = list(conn.execute(statement).all())
    return rows, load_book(conn, rows)


def _face_pages(ledger: Ledger, page: int) -> Iterator[tuple[list[Row[Any]], ConsentBook]]:
    last = 0
    while True:
        with ledger.read() as conn:
            rows, book = _read_page(
                conn, _select_faces().where(FACES.c.id > last).limit(page)
            )
        if not rows:
            return
        yield rows, book
        last = int(rows[-1].face_id)


def _decide_page(
    assessor: Assessor, page: list[Row[Any]], book: ConsentBook, report: AssessReport
) -> list[dict[str, Any]]:
    """The decision rows (for the upsert) of one page of faces; counts them into ``report``."""
    now = utcnow()
    rows = []
    for face in page:
        case = assessor.for_photo(face, book.for_face(face))
        decision = case.decision
        rows.append({
            "face_id": face.face_id, "purpose": assessor.purpose, "action": assessor.action,
            "decision": decision.decision, "destroy_by": decision.destroy_by,
            "scenario": case.scenario, "result": decision.to_dict(),
            "policy_versions": {law.id: law.version for law in decision.laws},
            "assessed_at": now,
        })  # fmt: skip
        _count(report, decision)
    return rows


def _run_event(report: AssessReport, actor: str, **extra: Any) -> AuditRecord:
    """The ``assess.run`` audit record of ``report`` (``extra`` adds payload keys)."""
    return AuditRecord(
        name="assess.run",
        actor=actor,
        object_type="purpose",
        object_id=report.purpose,
        payload={
            "purpose": report.purpose,
            "action": report.action,
            "date": report.on.isoformat(),
            "processor": {"location": report.processor_location,
                          "commercial": report.processor_commercial},
            "faces": report.faces,
            "by_decision": {k: report.by_decision.get(k, 0) for k in ("allow", "block")},
            "blocked_by_law": _by_law(report),
            "policy_versions": report.policy_versions,
            **extra,
        },  # fmt: skip
    )


def assess_faces(
    ledger: Ledger,
    settings: Settings,
    *,
    purpose: str | None = None,
    action: str = DEFAULT_ACTION,
    on: date | None = None,
    actor: str = "cli",
    progress: Progress | None = None,
    policies: list[Policy] | None = None,
    index: BoundaryIndex | None = None,
    page_size: int = _PAGE,
) -> AssessReport:
    """Decide ``action`` for ``purpose`` on every face and record it (see module docs).

    ``on`` defaults to today (UTC). ``policies`` default to the shipped laws plus
    ``settings.policy_dir``.
    """
    purpose = (purpose or settings.purpose).strip()
    check_action(purpose, action)
    on = on or datetime.now(UTC).date()
    progress = progress or NoProgress()
    policies = policies if policies is not None else load_policies(policy_dir=settings.policy_dir)
    processor = Processor(
        location=settings.processor_location, commercial=settings.processor_commercial
    )
    with ledger.read() as conn:
        published = published_schedule(conn)
    assessor = Assessor(
        policies, purpose=purpose, action=action, on=on, processor=processor, index=index,
        published=published,
    )  # fmt: skip
    report = AssessReport(purpose, action, on, processor.location, processor.commercial)
    report.policy_versions = {p.id: p.version for p in policies}
    started = time.monotonic()
    with ledger.read() as conn:
        total = int(
            conn.execute(
                select(func.count())
                .select_from(FACES)
                .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
                .where(_not_excluded())
            ).scalar_one()
        )
    statement = ledger.upsert(DECISIONS, ["face_id", "purpose", "action"], _UPDATED)
    with progress.task(f"assess {purpose}", total=total, unit="faces") as tick:
        for page, book in _face_pages(ledger, page_size):
            rows = _decide_page(assessor, page, book, report)
            with ledger.begin() as conn:
                conn.execute(statement, rows)
            tick(len(rows), allowed=report.by_decision["allow"], blocked=report.by_decision["block"])
    report.seconds = time.monotonic() - started
    with ledger.begin() as conn:
        append(conn, _run_event(report, actor))
    return report


def assess_face_ids(
    ledger: Ledger,
    face_ids: Iterable[int],
    *,
    purpose: str,
    processor: Processor,
    action: str = DEFAULT_ACTION,
    on: date | None = None,
    actor: str = "cli",
    policies: list[Policy] | None = None,
    index: BoundaryIndex | None = None,
    conn: Connection | None = None,
    trigger: Mapping[str, Any] | None = None,
    page_size: int = _PAGE,
) -> AssessReport:
    """Decide ``action`` for ``purpose`` on the faces ``face_ids`` only, and record it.

    The same scenario, engine and upsert as :func:`assess_faces`, and one ``assess.run``
    event whose payload adds ``"scope": "faces"`` and ``trigger`` (what caused the re-run,
    e.g. ``{"event": "consent.revoke", "consent_id": 7}``). With ``conn`` everything happens
    in the caller's transaction (a consent change and the decisions it causes commit
    together); without, in one transaction of its own. Unknown face ids are skipped.
    ``processor`` is explicit: a re-decision keeps the processor the face was decided for.
    """
    purpose = purpose.strip()
    check_action(purpose, action)
    on = on or datetime.now(UTC).date()
    policies = policies if policies is not None else load_policies()
    report = AssessReport(purpose, action, on, processor.location, processor.commercial)
    report.policy_versions = {p.id: p.version for p in policies}
    ids = sorted(set(face_ids))
    started = time.monotonic()
    statement = ledger.upsert(DECISIONS, ["face_id", "purpose", "action"], _UPDATED)

    def run(conn: Connection) -> None:
        assessor = Assessor(
            policies, purpose=purpose, action=action, on=on, processor=processor, index=index,
            published=published_schedule(conn),
        )  # fmt: skip
        for start in range(0, len(ids), page_size):
            chunk = ids[start : start + page_size]
            page, book = _read_page(conn, _select_faces().where(FACES.c.id.in_(chunk)))
            rows = _decide_page(assessor, page, book, report)
            if rows:
                conn.execute(statement, rows)
        report.seconds = time.monotonic() - started
        append(conn, _run_event(report, actor, scope="faces", trigger=dict(trigger or {})))

    if conn is not None:
        run(conn)
    else:
        with ledger.begin() as own:
            run(own)
    return report


def _count(report: AssessReport, decision: Decision) -> None:
    report.faces += 1
    report.by_decision[decision.decision] += 1
    if decision.allowed:
        return
    in_scope = IN_SCOPE[decision.mode]
    for law in decision.laws:
        if law.applies not in in_scope:
            continue
        for violation in law.violations:
            key = (law.id, violation.section)
            report.blocked[key] += 1
            report.reasons.setdefault(key, Counter())[violation.reason] += 1


def _by_law(report: AssessReport) -> dict[str, int]:
    """Faces blocked per law (a face blocked under two sections of one law counts once)."""
    laws: Counter[str] = Counter()
    for (law, _section), count in report.blocked.items():
        laws[law] = max(laws[law], count)
    return dict(sorted(laws.items()))

