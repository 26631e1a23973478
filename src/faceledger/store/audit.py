"""The audit log: small event records appended in the caller's transaction, hash-chained.

Example::

    with ledger.begin() as conn:
        ...the action...
        append(conn, AuditRecord(name="scan.finished", actor="cli", payload={"faces": 12}))

Each row's ``hash`` is SHA-256 over the previous row's hash and this row's canonical JSON,
so editing or removing any row breaks every later hash (:func:`verify_chain` finds where).
The database refuses UPDATE and DELETE on the table (see the first migration).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text

from faceledger.store.tables import AUDIT

# Stable event names. Later features add names here; never rename one.
EVENT_NAMES = {
    "ingest.source": "A source was ingested: rows seen, added and rejected.",
    "scan.started": "A scan run began: detector, threshold, workers.",
    "scan.finished": "A scan run ended: photos scanned, failed, faces found.",
    "assess.run": "Faces were assessed for a purpose: faces by decision, faces blocked per "
    "law, the processor and the policy versions used.",
    "consent.add": "A consent was recorded: its id, form, purposes, informed, dates, evidence "
    "hash and source (never the receipt, owner, subject or evidence URI).",
    "consent.revoke": "A consent was revoked: its id, the revocation date and the date it "
    "replaced; the faces it touched are re-assessed in the same transaction.",
    "consent.import": "A consent file was imported: file name and sha256, rows seen, added, "
    "duplicate and rejected (with the first reasons) and the new consent ids.",
    "claim.add": "A person claimed a detected face as their own or their child's (no template "
    "is computed): claim id, face id, by, relationship, whether it is the photo owner's own "
    "face, the evidence kind and whether it was verified (never the receipt or the evidence "
    "detail); the face is re-assessed in the same transaction.",
    "claim.revoke": "A claim was withdrawn: claim id and face id; the face is re-assessed in the "
    "same transaction (consents that rested on the claim no longer cover it).",
    "extract.run": "An extraction run ended: faces extracted, faces refused by reason.",
    "template.write": "Templates of one face were stored, encrypted: kinds, model, subject, and "
    "the decision that allowed them.",
    "template.read": "Stored templates were decrypted: how many, of which model, and why.",
    "template.transient": "A template was computed for one query (a selfie) and discarded "
    "without being stored.",
    "match.search": "Stored templates were searched with a query template: purpose, threshold, "
    "how many matches were returned.",
    "release.create": "A release version was cut: release, version, parent, purpose, photo and "
    "face counts, whether features were included, the manifest sha256 and the reason.",
    "consumer.add": "A release version was disclosed to a registered consumer: consumer id, "
    "release, version and face count (never the contact).",
    "consumer.notified": "A consumer was told of the notices it was owed (a disclosure step): "
    "consumer id, how many notices, and the request ids they came from (never the contact).",
    "request.received": "A request from a person was filed: request id, kind, key type, law, "
    "deadline and how many faces a selfie matched (never the owner, URL, tag or receipt).",
    "request.verified": "A request's requester was verified: request id.",
    "request.executed": "A request was executed: request id and counts (photos and faces "
    "excluded, templates destroyed, keys shredded, release versions cut, notices due).",
    "request.confirmed": "The requester was told a request is complete: request id.",
    "request.rejected": "A request was rejected: request id and the reason given.",
    "request.extended": "A request's deadline was extended (GDPR Art. 12(3)): request id, law, "
    "the previous and the new deadline (the reason is kept on the request, not here).",
    "request.face": "A reviewer confirmed or rejected one face a selfie request matched: "
    "request id, face id, the decision (never the reason, the contact or the receipt).",
    "request.contact": "A reviewer read a request's encrypted contact: request id (never the "
    "contact).",
    "match.transient": "Templates of candidate faces were computed in memory for one opt-out "
    "search, where the law allows matching (match-optout), and discarded: counts only.",
    "template.destroy": "Templates of faces were destroyed: why (erasure, optout, retention, "
    "revoked), faces, templates, and the destruction certificates' ids and hashes.",
    "key.shred": "Subjects' data keys were shredded (crypto-shredding): subject ids and why.",
    "retention.sweep": "A retention sweep ran: the as-of date, faces and templates destroyed "
    "by reason, keys shredded.",
    "user.add": "A console user was added (web portal): user id, name and role; a token was "
    "issued (never the token).",
    "user.login": "A console user logged in or was refused: the named user's id (if any), "
    "outcome, and the session's expiry (never what was typed, the secret or the session id); "
    "refusals past the portal's anonymous audit budget as one event per hour with a count.",
    "user.logout": "A console user's session ended: user id.",
    "user.revoke": "A console user was disabled: user id, tokens revoked, sessions ended.",
    "user.rotate": "A console user's token was replaced: user id, the new token's id, older "
    "tokens revoked and sessions ended (never a token).",
    "template.quarantine": "A stored template failed its integrity check (AES-GCM) and was set "
    "aside: template id and kind; it is never read again and the search went on without it.",
    "owner.verify": "A photo owner proved control of their account on the portal (the "
    "verification hook): outcome and verifier (never the owner id or the code).",
    "fetch.run": "A fetch run ended: photos fetched, reserved (by opt-out signal), failed (by "
    "reason), skipped, bytes stored and recovered after a kill (never a URL).",
    "optouts.import": "An opt-out list was imported: file name and sha256, entries by kind, "
    "entries added, and how many photos it reserved (never a URL, domain or owner id).",
    "datasets.import": "A published face dataset's membership list was imported (datasets "
    "import): dataset id and name, file names and sha256, entries seen, added and rejected, and "
    "the annotation kinds it attached (never an owner id, photo id or label value).",
    "evaluate.run": "The models were evaluated on an owner's labelled file (faceledger evaluate): "
    "kind, counts of images, faces or pairs and of outcomes (never a path, label or measure).",
    "policy.publish": "The public retention-and-destruction policy (BIPA 15(a)) was published: "
    "the publication date, the policy versions it was generated from and the document's sha256.",
    "index.rebuild": "The template index was recomputed from the templates (faceledger index "
    "rebuild): entries, and how many were missing or stale before; every process rebuilds its copy.",
}


@dataclass(frozen=True)
class AuditRecord:
    """One audited action. ``name`` is one of :data:`EVENT_NAMES`."""

    name: str
    actor: str
    payload: dict[str, Any] = field(default_factory=dict)
    object_type: str | None = None
    object_id: str | None = None


def _stamp(at: datetime) -> str:
    """A timestamp as UTC text, the same whether the backend kept its zone or not."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _digest(prev_hash: str | None, at: datetime, record: AuditRecord) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "at": _stamp(at),
            "actor": record.actor,
            "name": record.name,
            "object_type": record.object_type,
            "object_id": record.object_id,
            "payload": record.payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append(conn: Connection, record: AuditRecord, *, at: datetime | None = None) -> str:
    """Append ``record`` inside the caller's transaction; returns its hash."""
    from faceledger.store.ledger import APPENDED, utcnow

    if record.name not in EVENT_NAMES:
        raise ValueError(f"unknown audit event name {record.name!r}")
    if conn.dialect.name == "postgresql":  # one chain: serialise appenders
        conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))
    when = at or utcnow()
    prev = conn.execute(select(AUDIT.c.hash).order_by(AUDIT.c.id.desc()).limit(1)).scalar()
    digest = _digest(prev, when, record)
    conn.info[APPENDED] = conn.info.get(APPENDED, 0) + 1  # Ledger.begin counts it after commit
    conn.execute(
        AUDIT.insert().values(
            at=when,
            actor=record.actor,
            name=record.name,
            object_type=record.object_type,
            object_id=record.object_id,
            payload=record.payload,
            prev_hash=prev,
            hash=digest,
        )
    )
    return digest


@dataclass(frozen=True)
class ChainCheck:
    """The result of walking the chain in id order."""

    rows: int  # rows checked (up to and including the first bad one)
    head: str | None  # hash of the last good row
    last_id: int | None  # id of the last good row
    bad_position: int | None = None  # 1-based position of the first row that fails
    bad_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_position is None


def check_rows(
    rows: Iterable[Mapping[str, Any]] | Any,
    *,
    prev: str | None = None,
    position: int = 0,
    last_id: int | None = None,
) -> ChainCheck:
    """Walk audit rows in order and find the first that breaks the chain (pure).

    A row whose content no longer matches its own hash was *edited*. A row whose
    ``prev_hash`` is not the previous row's hash means rows before it were *deleted*,
    *inserted* or *reordered*. Truncating the newest rows leaves a valid shorter chain: only
    a checkpoint kept elsewhere detects that (see ``faceledger audit checkpoint``).

    ``prev``, ``position`` and ``last_id`` resume a walk after a trusted checkpoint (its head
    hash, row count and last id), so only the rows after it are read.
    """
    for row in rows:
        position += 1
        record = AuditRecord(
            name=row["name"], actor=row["actor"], payload=row["payload"],
            object_type=row["object_type"], object_id=row["object_id"],
        )  # fmt: skip
        at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])
        if row["prev_hash"] != prev:
            problem = (
                "the link to the previous row is broken (its prev_hash is not the previous "
                "row's hash): a row was deleted, inserted or reordered just before this one"
            )
        elif _digest(prev, at, record) != row["hash"]:
            problem = "the row was edited: its content no longer matches its hash"
        else:
            prev, last_id = row["hash"], int(row["id"])
            continue
        return ChainCheck(position, prev, last_id, position, int(row["id"]), problem)
    return ChainCheck(position, prev, last_id)


def check_chain(
    conn: Connection, *, after_id: int | None = None, prev: str | None = None, position: int = 0
) -> ChainCheck:
    """:func:`check_rows` over the ledger's audit table, streamed in id order (only the rows
    after ``after_id``, chained from ``prev``, when resuming from a checkpoint)."""
    query = select(AUDIT).order_by(AUDIT.c.id)
    if after_id is not None:
        query = query.where(AUDIT.c.id > after_id)
    rows = conn.execution_options(yield_per=5000).execute(query)
    try:
        return check_rows(rows.mappings(), prev=prev, position=position, last_id=after_id)
    finally:
        rows.close()  # it may stop at the first bad row: release the server-side cursor


def verify_chain(conn: Connection) -> int | None:
    """The id of the first row whose hash does not verify, or ``None`` if the chain holds."""
    return check_chain(conn).bad_id
