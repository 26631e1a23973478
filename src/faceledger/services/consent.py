"""Consent records: add, revoke, list and import them; re-decide the faces they touch.

Example::

    change = add_consent(ledger, owner_id="70000001@N01", form="written",
                         purposes=["train-face-recognition"], informed=True,
                         granted=date(2025, 1, 10))
    change.consent.receipt               # hand this to the person: it names their record
    change.reassessed.by_decision        # {'allow': 3} once a decision existed for the purpose
    revoke_consent(ledger, change.consent.receipt, on=date(2025, 6, 1))
    import_consents(ledger, Path("consents.csv")).rejects   # ['consents.csv:4: form ...']

A consent is keyed by the photo owner id it was given under (a Flickr NSID) or by a subject
id (no subjects exist yet: such a consent is recorded and listed but touches no face until
faces are clustered). :mod:`faceledger.services.assess` reads consents per page of faces and
the law engine decides whether one is valid (form, purpose, informed, dates); this module
only validates and records them.

Each add, revoke and import appends its audit event (``consent.add``, ``consent.revoke``,
``consent.import``) in the same transaction as the change, and in that same transaction
re-decides every face of the affected owners' photos for every (purpose, action) the face
already has a decision for, with the processor that decision was made for, as of
``assess_on`` (default today, UTC): a revocation blocks at once. Faces never assessed are
left to the next ``faceledger assess``. Templates already extracted under a consent that is
revoked are not destroyed here: destruction scheduling belongs to the retention issue.

Audit payloads carry the consent id, never the receipt, the owner or subject id or the
evidence URI: the audit log cannot be edited, so it holds no personal identifiers.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, Table, select

from faceledger.core.law import Policy, Processor, load_policies
from faceledger.errors import FaceledgerError, ManifestError
from faceledger.services.assess import assess_face_ids
from faceledger.sources.consents import FIELDS, RowError, read_consent_rows, validate_consent
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.schema import Consent, Face, FaceDecision, Photo

CONSENTS: Table = Consent.__table__  # type: ignore[assignment]
FACES, PHOTOS, DECISIONS = Face.__table__, Photo.__table__, FaceDecision.__table__
_CHUNK = 500  # ids per IN (...) list
_KEPT_IN_AUDIT = 50  # rejects quoted in the consent.import event


class ConsentError(FaceledgerError):
    """A consent given on the command line or through the API is invalid (exit code 2)."""


class ConsentNotFound(FaceledgerError):
    """No consent has this id or receipt (exit code 2)."""


@dataclass(frozen=True)
class ConsentRecord:
    """One recorded consent, as :func:`list_consents` and the other functions return it."""

    id: int
    receipt: str
    owner_id: str | None
    subject_id: int | None
    form: str
    purposes: tuple[str, ...]
    informed: bool
    granted: date
    expires: date | None
    revoked: date | None
    evidence_uri: str | None
    evidence_sha256: str | None
    source: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> ConsentRecord:
        values = {name: getattr(row, name) for name in cls.__dataclass_fields__}
        values["purposes"] = tuple(values["purposes"])
        values["informed"] = bool(values["informed"])
        return cls(**values)

    def status_on(self, on: date) -> str:
        """``revoked``, ``expired``, ``pending`` (granted later) or ``active`` on ``on``.

        Whether an active consent satisfies a given law (form, informed) is the engine's call.
        """
        if self.revoked is not None and self.revoked <= on:
            return "revoked"
        if self.expires is not None and self.expires <= on:
            return "expired"
        return "pending" if self.granted > on else "active"

    def to_dict(self, on: date | None = None) -> dict[str, Any]:
        """JSON-ready (the ``consent list --json`` entries; add keys, never rename)."""
        document: dict[str, Any] = {
            name: getattr(self, name) for name in self.__dataclass_fields__
        }
        document["purposes"] = list(self.purposes)
        for name in ("granted", "expires", "revoked", "created_at"):
            value = document[name]
            document[name] = value.isoformat() if value is not None else None
        document["status"] = self.status_on(on or _today())
        return document


@dataclass
class Reassessment:
    """The faces a consent change re-decided, and how they came out."""

    on: date | None = None
    faces: int = 0
    by_decision: Counter[str] = field(default_factory=Counter)
    purposes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.on.isoformat() if self.on else None,
            "faces": self.faces,
            "allowed": self.by_decision.get("allow", 0),
            "blocked": self.by_decision.get("block", 0),
            "purposes": sorted(self.purposes),
        }


@dataclass
class ConsentChange:
    """What :func:`add_consent` or :func:`revoke_consent` did. ``changed`` is False for a
    revocation that was already in effect from an earlier or equal date (nothing written)."""

    consent: ConsentRecord
    reassessed: Reassessment
    changed: bool = True


@dataclass
class ImportReport:
    """What :func:`import_consents` read, added, skipped and re-decided."""

    path: str
    seen: int = 0
    added: int = 0
    duplicates: int = 0
    rejects: list[str] = field(default_factory=list)
    consent_ids: list[int] = field(default_factory=list)
    reassessed: Reassessment = field(default_factory=Reassessment)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``consent import --json`` document; add keys, never rename)."""
        return {
            "path": self.path, "seen": self.seen, "added": self.added,
            "duplicates": self.duplicates, "rejected": self.rejected, "rejects": self.rejects,
            "consent_ids": self.consent_ids, "reassessed": self.reassessed.to_dict(),
        }  # fmt: skip


def _today() -> date:
    return datetime.now(UTC).date()


def _identity(values: Any) -> tuple[Any, ...]:
    """What makes two consent records the same record (an import run twice adds nothing)."""
    return tuple(
        tuple(values[name]) if name == "purposes" else values[name] for name in FIELDS
    )


# --- re-deciding the faces a change touches ------------------------------------------------


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _reassess(
    ledger: Ledger,
    conn: Connection,
    owner_ids: Iterable[str | None],
    *,
    on: date,
    policies: list[Policy] | None,
    actor: str,
    trigger: dict[str, Any],
) -> Reassessment:
    """Re-decide, in ``conn``'s transaction, every decided face of these owners' photos.

    One :func:`assess_face_ids` call per (purpose, action, processor) the recorded decisions
    were made for. Subject-keyed consents touch no face until faces carry a subject id.
    """
    result = Reassessment(on=on)
    owners = sorted({o for o in owner_ids if o})
    groups: dict[tuple[str, str, str | None, bool], set[int]] = {}
    for chunk in _chunks(owners):
        rows = conn.execute(
            select(DECISIONS.c.face_id, DECISIONS.c.purpose, DECISIONS.c.action,
                   DECISIONS.c.scenario)
            .join(FACES, FACES.c.id == DECISIONS.c.face_id)
            .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(PHOTOS.c.owner_id.in_(chunk))
        )  # fmt: skip
        for face_id, purpose, action, scenario in rows:
            processor = (scenario or {}).get("processor") or {}
            key = (purpose, action, processor.get("location"), bool(processor.get("commercial", True)))
            groups.setdefault(key, set()).add(int(face_id))
    if not groups:
        return result
    policies = policies if policies is not None else load_policies()
    for (purpose, action, location, commercial), face_ids in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "", item[0][3])
    ):
        report = assess_face_ids(
            ledger, face_ids, purpose=purpose, action=action, on=on, actor=actor,
            processor=Processor(location=location, commercial=commercial),
            policies=policies, conn=conn, trigger=trigger,
        )  # fmt: skip
        result.faces += report.faces
        result.by_decision.update(report.by_decision)
        if purpose not in result.purposes:
            result.purposes.append(purpose)
    return result


# --- add, revoke, list, import ------------------------------------------------------------


def _read_one(conn: Connection, consent_id: int) -> ConsentRecord:
    return ConsentRecord.from_row(
        conn.execute(select(CONSENTS).where(CONSENTS.c.id == consent_id)).one()
    )


def _event_payload(record: ConsentRecord) -> dict[str, Any]:
    """A consent as the audit log keeps it: no receipt, owner, subject or evidence URI."""
    return {
        "consent_id": record.id, "form": record.form, "purposes": list(record.purposes),
        "informed": record.informed, "granted": record.granted.isoformat(),
        "expires": record.expires.isoformat() if record.expires else None,
        "revoked": record.revoked.isoformat() if record.revoked else None,
        "keyed_by": "owner" if record.owner_id is not None else "subject",
        "evidence_sha256": record.evidence_sha256, "source": record.source,
    }  # fmt: skip


def add_consent(
    ledger: Ledger,
    *,
    form: str,
    purposes: Iterable[str],
    owner_id: str | None = None,
    subject_id: int | None = None,
    informed: bool = False,
    granted: date | None = None,
    expires: date | None = None,
    revoked: date | None = None,
    evidence_uri: str | None = None,
    evidence_sha256: str | None = None,
    source: str = "cli",
    actor: str = "cli",
    policies: list[Policy] | None = None,
    assess_on: date | None = None,
) -> ConsentChange:
    """Record one consent (``granted`` defaults to today) and re-decide the faces it touches.

    Raises :class:`ConsentError` when the values are invalid (see :func:`validate_consent`).
    ``policies`` (default: the shipped laws) and ``assess_on`` (default: today) are what the
    re-decision uses. Returns the stored record, whose ``receipt`` is handed to the person.
    """
    raw = {
        "owner_id": owner_id, "subject_id": subject_id, "form": form,
        "purposes": list(purposes), "informed": informed, "granted": granted or _today(),
        "expires": expires, "revoked": revoked, "evidence_uri": evidence_uri,
        "evidence_sha256": evidence_sha256,
    }  # fmt: skip
    try:
        values = validate_consent(raw)
    except RowError as exc:
        raise ConsentError(str(exc)) from None
    on = assess_on or _today()
    with ledger.begin() as conn:
        consent_id = _insert(conn, [values], source=source)[0]
        record = _read_one(conn, consent_id)
        append(conn, AuditRecord(name="consent.add", actor=actor, object_type="consent",
                                 object_id=str(consent_id), payload=_event_payload(record)))  # fmt: skip
        reassessed = _reassess(
            ledger, conn, [record.owner_id], on=on, policies=policies, actor=actor,
            trigger={"event": "consent.add", "consent_id": consent_id},
        )  # fmt: skip
    return ConsentChange(record, reassessed)


def _insert(conn: Connection, rows: list[dict[str, Any]], *, source: str) -> list[int]:
    now = utcnow()
    stamped = [
        {**row, "receipt": secrets.token_urlsafe(24), "source": source[:512], "created_at": now}
        for row in rows
    ]
    ids: list[int] = []
    for start in range(0, len(stamped), _CHUNK):
        result = conn.execute(
            CONSENTS.insert().returning(CONSENTS.c.id, sort_by_parameter_order=True),
            stamped[start : start + _CHUNK],
        )
        ids.extend(int(i) for i in result.scalars())
    return ids


def _find(conn: Connection, consent_id_or_receipt: str | int) -> Row[Any]:
    key = str(consent_id_or_receipt).strip()
    row = conn.execute(select(CONSENTS).where(CONSENTS.c.receipt == key)).first()
    if row is None and key.isdigit():
        row = conn.execute(select(CONSENTS).where(CONSENTS.c.id == int(key))).first()
    if row is None:
        raise ConsentNotFound(
            f"no consent with id or receipt {key!r} (see faceledger consent list)"
        )
    return row


def revoke_consent(
    ledger: Ledger,
    consent_id_or_receipt: str | int,
    *,
    on: date | None = None,
    actor: str = "cli",
    policies: list[Policy] | None = None,
    assess_on: date | None = None,
) -> ConsentChange:
    """Revoke a consent from ``on`` (default today) and re-decide the faces it touched.

    The earliest revocation date wins: revoking again from a later date changes nothing
    (``changed`` is False, no event). A revocation dated after ``assess_on`` (default today)
    is recorded now but only blocks from the next ``assess`` on or after its date.
    Raises :class:`ConsentNotFound` for an unknown id or receipt.
    """
    on = on or _today()
    assess_on = assess_on or _today()
    with ledger.begin() as conn:
        row = _find(conn, consent_id_or_receipt)
        if row.revoked is not None and row.revoked <= on:
            return ConsentChange(ConsentRecord.from_row(row), Reassessment(), changed=False)
        conn.execute(CONSENTS.update().where(CONSENTS.c.id == row.id).values(revoked=on))
        record = _read_one(conn, int(row.id))
        payload = _event_payload(record) | {
            "previously_revoked": row.revoked.isoformat() if row.revoked else None
        }
        append(conn, AuditRecord(name="consent.revoke", actor=actor, object_type="consent",
                                 object_id=str(record.id), payload=payload))  # fmt: skip
        reassessed = _reassess(
            ledger, conn, [record.owner_id], on=assess_on, policies=policies, actor=actor,
            trigger={"event": "consent.revoke", "consent_id": record.id},
        )  # fmt: skip
    return ConsentChange(record, reassessed)


def list_consents(
    ledger: Ledger, *, owner_id: str | None = None, subject_id: int | None = None
) -> list[ConsentRecord]:
    """Recorded consents, oldest first; only those of ``owner_id`` / ``subject_id`` if given."""
    statement = select(CONSENTS).order_by(CONSENTS.c.id)
    if owner_id is not None:
        statement = statement.where(CONSENTS.c.owner_id == owner_id.strip())
    if subject_id is not None:
        statement = statement.where(CONSENTS.c.subject_id == subject_id)
    with ledger.read() as conn:
        return [ConsentRecord.from_row(row) for row in conn.execute(statement)]


def import_consents(
    ledger: Ledger,
    path: Path,
    *,
    actor: str = "cli",
    policies: list[Policy] | None = None,
    assess_on: date | None = None,
    data: bytes | None = None,
) -> ImportReport:
    """Add the consents in a CSV or JSON Lines file; re-decide the faces they touch.

    ``data``, when given, is the file's content (an upload held in memory); ``path`` then
    only names it (its suffix picks the format).

    Columns: :data:`FIELDS` (purposes ``;``-separated in CSV, a list in JSON Lines). A bad row
    is reported as ``file:line: reason``, skipped and counted; the import never stops on one.
    A row identical to a recorded consent (every column) is a duplicate and is skipped, so
    importing a file twice adds nothing. Raises :class:`~faceledger.errors.ManifestError`
    only when the file cannot be read at all (missing, not UTF-8, no required columns).
    """
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    report = ImportReport(path=str(path))
    valid: list[dict[str, Any]] = []
    for line, raw in read_consent_rows(path, data):
        report.seen += 1
        if isinstance(raw, str):
            report.rejects.append(f"{path.name}:{line}: {raw}")
            continue
        try:
            valid.append(validate_consent(raw))
        except RowError as exc:
            report.rejects.append(f"{path.name}:{line}: {exc}")
    on = assess_on or _today()
    with ledger.begin() as conn:
        known = _known_identities(conn, valid)
        fresh = []
        for values in valid:
            identity = _identity(values)
            if identity in known:
                report.duplicates += 1
                continue
            known.add(identity)
            fresh.append(values)
        report.consent_ids = _insert(conn, fresh, source=path.name)
        report.added = len(report.consent_ids)
        append(conn, AuditRecord(
            name="consent.import", actor=actor, object_type="consent-import",
            object_id=path.name[:128],
            payload={
                "file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
                "seen": report.seen, "added": report.added, "duplicates": report.duplicates,
                "rejected": report.rejected, "rejects": report.rejects[:_KEPT_IN_AUDIT],
                "consent_ids": report.consent_ids,
            },
        ))  # fmt: skip
        if fresh:
            report.reassessed = _reassess(
                ledger, conn, (v["owner_id"] for v in fresh), on=on, policies=policies,
                actor=actor, trigger={"event": "consent.import", "file": path.name},
            )  # fmt: skip
    return report


def _known_identities(conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Identities of the recorded consents that share an owner or subject with ``rows``."""
    known: set[tuple[Any, ...]] = set()
    owners = sorted({r["owner_id"] for r in rows if r["owner_id"] is not None})
    subjects = sorted({r["subject_id"] for r in rows if r["subject_id"] is not None})
    columns = [CONSENTS.c[name] for name in FIELDS]
    for key, values in (("owner_id", owners), ("subject_id", subjects)):
        for chunk in _chunks(values):
            for row in conn.execute(select(*columns).where(CONSENTS.c[key].in_(chunk))):
                known.add(_identity(row._mapping))
    return known
