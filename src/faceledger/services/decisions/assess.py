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
- consents: only those that cover this face (:mod:`faceledger.services.decisions.coverage`): the
  consents on the face's active claims, the photo owner's consents only for a face claimed
  as the owner's own with verified ownership, never a photo owner's word for anyone else.
  The same claims fill ``subject.is_photo_owner``, ``subject.minor`` and ``subject.age``;
- ``retention_schedule_published``: the earliest ``policy.publish`` recorded in the ledger
  (the public BIPA 15(a) schedule), or null;
- ``tdm_reserved``: the photo carries a machine-readable text-and-data-mining reservation
  (``photos.reservation``, set by ``faceledger fetch`` or ``faceledger optouts import``);
- ``source`` unknown (the engine assumes the worst where a law cares), ``mode`` conservative;
- ``sensitive_labels``: the special-category annotation kinds (``ethnic-group``, ...) that an
  imported dataset listing the photo attached to its entries (``faceledger datasets
  import``): the laws' ``sensitive_data`` rules (GDPR Art. 9(1), CPRA 1798.121) read them.

Identical scenarios are decided once and stored once. A face's *inputs* (its photo's
location clues, its coverage, dates, reservation and sensitive labels) key a case memo. A
case is the scenario the engine evaluates: the face's evidence *resolved* (kind, code,
confidence) with its free text blanked (:func:`~faceledger.core.law.cache.decision_key`: no
rule reads it), so two photos geotagged at different corners of one state are one case. Its
scenario (a ``faceledger policy evaluate`` document, by the one codec
:func:`~faceledger.core.law.codec.encode_scenario`; it replays to the same result), its
``Decision.to_dict()`` and the policy versions are one ``decision_outcomes`` row (unique on
the sha256 of the three texts); the raw clues stay the photo's provenance
(:func:`face_scenario` puts them back for a person, e.g. ``explain``). Faces are read in
pages (keyset on face id) and each page is written in one transaction: the page's new
outcomes (insert, skipping known digests), then one ``executemany`` of an upsert on (face,
purpose, action) naming them: re-running replaces decisions and never duplicates them.
Outcomes no decision names any more are deleted at the end of a run.
One ``assess.run`` audit event per run records the counts and the policy versions.

:func:`assess_face_ids` decides the same way for a given set of faces, optionally inside the
caller's transaction: the consent service uses it to re-decide the faces a consent change
touches, in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, select, text
from sqlalchemy.exc import DBAPIError

from faceledger.config import Settings
from faceledger.core.law import (
    Decision,
    Evidence,
    Policy,
    Processor,
    Scenario,
    Subject,
)
from faceledger.core.law.cache import DecisionCache, decision_key
from faceledger.core.law.codec import encode_scenario
from faceledger.core.law.decision import IN_SCOPE, Mode
from faceledger.core.law.model import ACTIONS
from faceledger.errors import LedgerError, PolicyError
from faceledger.geo import BoundaryIndex, evidence_for_photo
from faceledger.services.decisions.coverage import (
    ConsentBook,
    Coverage,
    as_date,
    engine_consent,
    load_book,
)
from faceledger.services.decisions.datasets import holds_members, sensitive_labels
from faceledger.services.decisions.policy import laws_for
from faceledger.services.progress import NoProgress, Progress
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.bulk import refresh_statistics, upsert_rows
from faceledger.store.ledger import utcnow
from faceledger.store.schema import DecisionOutcome
from faceledger.store.tables import AUDIT, DECISIONS, FACES, OUTCOMES, PHOTOS

__all__ = [
    "ConsentBook",
    "engine_consent",
]  # re-exported: services/oversight/report_numbers.py reads them here
DEFAULT_ACTION = "extract-template"
MODE: Mode = "conservative"  # gating decisions are never made in "likely" mode
TOP_REASONS = 3
_PAGE = 5_000
_CACHE = 65_536  # cases and evidence kept per run before the memo starts over
_OUTCOME_TRIES = 3  # inserts of a page's outcomes before giving up (a prune racing each one)
_KEY = ["face_id", "purpose", "action"]
COLUMNS = [*_KEY, "decision", "destroy_by", "outcome_id", "assessed_at"]
_DOCUMENTS = ["scenario", "result", "policy_versions"]


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


def evidence_inputs(photo: Any) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """The photo's location facts as raw scenario evidence items (what ``parse_scenario``
    reads), hashable: a tuple of (key, value) pairs per item."""
    items: list[tuple[tuple[str, Any], ...]] = []
    if photo.latitude is not None and photo.longitude is not None:
        items.append((("kind", "geotag"), ("lat", photo.latitude), ("lon", photo.longitude),
                      ("accuracy", photo.geo_accuracy)))  # fmt: skip
    if photo.owner_location and photo.owner_location.strip():
        items.append((("kind", "owner-location"), ("text", photo.owner_location)))
    return tuple(items)


def face_scenario(scenario: Mapping[str, Any], photo: Any) -> dict[str, Any]:
    """A stored case's scenario document as one face's own: its evidence replaced by the raw
    clues of the face's ``photo`` (geotag, owner location text), as a person replays it with
    ``faceledger policy evaluate``; the engine reads both alike."""
    document = dict(scenario)
    subject = dict(document.get("subject") or {})
    subject["evidence"] = [dict(item) for item in evidence_inputs(photo)]
    document["subject"] = subject
    return document


def outcome_digest(scenario: str, result: str, versions: str) -> str:
    """The key of a stored outcome: sha256 of its three JSON texts (as migration 0018)."""
    return hashlib.sha256("\n".join((scenario, result, versions)).encode()).hexdigest()


def published_schedule(conn: Connection) -> date | None:
    """The earliest date a retention schedule was published (``policy.publish`` events, as
    :func:`faceledger.services.decisions.policy_publish.record_publication` writes them), read in
    ``conn``'s transaction. A record without a readable date never counts (fail closed)."""
    rows = conn.execute(select(AUDIT.c.payload).where(AUDIT.c.name == "policy.publish"))
    dates: list[date] = []
    for (payload,) in rows:
        try:
            dates.append(date.fromisoformat(str((payload or {}).get("published"))))
        except (ValueError, AttributeError):
            continue
    return min(dates) if dates else None


@dataclass(frozen=True, eq=False)
class Case:
    """One decided scenario, shared by every face decided alike: the decision, the JSON text
    of its stored scenario, result and policy versions with their ``digest``, and what it
    counts (compared and hashed by identity: one object per case)."""

    decision: Decision
    scenario: str
    result: str
    versions: str
    blocks: tuple[tuple[tuple[str, str], str], ...]  # ((law, section), reason) in scope
    digest: str


def _blocks(decision: Decision) -> tuple[tuple[tuple[str, str], str], ...]:
    if decision.allowed:
        return ()
    in_scope = IN_SCOPE[decision.mode]
    return tuple(
        ((law.id, violation.section), violation.reason)
        for law in decision.laws
        if law.applies in in_scope
        for violation in law.violations
    )


class Assessor:
    """Builds and decides faces' scenarios. Caches the evidence per set of location clues
    (the geo lookup), the case per face inputs, and the engine's decision per scenario."""

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
        dump: Any = json.dumps,
        disclosure_basis: str | None = None,
    ) -> None:
        self.policies, self.purpose, self.action, self.on = policies, purpose, action, on
        self.disclosure_basis = disclosure_basis  # release --disclosure-basis (issue 13.6)
        self.processor, self.index, self.published = processor, index, published
        self.engine = DecisionCache(policies, mode=MODE, max_size=_CACHE)
        self._dump = dump
        self._evidence: dict[tuple[Any, ...], tuple[Evidence, ...]] = {}
        self._cases: dict[tuple[Any, ...], Case] = {}
        self._bare: dict[Scenario, Case] = {}
        self._versions: dict[tuple[tuple[str, str], ...], str] = {}

    def _photo_evidence(self, photo: Any) -> tuple[Evidence, ...]:
        key = (photo.latitude, photo.longitude, photo.geo_accuracy, photo.owner_location)
        found = self._evidence.get(key)
        if found is None:
            if len(self._evidence) >= _CACHE:
                self._evidence.clear()
            found = tuple(evidence_for_photo(
                latitude=photo.latitude, longitude=photo.longitude, accuracy=photo.geo_accuracy,
                owner_location=photo.owner_location, index=self.index,
            ))  # fmt: skip
            self._evidence[key] = found
        return found

    def scenario(
        self, photo: Any, cover: Coverage | None = None, sensitive: tuple[str, ...] = ()
    ) -> Scenario:
        """The scenario of a face of ``photo`` with its ``cover`` (consents, claims) and the
        ``sensitive`` label kinds datasets holding the photo attached."""
        cover = cover or Coverage()
        dates = (as_date(getattr(photo, "acquired_at", None)), as_date(photo.created_at))
        known = [d for d in dates if d]
        collected = min(known) if known else None
        contact = min(cover.last_contact, self.on) if cover.last_contact else None
        last = max(d for d in (collected, contact) if d) if (collected or contact) else None
        return Scenario(
            action=self.action,  # type: ignore[arg-type]
            purpose=self.purpose,
            on=self.on,
            processor=self.processor,
            subject=Subject(
                residence=None,
                evidence=self._photo_evidence(photo),
                minor=cover.minor,
                age=cover.age,
                is_photo_owner=cover.is_photo_owner,
            ),  # fmt: skip
            consents=cover.consents,
            collected=collected,
            last_interaction=last,
            retention_schedule_published=self.published,
            # a TDM opt-out (fetch, optouts)
            tdm_reserved=getattr(photo, "reservation", None) is not None,
            sensitive_labels=sensitive,
            disclosure_basis=self.disclosure_basis,  # type: ignore[arg-type]
        )

    def case(
        self, photo: Any, cover: Coverage | None = None, sensitive: tuple[str, ...] = ()
    ) -> Case:
        """The decided case of a face of ``photo`` (see :meth:`scenario`), made once per inputs."""
        cover = cover or Coverage()
        inputs = evidence_inputs(photo)
        key = (
            inputs, cover.key, as_date(getattr(photo, "acquired_at", None)),
            as_date(photo.created_at), getattr(photo, "reservation", None) is not None, sensitive,
        )  # fmt: skip
        found = self._cases.get(key)
        if found is not None:
            return found
        if len(self._cases) >= _CACHE:
            self._cases.clear()
            self._bare.clear()
        bare = decision_key(self.scenario(photo, cover, sensitive))
        found = self._bare.get(bare)
        if found is None:
            decision, result = self.engine.decide(bare)
            versions = tuple((law.id, law.version) for law in decision.laws)
            text = self._versions.get(versions)
            if text is None:
                text = self._versions[versions] = self._dump(dict(versions))
            scenario, outcome = self._dump(encode_scenario(bare, mode=MODE)), self._dump(result)
            found = Case(decision, scenario, outcome, text, _blocks(decision),
                         outcome_digest(scenario, outcome, text))  # fmt: skip
            self._bare[bare] = found
        self._cases[key] = found
        return found


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


@dataclass(frozen=True)
class _Page:
    """One page of faces with what may cover them and the datasets' sensitive labels."""

    rows: list[Row[Any]]
    book: ConsentBook
    sensitive: Mapping[int, tuple[str, ...]]


def _read_page(conn: Connection, statement: Select[Any], *, members: bool) -> _Page:
    """One page of faces and the claims, consents and dataset labels that may concern them
    (a few queries)."""
    rows = list(conn.execute(statement).all())
    sensitive = sensitive_labels(conn, (r.photo_id for r in rows)) if members and rows else {}
    return _Page(rows, load_book(conn, rows), sensitive)


def _face_pages(ledger: Ledger, page: int) -> Iterator[_Page]:
    last = 0
    with ledger.read() as conn:
        members = holds_members(conn)
    while True:
        with ledger.read() as conn:
            found = _read_page(
                conn, _select_faces().where(FACES.c.id > last).limit(page), members=members
            )
        if not found.rows:
            return
        yield found
        last = int(found.rows[-1].face_id)


class _Writer:
    """Per page: the page's outcomes (new ones inserted, known digests skipped), then one bulk
    upsert of the decisions naming them (:func:`~faceledger.store.bulk.upsert_rows`). The JSON
    is serialised once per case (SQLite: the column type's own serialiser; PostgreSQL:
    ``CAST(... AS JSON)``)."""

    def __init__(self, ledger: Ledger) -> None:
        dialect = ledger.engine.dialect
        self._postgres = postgres = ledger.dialect == "postgresql"
        mark = "%s" if postgres else "?"
        document = f"CAST({mark} AS JSON)" if postgres else mark
        self.outcome_sql = (
            f"INSERT INTO {DecisionOutcome.__tablename__} (digest, {', '.join(_DOCUMENTS)}) "
            f"VALUES ({mark}, {', '.join([document] * len(_DOCUMENTS))}) "
            "ON CONFLICT (digest) DO NOTHING"
        )

        def processor(column: str) -> Any:
            process = DECISIONS.c[column].type.dialect_impl(dialect).bind_processor(dialect)
            return process or (lambda value: value)

        self._date, self._time = processor("destroy_by"), processor("assessed_at")
        json_column = OUTCOMES.c.scenario.type.dialect_impl(dialect).bind_processor(dialect)
        self.dump: Any = json.dumps if postgres or json_column is None else json_column

    def rows(self, assessor: Assessor, page: _Page, counts: Counter[Case]) -> list[tuple[Any, ...]]:
        """The page's decisions, each naming its :class:`Case` where :meth:`write` puts the
        outcome id; counts each face's case into ``counts``."""
        now = self._time(utcnow())
        purpose, action = assessor.purpose, assessor.action
        dates: dict[date | None, Any] = {}
        rows = []
        for face in page.rows:
            case = assessor.case(
                face, page.book.for_face(face), page.sensitive.get(face.photo_id, ())
            )
            counts[case] += 1
            due = case.decision.destroy_by
            if due not in dates:
                dates[due] = self._date(due)
            rows.append((face.face_id, purpose, action, case.decision.decision, dates[due],
                         case, now))  # fmt: skip
        return rows

    def _outcomes(self, conn: Connection, cases: Iterable[Case]) -> dict[str, int]:
        """The outcome id of each case's digest, inserting the new ones, in digest order (two
        runs inserting the same new cases wait on each other, never deadlock). On PostgreSQL
        the rows are key-share locked until commit, so no concurrent prune deletes one the
        page is about to name; one pruned between the insert and the lock is inserted again."""
        by_digest = {case.digest: case for case in cases}
        ids: dict[str, int] = {}
        lock = " FOR KEY SHARE" if self._postgres else ""
        select_ids = text(
            f"SELECT digest, id FROM decision_outcomes WHERE digest IN :digests{lock}"
        ).bindparams(bindparam("digests", expanding=True))
        for _ in range(_OUTCOME_TRIES):
            missing = sorted(set(by_digest) - ids.keys())
            if not missing:
                return ids
            conn.exec_driver_sql(self.outcome_sql, [
                (d, by_digest[d].scenario, by_digest[d].result, by_digest[d].versions)
                for d in missing
            ])  # fmt: skip
            found = conn.execute(select_ids, {"digests": missing}).all()
            ids.update({digest: int(outcome) for digest, outcome in found})
        raise LedgerError(
            f"decision outcomes kept vanishing while assess wrote them ({_OUTCOME_TRIES} tries): "
            "run assess again"
        )

    def write(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        ids = self._outcomes(conn, {row[5] for row in rows})
        upsert_rows(conn, DECISIONS, COLUMNS,
                    [(*row[:5], ids[row[5].digest], row[6]) for row in rows], key=_KEY)  # fmt: skip


def prune_outcomes(conn: Connection) -> int:
    """Delete the outcomes no decision names any more, under a savepoint of ``conn``'s
    transaction; how many. Best effort: an outcome a concurrent ``assess`` is naming is kept
    (PostgreSQL: its key-share lock is skipped; else its foreign key refuses the delete, and
    the prune gives up until the next run, as it does on a lock conflict)."""
    unnamed = (
        "SELECT o.id FROM decision_outcomes o WHERE NOT EXISTS "
        "(SELECT 1 FROM face_decisions d WHERE d.outcome_id = o.id)"
    )
    if conn.dialect.name == "postgresql":
        unnamed += " FOR UPDATE SKIP LOCKED"
    try:
        with conn.begin_nested():
            deleted = conn.execute(text(f"DELETE FROM decision_outcomes WHERE id IN ({unnamed})"))
            return int(deleted.rowcount or 0)
    except DBAPIError:  # IntegrityError (named meanwhile), a deadlock or a lock timeout
        return 0


def _count(report: AssessReport, counts: Counter[Case]) -> None:
    """Add ``counts`` (faces per case) to ``report``."""
    for case, n in counts.items():
        report.faces += n
        report.by_decision[case.decision.decision] += n
        for key, reason in case.blocks:
            report.blocked[key] += n
            report.reasons.setdefault(key, Counter())[reason] += n


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
            "processor": {
                "location": report.processor_location,
                "commercial": report.processor_commercial,
            },
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

    ``on`` defaults to today (UTC). ``policies`` default to the deployment's one law set,
    :func:`~faceledger.services.decisions.policy.laws_for` (shipped plus ``settings.policy_dir``).
    """
    purpose = settings.purpose_or(purpose)
    check_action(purpose, action)
    on = on or datetime.now(UTC).date()
    progress = progress or NoProgress()
    policies = policies if policies is not None else laws_for(settings)
    processor = Processor(
        location=settings.processor_location, commercial=settings.processor_commercial
    )
    writer = _Writer(ledger)
    with ledger.begin() as conn:
        refresh_statistics(conn, FACES, PHOTOS, if_stale=True)  # a scan may have loaded them
        published = published_schedule(conn)
    assessor = Assessor(
        policies, purpose=purpose, action=action, on=on, processor=processor, index=index,
        published=published, dump=writer.dump,
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
    with progress.task(f"assess {purpose}", total=total, unit="faces") as tick:
        for page in _face_pages(ledger, page_size):
            counts: Counter[Case] = Counter()
            rows = writer.rows(assessor, page, counts)
            with ledger.begin() as conn:
                writer.write(conn, rows)
            _count(report, counts)
            tick(
                len(rows), allowed=report.by_decision["allow"], blocked=report.by_decision["block"]
            )
    report.seconds = time.monotonic() - started
    with ledger.begin() as conn:
        append(conn, _run_event(report, actor))
    with ledger.begin() as conn:
        prune_outcomes(conn)
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
    policies: list[Policy],
    index: BoundaryIndex | None = None,
    conn: Connection | None = None,
    trigger: Mapping[str, Any] | None = None,
    page_size: int = _PAGE,
    disclosure_basis: str | None = None,
) -> AssessReport:
    """Decide ``action`` for ``purpose`` on the faces ``face_ids`` only, and record it.
    ``disclosure_basis``: the scenario's basis for a disclosure (``release create
    --disclosure-basis``; the laws' ``disclosure`` rules read it).

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
    report = AssessReport(purpose, action, on, processor.location, processor.commercial)
    report.policy_versions = {p.id: p.version for p in policies}
    ids = sorted(set(face_ids))
    started = time.monotonic()
    writer = _Writer(ledger)

    def run(conn: Connection) -> None:
        assessor = Assessor(
            policies, purpose=purpose, action=action, on=on, processor=processor, index=index,
            published=published_schedule(conn), dump=writer.dump,
            disclosure_basis=disclosure_basis,
        )  # fmt: skip
        members = holds_members(conn)
        for start in range(0, len(ids), page_size):
            chunk = ids[start : start + page_size]
            page = _read_page(conn, _select_faces().where(FACES.c.id.in_(chunk)), members=members)
            counts: Counter[Case] = Counter()
            writer.write(conn, writer.rows(assessor, page, counts))
            _count(report, counts)
        report.seconds = time.monotonic() - started
        append(conn, _run_event(report, actor, scope="faces", trigger=dict(trigger or {})))
        prune_outcomes(conn)  # a consent change's superseded cases go with it

    if conn is not None:
        run(conn)
    else:
        with ledger.begin() as own:
            run(own)
    return report


def _by_law(report: AssessReport) -> dict[str, int]:
    """Faces blocked per law (a face blocked under two sections of one law counts once)."""
    laws: Counter[str] = Counter()
    for (law, _section), count in report.blocked.items():
        laws[law] = max(laws[law], count)
    return dict(sorted(laws.items()))
