"""Retention: destroy the templates that are due, and say so with a certificate.

Example::

    report = sweep(ledger, vault, on=date(2028, 1, 1), dry_run=True)   # what would go
    report = sweep(ledger, vault)                                       # destroy it (cron-safe)

A face's templates are destroyed for one of three causes only, each named on its
destruction certificate (``destructions``):

- ``retention``: the decision they were made under (``templates.decision_id``) has a
  ``destroy_by`` date on or before ``on`` (the law engine's earliest destroy-by date across
  the laws that reach the face: BIPA 15(a), purpose fulfilled or 3 years after the last
  interaction, ...); the certificate carries that date;
- ``revoked``: the decision now says ``block`` *and* a consent that covered the face (its
  photo's owner, its subject or its claim) for the template's purpose was revoked on or
  before ``on``; the certificate carries the consent id and the revocation date;
- ``excluded``: an executed request excluded the face or its photo (normally destroyed by the
  request already); the certificate carries the request id.

The sweep also forgets who asked: a request closed (confirmed or rejected) ``contact_days``
or more days before ``on`` has its requester's contact cleared and the contact's own data
key shredded (setting ``request_contact_days``); the request, its receipt and its audit
trail stay. ``contact_days=None`` keeps every contact.

A decision that says ``block`` for any other reason (an ``assess`` run with a wrong
processing place, a broken policy override) destroys nothing: those faces are reported as
``held`` so that the cause can be fixed. A sweep that would destroy far more than the
previous one (more than ``confirm_faces`` faces and ``confirm_factor`` times the previous
sweep) stops with :class:`SweepNeedsConfirm`, which says why, unless ``confirm`` is given.

Destroying deletes the template rows, records one certificate per face and shreds the data
key of every subject left without a template. A face destroyed for retention is not extracted
again. The sweep holds a ledger-wide lock (a second sweep started by cron while one runs
fails at once), is idempotent (what is destroyed is no longer due), and ``dry_run`` only
reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from faceledger.errors import SweepNeedsConfirm
from faceledger.services.biometrics.templates import destroy_templates, shred_keys
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.locks import exclusive
from faceledger.store.tables import (
    AUDIT,
    CLAIMS,
    CONSENT_CLAIMS,
    CONSENTS,
    DECISIONS,
    DESTRUCTIONS,
    FACES,
    PHOTOS,
    REQUESTS,
    TEMPLATES,
    chunks,
)
from faceledger.store.vault import KeyVault

_CHUNK = 2_000

REASONS = ("retention", "revoked", "excluded")


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
    held: int = 0  # faces blocked now without a due clock, a revocation or a request: kept
    previous: int | None = None  # faces the previous (non-dry) sweep destroyed
    contacts: list[int] = field(default_factory=list)  # requests whose contact is (to be) shredded

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
            "certificates": self.certificates, "held": self.held,
            "previous_sweep_faces": self.previous, "contact_requests": self.contacts,
        }  # fmt: skip


def _revocations(conn: Connection, faces: dict[int, Any], on: date) -> dict[int, tuple[int, date]]:
    """Blocked faces -> (consent id, revocation date) of a revoked consent that covered them
    for their template's purpose: by the photo's owner, the subject, or a claim of the face."""
    if not faces:
        return {}
    ids = sorted(faces)
    owners = {f.owner_id for f in faces.values() if f.owner_id}
    subjects = {int(f.subject_id) for f in faces.values() if f.subject_id is not None}
    claimed: dict[int, set[int]] = {}  # consent id -> faces it covers by claim
    for chunk in chunks(ids, _CHUNK):
        for consent_id, face_id in conn.execute(
            select(CONSENT_CLAIMS.c.consent_id, CLAIMS.c.face_id)
            .join(CLAIMS, CLAIMS.c.id == CONSENT_CLAIMS.c.claim_id)
            .where(CLAIMS.c.face_id.in_(chunk))
        ):
            claimed.setdefault(int(consent_id), set()).add(int(face_id))
    covers = CONSENTS.c.owner_id.in_(sorted(owners)) | CONSENTS.c.subject_id.in_(sorted(subjects))
    if claimed:
        covers = covers | CONSENTS.c.id.in_(sorted(claimed))
    found: dict[int, tuple[int, date]] = {}
    for row in conn.execute(
        select(CONSENTS.c.id, CONSENTS.c.owner_id, CONSENTS.c.subject_id, CONSENTS.c.purposes,
               CONSENTS.c.revoked)
        .where(covers, CONSENTS.c.revoked.is_not(None), CONSENTS.c.revoked <= on)
        .order_by(CONSENTS.c.revoked, CONSENTS.c.id)
    ):  # fmt: skip
        for face_id, face in faces.items():
            if face_id in found or face.purpose not in (row.purposes or []):
                continue
            if (
                (row.owner_id and row.owner_id == face.owner_id)
                or (row.subject_id is not None and face.subject_id is not None
                    and int(row.subject_id) == int(face.subject_id))
                or face_id in claimed.get(int(row.id), ())
            ):  # fmt: skip
                found[face_id] = (int(row.id), row.revoked)
    return found


def _due(
    conn: Connection, on: date, limit_days: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """(faces due, one item each with reason and what names it; faces held). A template no
    law gives a deadline is due ``limit_days`` after it was stored (the organisation's limit)."""
    excluded = func.coalesce(FACES.c.excluded_request_id, PHOTOS.c.excluded_request_id)
    due_now = [DECISIONS.c.decision == "block", DECISIONS.c.destroy_by <= on, excluded.is_not(None)]
    if limit_days is not None:  # which of these are past the limit is decided below, per day
        due_now.append(DECISIONS.c.destroy_by.is_(None))
    rows = conn.execute(
        select(TEMPLATES.c.face_id, TEMPLATES.c.subject_id, TEMPLATES.c.purpose,
               DECISIONS.c.decision, DECISIONS.c.destroy_by, excluded.label("request_id"),
               PHOTOS.c.owner_id, TEMPLATES.c.created_at)
        .join(DECISIONS, DECISIONS.c.id == TEMPLATES.c.decision_id)
        .join(FACES, FACES.c.id == TEMPLATES.c.face_id)
        .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
        .where(or_(*due_now))
        .order_by(TEMPLATES.c.face_id)
    ).all()  # fmt: skip
    faces: dict[int, dict[str, Any]] = {}
    blocked: dict[int, Any] = {}
    for row in rows:
        if (
            limit_days is not None and row.decision != "block" and row.request_id is None
            and row.destroy_by is None
            and _day(row.created_at) + timedelta(days=limit_days) > on
        ):  # fmt: skip
            continue  # within the organisation's limit: held, not due
        face_id = int(row.face_id)
        item = faces.get(face_id)
        if item is None:
            item = {"face_id": face_id, "reason": None, "destroy_by": None, "templates": 0,
                    "request_id": None, "consent_id": None}  # fmt: skip
            faces[face_id] = item
        item["templates"] += 1
        if row.request_id is not None:
            item.update(reason="excluded", request_id=int(row.request_id))
        elif row.destroy_by is not None and row.destroy_by <= on and item["reason"] != "excluded":
            item.update(reason="retention", destroy_by=row.destroy_by)
        elif (
            row.destroy_by is None and limit_days is not None and row.decision != "block"
            and item["reason"] is None
            and _day(row.created_at) + timedelta(days=limit_days) <= on
        ):  # fmt: skip
            item.update(
                reason="retention", destroy_by=_day(row.created_at) + timedelta(days=limit_days)
            )
        elif row.decision == "block" and item["reason"] is None:
            blocked[face_id] = row
    for face_id, (consent_id, revoked) in _revocations(conn, blocked, on).items():
        if faces[face_id]["reason"] is None:
            faces[face_id].update(reason="revoked", consent_id=consent_id, destroy_by=revoked)
    due = [item for item in faces.values() if item["reason"] is not None]
    return due, len(faces) - len(due)


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _previous_sweep(conn: Connection) -> int | None:
    """Faces the newest recorded (non-dry) sweep destroyed, or None before the first one."""
    payload = conn.execute(
        select(AUDIT.c.payload)
        .where(AUDIT.c.name == "retention.sweep")
        .order_by(AUDIT.c.id.desc())
        .limit(1)
    ).scalar()
    return None if payload is None else int(payload.get("faces", 0))


def _check_scale(report: SweepReport, confirm_faces: int, confirm_factor: float) -> None:
    previous = report.previous or 0
    would = len(report.due)
    if would <= confirm_faces or would <= confirm_factor * previous:
        return
    before = (f"the previous sweep destroyed {previous:,}" if report.previous is not None
              else "no sweep has destroyed anything yet")  # fmt: skip
    reasons = ", ".join(f"{n:,} {r}" for r, n in sorted(report.by_reason.items()))
    raise SweepNeedsConfirm(
        f"this sweep would destroy the templates of {would:,} faces ({reasons}) and {before}: "
        f"more than {confirm_faces:,} faces and {confirm_factor:g} times as many. Nothing was "
        "destroyed. Check `faceledger retention sweep --dry-run --json` (a wrong destroy-by "
        "date or policy override?), then run again with --confirm"
    )


def sweep(
    ledger: Ledger,
    vault: KeyVault,
    *,
    on: date | None = None,
    dry_run: bool = False,
    actor: str = "cli",
    confirm: bool = False,
    confirm_faces: int = 100,
    confirm_factor: float = 10.0,
    limit_days: int | None = None,
    contact_days: int | None = None,
) -> SweepReport:
    """Destroy every template that is due on ``on`` (default: today, UTC); see module docs.
    ``limit_days`` is the organisation's retention limit (setting ``retention_limit_days``)
    for templates no law gives a deadline; ``contact_days`` how long a closed request keeps
    its requester's contact (setting ``request_contact_days``; None: kept)."""
    on = on or datetime.now(UTC).date()
    report = SweepReport(on=on, dry_run=dry_run)
    if dry_run:
        with ledger.read() as conn:
            report.due, report.held = _due(conn, on, limit_days)
            report.previous = _previous_sweep(conn)
            report.contacts = sorted(_stale_contacts(conn, on, contact_days))
        report.faces = len(report.due)
        report.templates = sum(d["templates"] for d in report.due)
        return report
    with exclusive(ledger, "retention"), ledger.begin() as conn:
        report.due, report.held = _due(conn, on, limit_days)
        report.previous = _previous_sweep(conn)
        if not confirm:
            _check_scale(report, confirm_faces, confirm_factor)
        key_refs: list[str] = []
        for (reason, request_id, consent_id), items in _groups(report.due).items():
            destroyed = destroy_templates(
                conn, face_ids=[d["face_id"] for d in items], reason=reason, actor=actor,
                destroy_by={d["face_id"]: d["destroy_by"] for d in items}, request_id=request_id,
            )  # fmt: skip
            if consent_id is not None:  # name the revoked consent on its certificates
                certificates = [c["certificate"] for c in destroyed.certificates]
                for chunk in chunks(certificates, _CHUNK):
                    conn.execute(
                        update(DESTRUCTIONS)
                        .where(DESTRUCTIONS.c.certificate.in_(chunk))
                        .values(consent_id=consent_id)
                    )
            report.faces += destroyed.faces
            report.templates += destroyed.templates
            report.certificates.extend(
                {**c, "reason": reason, "request_id": request_id, "consent_id": consent_id}
                for c in destroyed.certificates
            )
            key_refs.extend(destroyed.key_refs)
        report.keys_shredded = len(key_refs)
        contacts = _stale_contacts(conn, on, contact_days)
        report.contacts = sorted(contacts)
        for chunk in chunks(report.contacts, _CHUNK):
            conn.execute(
                update(REQUESTS)
                .where(REQUESTS.c.id.in_(chunk))
                .values(contact_ciphertext=None, contact_key_ref=None)
            )
        append(
            conn,
            AuditRecord(
                name="retention.sweep",
                actor=actor,
                object_type="ledger",
                object_id=None,
                payload={
                    "as_of": on.isoformat(),
                    "faces": report.faces,
                    "templates": report.templates,
                    "by_reason": report.by_reason,
                    "keys_shredded": report.keys_shredded,
                    "held": report.held,
                    "confirmed": confirm,
                    "consents": sorted({d["consent_id"] for d in report.due if d["consent_id"]}),
                    "requests": sorted({d["request_id"] for d in report.due if d["request_id"]}),
                    "contacts_of_requests": report.contacts,
                },
            ),  # fmt: skip
        )
        # last, just before the commit (see destroy_templates); a crash between the two
        # leaves a contact whose key is gone (unreadable; the next sweep clears the row),
        # never a cleared row whose key survives
        shred_keys(vault, [*key_refs, *contacts.values()])
    return report


def _stale_contacts(conn: Connection, on: date, days: int | None) -> dict[int, str]:
    """{request id: contact key ref} of the requests closed (confirmed or rejected) on or
    before ``on - days`` that still hold a contact."""
    if days is None:
        return {}
    closed = func.coalesce(REQUESTS.c.confirmed_at, REQUESTS.c.rejected_at)
    before = datetime.combine(on - timedelta(days=days - 1), time.min, UTC)
    rows = conn.execute(
        select(REQUESTS.c.id, REQUESTS.c.contact_key_ref).where(
            REQUESTS.c.status.in_(("confirmed", "rejected")),
            REQUESTS.c.contact_key_ref.is_not(None),
            closed < before,
        )
    )
    return {int(row.id): str(row.contact_key_ref) for row in rows}


def _groups(
    due: list[dict[str, Any]],
) -> dict[tuple[str, int | None, int | None], list[dict[str, Any]]]:
    """Due faces by (reason, request id, consent id): one destroy call, one cause, each."""
    groups: dict[tuple[str, int | None, int | None], list[dict[str, Any]]] = {}
    for item in due:
        groups.setdefault((item["reason"], item["request_id"], item["consent_id"]), []).append(item)
    return dict(
        sorted(
            groups.items(), key=lambda kv: (REASONS.index(kv[0][0]), kv[0][1] or 0, kv[0][2] or 0)
        )
    )
