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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text

from faceledger.store.schema import AuditEvent

AUDIT = AuditEvent.__table__

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
    "extract.run": "An extraction run ended: faces extracted, faces refused by reason.",
    "template.write": "Templates of one face were stored, encrypted: kinds, model, subject, and "
    "the decision that allowed them.",
    "template.read": "Stored templates were decrypted: how many, of which model, and why.",
    "template.transient": "A template was computed for one query (a selfie) and discarded "
    "without being stored.",
    "match.search": "Stored templates were searched with a query template: purpose, threshold, "
    "how many matches were returned.",
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
    from faceledger.store.ledger import utcnow

    if record.name not in EVENT_NAMES:
        raise ValueError(f"unknown audit event name {record.name!r}")
    if conn.dialect.name == "postgresql":  # one chain: serialise appenders
        conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))
    when = at or utcnow()
    prev = conn.execute(select(AUDIT.c.hash).order_by(AUDIT.c.id.desc()).limit(1)).scalar()
    digest = _digest(prev, when, record)
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


def verify_chain(conn: Connection) -> int | None:
    """The id of the first row whose hash does not verify, or ``None`` if the chain holds."""
    prev: str | None = None
    for row in conn.execute(select(AUDIT).order_by(AUDIT.c.id)).mappings():
        record = AuditRecord(
            name=row["name"],
            actor=row["actor"],
            payload=row["payload"],
            object_type=row["object_type"],
            object_id=row["object_id"],
        )
        at = row["at"]
        if row["prev_hash"] != prev or _digest(prev, at, record) != row["hash"]:
            return int(row["id"])
        prev = row["hash"]
    return None
