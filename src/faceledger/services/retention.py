"""Retention: destroy the templates that are due, and say so with a certificate.

Example::

    report = sweep(ledger, vault, on=date(2028, 1, 1), dry_run=True)   # what would go
    report = sweep(ledger, vault)                                       # destroy it (cron-safe)

A face's templates are due when the decision they were made under (``templates.decision_id``)

- has a ``destroy_by`` date on or before ``on``: the law engine's earliest destroy-by date
  across the laws that reach the face (BIPA 15(a): purpose fulfilled or 3 years after the
  last interaction, ...), reason ``retention``; or
- now says ``block``: a consent was revoked (a revocation re-decides at once) or the law
  changed, reason ``blocked``: that is how a revocation "schedules destruction"; or
- belongs to a face a request excluded (normally destroyed by the request already),
  reason ``excluded``.

Destroying deletes the template rows, records one certificate per face (``destructions``)
and shreds the data key of every subject left without a template. A face destroyed for
retention is not extracted again. The sweep holds a ledger-wide lock (a second sweep started
by cron while one runs fails at once), is idempotent (what is destroyed is no longer due), and
``dry_run`` only reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from faceledger.services.templates import destroy_templates, shred_keys
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.locks import exclusive
from faceledger.store.schema import Face, FaceDecision, Template
from faceledger.store.vault import KeyVault

TEMPLATES, DECISIONS, FACES = Template.__table__, FaceDecision.__table__, Face.__table__
REASONS = ("retention", "blocked", "excluded")


@dataclass
class SweepReport:
    """What a sweep destroyed (or, with ``dry_run``, would destroy)."""

    on: date
    dry_run: bool
    due: list[dict[str, Any]] = field(default_factory=list)  # one per face
    faces: int = 0
    templates: int = 0
    keys_shredded: int = 0
    certificates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def by_reason(self) -> dict[str, int]:
        return dict(Counter(item["reason"] for item in self.due))

    def to_dict(self) -> dict[str, Any]:
        """The ``retention sweep --json`` document (add keys, never rename)."""
        return {
            "as_of": self.on.isoformat(), "dry_run": self.dry_run, "faces": self.faces,
            "templates": self.templates, "by_reason": self.by_reason,
            "keys_shredded": self.keys_shredded,
            "due": [{**d, "destroy_by": d["destroy_by"].isoformat() if d["destroy_by"] else None}
                    for d in self.due],
            "certificates": self.certificates,
        }  # fmt: skip


def _due(conn: Connection, on: date) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(TEMPLATES.c.face_id, DECISIONS.c.decision, DECISIONS.c.destroy_by,
               FACES.c.excluded_request_id, TEMPLATES.c.id)
        .join(DECISIONS, DECISIONS.c.id == TEMPLATES.c.decision_id)
        .join(FACES, FACES.c.id == TEMPLATES.c.face_id)
        .where(or_(DECISIONS.c.decision == "block", DECISIONS.c.destroy_by <= on,
                   FACES.c.excluded_request_id.is_not(None)))
        .order_by(TEMPLATES.c.face_id)
    ).all()  # fmt: skip
    faces: dict[int, dict[str, Any]] = {}
    for face_id, decision, destroy_by, excluded, _template in rows:
        if excluded is not None:
            reason = "excluded"
        elif destroy_by is not None and destroy_by <= on:
            reason = "retention"
        else:
            reason = "blocked" if decision == "block" else "retention"
        item = faces.setdefault(int(face_id), {"face_id": int(face_id), "reason": reason,
                                               "destroy_by": destroy_by, "templates": 0})  # fmt: skip
        item["templates"] += 1
    return list(faces.values())


def sweep(
    ledger: Ledger,
    vault: KeyVault,
    *,
    on: date | None = None,
    dry_run: bool = False,
    actor: str = "cli",
) -> SweepReport:
    """Destroy every template that is due on ``on`` (default: today, UTC); see module docs."""
    on = on or datetime.now(UTC).date()
    report = SweepReport(on=on, dry_run=dry_run)
    if dry_run:
        with ledger.read() as conn:
            report.due = _due(conn, on)
        report.faces = len(report.due)
        report.templates = sum(d["templates"] for d in report.due)
        return report
    with exclusive(ledger, "retention"), ledger.begin() as conn:
        report.due = _due(conn, on)
        key_refs: list[str] = []
        for reason in REASONS:
            items = [d for d in report.due if d["reason"] == reason]
            if not items:
                continue
            destroyed = destroy_templates(
                conn, face_ids=[d["face_id"] for d in items], reason=reason, actor=actor,
                destroy_by={d["face_id"]: d["destroy_by"] for d in items},
            )  # fmt: skip
            report.faces += destroyed.faces
            report.templates += destroyed.templates
            report.certificates.extend(destroyed.certificates)
            key_refs.extend(destroyed.key_refs)
        report.keys_shredded = len(key_refs)
        append(
            conn,
            AuditRecord(
                name="retention.sweep", actor=actor, object_type="ledger", object_id=None,
                payload={"as_of": on.isoformat(), "faces": report.faces,
                         "templates": report.templates, "by_reason": report.by_reason,
                         "keys_shredded": report.keys_shredded},
            ),  # fmt: skip
        )
        shred_keys(vault, key_refs)  # last, just before the commit (see destroy_templates)
    return report
