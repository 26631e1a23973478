"""Consent records: add, revoke, list and import them; re-decide the faces they touch.

Example::

    claim = add_claim(ledger, face_id=12, by="subject", evidence=..., actor="cli")
    change = add_consent(ledger, given_by="subject", claim_ids=[claim.id], form="written",
                         purposes=["train-face-recognition"], informed=True,
                         granted=date(2025, 1, 10), signer="A. Person",
                         signed_on=date(2025, 1, 10), evidence_sha256="9f86...")
    change.consent.receipt               # hand this to the person: it names their record
    change.reassessed.by_decision        # {'allow': 1} once a decision existed for the purpose
    revoke_consent(ledger, change.consent.receipt, on=date(2025, 6, 1))
    import_consents(ledger, Path("consents.csv")).rejects   # ['consents.csv:4: form ...']

Consent belongs to the depicted person. A record says who gave it (``given_by``):

- ``subject`` or ``legal-representative`` (with the ``relationship``, e.g. parent), covering
  the claimed faces it names (``claim_ids``: see :mod:`faceledger.services.people.claims`) or a
  subject id. It must show its signer, signing date and the signed evidence's SHA-256: a
  model release the photo owner holds counts only when recorded this way. A ``refusal``
  (form ``none``, revoked the day it is given) needs none of that: the engine reads it as
  an opt-out;
- ``photo-owner``, keyed by ``owner_id``: it covers **only** faces claimed as that owner's
  own face with verified ownership (:mod:`faceledger.services.decisions.coverage`), never anyone else
  in the owner's photos.

``kind`` is ``consent`` or ``sale-authorization`` (naming the ``purchaser``). The law engine
decides whether a consent is valid for a law (form, purpose, informed, dates, who gave it);
this module validates and records them.

Each add, revoke and import appends its audit event (``consent.add``, ``consent.revoke``,
``consent.import``) in the same transaction as the change, and in that same transaction
re-decides the faces it may touch (the owner's photos' faces, the claimed faces, the faces
of the subject) for every (purpose, action) the face already has a decision for, with the
processor that decision was made for, as of ``assess_on`` (default today, UTC): a revocation
blocks at once. Faces never assessed are left to the next ``faceledger assess``. Templates
already extracted under a consent that is revoked are not destroyed here: the retention
sweep does that.

Audit payloads carry the consent and claim ids, never the receipt, the owner or subject id,
the signer, the purchaser or the evidence URI: the audit log cannot be edited, so it holds
no personal identifiers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, select

from faceledger.core.law import Policy
from faceledger.core.receipts import new_receipt
from faceledger.errors import ConsentError, ConsentNotFound, ManifestError, RowError
from faceledger.services.decisions.redecide import Reassessment
from faceledger.services.people.consent_links import (
    check_claims,
    claim_ids_of,
    consent_identity,
    link_claims,
    reassess_consents,
)
from faceledger.sources.consents import read_consent_rows, validate_consent
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import CONSENT_CLAIMS, CONSENTS, chunks

__all__ = ["ConsentError", "Reassessment"]  # re-exported: callers read them here
_INSERT_BATCH = 500  # consent rows per INSERT ... RETURNING (each binds about twenty values)
_KEPT_IN_AUDIT = 50  # rejects quoted in the consent.import event


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
    given_by: str = "subject"
    relationship: str | None = None
    kind: str = "consent"
    purchaser: str | None = None
    signer: str | None = None
    signed_on: date | None = None
    claim_ids: tuple[int, ...] = ()

    @classmethod
    def from_row(cls, row: Row[Any], claim_ids: Iterable[int] = ()) -> ConsentRecord:
        values = {
            name: getattr(row, name) for name in cls.__dataclass_fields__ if name != "claim_ids"
        }
        values["purposes"] = tuple(values["purposes"])
        values["informed"] = bool(values["informed"])
        return cls(**values, claim_ids=tuple(sorted(claim_ids)))

    @property
    def refusal(self) -> bool:
        """A refusal: form ``none`` (the engine reads its revocation as an opt-out)."""
        return self.form == "none"

    def status_on(self, on: date) -> str:
        """``refused``, ``revoked``, ``expired``, ``pending`` (granted later) or ``active``.

        ``active`` exactly when the engine's ``Consent.active_on(on)`` is true (a consent
        granted after ``on`` is ``pending``, never active). Whether an active consent
        satisfies a given law (form, informed, who gave it) is the engine's call.
        """
        if self.refusal:
            return "refused"
        if self.revoked is not None and self.revoked <= on:
            return "revoked"
        if self.expires is not None and self.expires <= on:
            return "expired"
        return "pending" if self.granted > on else "active"

    def to_dict(self, on: date | None = None) -> dict[str, Any]:
        """JSON-ready (the ``consent list --json`` entries; add keys, never rename)."""
        document: dict[str, Any] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        document["purposes"] = list(self.purposes)
        document["claim_ids"] = list(self.claim_ids)
        for name in ("granted", "expires", "revoked", "created_at", "signed_on"):
            value = document[name]
            document[name] = value.isoformat() if value is not None else None
        document["status"] = self.status_on(on or _today())
        return document


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


def _read_one(conn: Connection, consent_id: int) -> ConsentRecord:
    row = conn.execute(select(CONSENTS).where(CONSENTS.c.id == consent_id)).one()
    return ConsentRecord.from_row(row, claim_ids_of(conn, [consent_id]).get(consent_id, ()))


def _keyed_by(record: ConsentRecord) -> str:
    if record.given_by == "photo-owner":
        return "owner"
    return "claims" if record.claim_ids else "subject"


def _event_payload(record: ConsentRecord) -> dict[str, Any]:
    """A consent as the audit log keeps it: ids only (no receipt, owner, subject, signer,
    purchaser or evidence URI)."""
    return {
        "consent_id": record.id, "form": record.form, "purposes": list(record.purposes),
        "informed": record.informed, "granted": record.granted.isoformat(),
        "expires": record.expires.isoformat() if record.expires else None,
        "revoked": record.revoked.isoformat() if record.revoked else None,
        "keyed_by": _keyed_by(record), "given_by": record.given_by,
        "relationship": record.relationship, "kind": record.kind,
        "claim_ids": list(record.claim_ids), "signed": bool(record.signer and record.signed_on),
        "evidence_sha256": record.evidence_sha256, "source": record.source,
    }  # fmt: skip


def add_consent(
    ledger: Ledger,
    *,
    form: str = "written",
    purposes: Iterable[str],
    owner_id: str | None = None,
    subject_id: int | None = None,
    claim_ids: Iterable[int] = (),
    given_by: str | None = None,
    relationship: str | None = None,
    kind: str = "consent",
    purchaser: str | None = None,
    signer: str | None = None,
    signed_on: date | None = None,
    informed: bool = False,
    granted: date | None = None,
    expires: date | None = None,
    revoked: date | None = None,
    refusal: bool = False,
    evidence_uri: str | None = None,
    evidence_sha256: str | None = None,
    source: str = "cli",
    actor: str = "cli",
    policies: list[Policy],
    assess_on: date | None = None,
    require_known_owner: bool = False,
) -> ConsentChange:
    """Record one consent (``granted`` defaults to today) and re-decide the faces it touches.
    ``require_known_owner``: refuse an ``owner_id`` with no photo in the ledger (a typo, or
    photos not ingested yet; ``consent add --owner`` without ``--force``, issue 13 item 9).

    ``given_by`` defaults to ``photo-owner`` with an ``owner_id``, else ``subject``. A
    ``refusal`` records the person's "no" for the purposes (form ``none``, revoked from
    ``granted``): the engine reads it as an opt-out. Raises :class:`ConsentError` when the
    values are invalid (see :func:`validate_consent`; a subject's or representative's consent
    without signer, signing date and evidence hash is refused, saying why) or a named claim
    is unknown or revoked. ``policies`` (the deployment's law set) and ``assess_on``
    (default: today) are what the re-decision uses. Returns the stored record, whose
    ``receipt`` is handed to the person.
    """
    when = granted or _today()
    raw = {
        "owner_id": owner_id, "subject_id": subject_id, "form": "none" if refusal else form,
        "purposes": list(purposes), "informed": False if refusal else informed,
        "granted": when, "expires": expires, "revoked": when if refusal else revoked,
        "evidence_uri": evidence_uri, "evidence_sha256": evidence_sha256, "given_by": given_by,
        "relationship": relationship, "kind": kind, "purchaser": purchaser, "signer": signer,
        "signed_on": signed_on, "claims": list(claim_ids),
    }  # fmt: skip
    try:
        values = validate_consent(raw)
    except RowError as exc:
        raise ConsentError(str(exc)) from None
    on = assess_on or _today()
    with ledger.begin() as conn:
        check_claims(conn, values)
        if values.get("owner_id") is not None and require_known_owner:
            _check_owner_known(conn, str(values["owner_id"]))
        consent_id = _insert(conn, [values], source=source)[0]
        record = _read_one(conn, consent_id)
        append(conn, AuditRecord(name="consent.add", actor=actor, object_type="consent",
                                 object_id=str(consent_id), payload=_event_payload(record)))  # fmt: skip
        reassessed = reassess_consents(
            ledger, conn, [values], on=on, policies=policies, actor=actor,
            trigger={"event": "consent.add", "consent_id": consent_id},
        )  # fmt: skip
    return ConsentChange(record, reassessed)


def _check_owner_known(conn: Connection, owner_id: str) -> None:
    """Refuse a consent for an owner none of whose photos is in the ledger."""
    from faceledger.store.tables import PHOTOS

    if (
        conn.execute(select(PHOTOS.c.id).where(PHOTOS.c.owner_id == owner_id).limit(1)).first()
        is None
    ):
        raise ConsentError(
            f"owner {owner_id!r} has no photo in the ledger (a typo, or photos not ingested yet): "
            "no consent recorded; check the id (faceledger status), or record it anyway with --force"
        )  # fmt: skip


def _insert(conn: Connection, rows: list[dict[str, Any]], *, source: str) -> list[int]:
    now = utcnow()
    stamped = [
        {**{k: v for k, v in row.items() if k != "claims"}, "receipt": new_receipt(),
         "source": source[:512], "created_at": now}
        for row in rows
    ]  # fmt: skip
    ids: list[int] = []
    for batch in chunks(stamped, _INSERT_BATCH):
        result = conn.execute(
            CONSENTS.insert().returning(CONSENTS.c.id, sort_by_parameter_order=True), batch
        )
        ids.extend(int(i) for i in result.scalars())
    for consent_id, row in zip(ids, rows, strict=True):
        link_claims(conn, consent_id, row.get("claims") or ())
    return ids


def find_consent(conn: Connection, consent_id_or_receipt: str | int) -> Row[Any]:
    """The consent row an id or receipt names (:class:`ConsentNotFound` otherwise)."""
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
    policies: list[Policy],
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
        row = find_consent(conn, consent_id_or_receipt)
        if row.revoked is not None and row.revoked <= on:
            return ConsentChange(_read_one(conn, int(row.id)), Reassessment(), changed=False)
        conn.execute(CONSENTS.update().where(CONSENTS.c.id == row.id).values(revoked=on))
        record = _read_one(conn, int(row.id))
        payload = _event_payload(record) | {
            "previously_revoked": row.revoked.isoformat() if row.revoked else None
        }
        append(conn, AuditRecord(name="consent.revoke", actor=actor, object_type="consent",
                                 object_id=str(record.id), payload=payload))  # fmt: skip
        reassessed = reassess_consents(
            ledger, conn, [record.to_dict(assess_on)], on=assess_on, policies=policies,
            actor=actor, trigger={"event": "consent.revoke", "consent_id": record.id},
        )  # fmt: skip
    return ConsentChange(record, reassessed)


def list_consents(
    ledger: Ledger, *, owner_id: str | None = None, subject_id: int | None = None,
    claim_id: int | None = None,
) -> list[ConsentRecord]:  # fmt: skip
    """Recorded consents, oldest first; only those of ``owner_id`` / ``subject_id`` /
    ``claim_id`` if given."""
    statement = select(CONSENTS).order_by(CONSENTS.c.id)
    if owner_id is not None:
        statement = statement.where(CONSENTS.c.owner_id == owner_id.strip())
    if subject_id is not None:
        statement = statement.where(CONSENTS.c.subject_id == subject_id)
    if claim_id is not None:
        statement = statement.where(
            CONSENTS.c.id.in_(
                select(CONSENT_CLAIMS.c.consent_id).where(CONSENT_CLAIMS.c.claim_id == claim_id)
            )
        )
    with ledger.read() as conn:
        rows = conn.execute(statement).all()
        links = claim_ids_of(conn, [int(r.id) for r in rows])
    return [ConsentRecord.from_row(row, links.get(int(row.id), ())) for row in rows]


def import_consents(
    ledger: Ledger,
    path: Path,
    *,
    actor: str = "cli",
    policies: list[Policy],
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
    valid: list[tuple[int, dict[str, Any]]] = []
    for line, raw in read_consent_rows(path, data):
        report.seen += 1
        if isinstance(raw, str):
            report.rejects.append(f"{path.name}:{line}: {raw}")
            continue
        try:
            valid.append((line, validate_consent(raw)))
        except RowError as exc:
            report.rejects.append(f"{path.name}:{line}: {exc}")
    on = assess_on or _today()
    with ledger.begin() as conn:
        checked = []
        for line, values in valid:
            try:
                check_claims(conn, values)
            except ConsentError as exc:
                report.rejects.append(f"{path.name}:{line}: {exc}")
                continue
            checked.append(values)
        known = _known_identities(conn, checked)
        fresh = []
        for values in checked:
            key = consent_identity(values)
            if key in known:
                report.duplicates += 1
                continue
            known.add(key)
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
            report.reassessed = reassess_consents(
                ledger, conn, fresh, on=on, policies=policies,
                actor=actor, trigger={"event": "consent.import", "file": path.name},
            )  # fmt: skip
    return report


def _known_identities(conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Identities of the recorded consents that share an owner, subject or claim with ``rows``."""
    owners = sorted({r["owner_id"] for r in rows if r["owner_id"] is not None})
    subjects = sorted({r["subject_id"] for r in rows if r["subject_id"] is not None})
    claims = sorted({c for r in rows for c in r["claims"]})
    found: dict[int, Any] = {}
    for column, values in ((CONSENTS.c.owner_id, owners), (CONSENTS.c.subject_id, subjects)):
        for chunk in chunks(values):
            for row in conn.execute(select(CONSENTS).where(column.in_(chunk))):
                found[int(row.id)] = row
    for chunk in chunks(claims):
        linked = select(CONSENT_CLAIMS.c.consent_id).where(CONSENT_CLAIMS.c.claim_id.in_(chunk))
        for row in conn.execute(select(CONSENTS).where(CONSENTS.c.id.in_(linked))):
            found[int(row.id)] = row
    links = claim_ids_of(conn, sorted(found))
    return {
        consent_identity({**row._mapping, "claims": links.get(consent_id, [])})
        for consent_id, row in found.items()
    }
