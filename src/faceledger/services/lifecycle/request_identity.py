"""Who is asking, and what a request may act on: contact, identity evidence, face review and
deadline extensions (used by :mod:`faceledger.services.lifecycle.requests`).

Example::

    sealed = seal_contact(vault, "ada@example.org")        # (ciphertext, key_ref)
    read_contact(ledger, vault, 7, actor="web:rev")        # audited ``request.contact``
    review_faces(ledger, 7)                                # each matched face, for a reviewer
    decide_face(ledger, 7, 31, confirm=False, reason="my daughter", actor="cli")
    extend_deadline(ledger, settings, 7, reason="many photos to check", actor="cli")

**Contact.** Encrypted (AES-256-GCM) under its own data key in the key vault
(``store/vault.py``; ref ``req-contact-<random>``, bound to that ref), so the ledger and its
backups hold ciphertext only and shredding the key erases the contact everywhere. Shown to
console users only (each read audited, never the contact itself); never in the audit log,
never on public pages or in ``request show --json``.

**Evidence rules** (fail closed, enforced at ``verify`` and again at ``execute``):

- a request that covers whole photos (``account``: all an owner's photos; ``tag``: an owner's
  photos with a tag; ``photo``: every face of one photo) needs *verified ownership* evidence
  (``owner-profile-code``, ``email-link`` or ``signed-form`` with ``verified`` true and
  ``detail.owner_id``) for every owner whose photos it reaches;
- a request that covers faces acts only on faces it was shown to cover: a face *claimed* by
  the person (an active claim, :mod:`faceledger.services.people.claims`) or a selfie match a
  reviewer *confirmed*. A selfie match is ``pending`` until then; a pending face blocks
  execution; a rejected one is never touched. A look-alike is never enough: no request
  reaches other faces of a matched subject (cluster).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from faceledger.config import Settings
from faceledger.core.deadlines import deadline as add_term
from faceledger.errors import (
    ExtensionStateError,
    FaceledgerError,
    FaceReviewError,
    IdentityError,
    KeyShredded,
    RequestNotFound,
)
from faceledger.services.portal.lookup import thumbnail_allowed
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import FACE_SUBJECTS, FACES, PHOTOS, REQUEST_FACES, REQUESTS, chunks
from faceledger.store.vault import KeyVault

OWNERSHIP_KINDS = frozenset({"owner-profile-code", "signed-form"})
WHOLE_PHOTOS = ("account", "tag", "photo")
ACTED = ("confirmed", "claimed")  # face statuses a request acts on
OPEN = ("received", "verified")
MAX_CONTACT = 320

# --- contact ---------------------------------------------------------------------------------


def clean_contact(contact: str | None) -> str | None:
    text = (contact or "").strip()
    if not text:
        return None
    if len(text) > MAX_CONTACT or any(ord(ch) < 32 for ch in text):
        raise IdentityError(
            f"contact: at most {MAX_CONTACT} printable characters (an e-mail address or phone)"
        )
    return text


def _aad(key_ref: str) -> bytes:
    return f"faceledger:request-contact:{key_ref}".encode()


def seal_contact(vault: KeyVault, contact: str) -> tuple[bytes, str]:
    """``(ciphertext, key_ref)``: the contact under a new data key of its own."""
    key_ref = f"req-contact-{secrets.token_hex(12)}"
    return vault.encrypt(key_ref, contact.encode(), aad=_aad(key_ref)), key_ref


def read_contact(ledger: Ledger, vault: KeyVault, request_id: int, *, actor: str) -> str | None:
    """The requester's contact for a console user, or ``None`` (none given, or erased);
    every read is audited (``request.contact``, the request id only)."""
    with ledger.begin() as conn:
        row = conn.execute(
            select(REQUESTS.c.id, REQUESTS.c.contact_ciphertext, REQUESTS.c.contact_key_ref)
            .where(REQUESTS.c.id == request_id)
        ).first()  # fmt: skip
        if row is None or row.contact_ciphertext is None or row.contact_key_ref is None:
            return None
        append(conn, AuditRecord(name="request.contact", actor=actor, object_type="request",
                                 object_id=str(row.id), payload={"request": int(row.id)}))  # fmt: skip
    try:
        return vault.decrypt(
            row.contact_key_ref, row.contact_ciphertext, aad=_aad(row.contact_key_ref)
        ).decode()
    except KeyShredded:
        return None


# --- evidence --------------------------------------------------------------------------------


def evidence_doc(evidence: Any) -> dict[str, Any]:
    """An IdentityEvidence (or its dict) as stored on a request: kind, verified, detail,
    verified_at (ISO text)."""
    if isinstance(evidence, dict):
        doc = dict(evidence)
    elif hasattr(evidence, "to_dict"):
        doc = dict(evidence.to_dict())
    else:
        doc = {
            name: getattr(evidence, name, None)
            for name in ("kind", "verified", "detail", "verified_at")
        }
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise IdentityError("evidence: it must name its kind (owner-profile-code, email-link, ...)")
    at = doc.get("verified_at")
    detail = doc.get("detail")
    return {
        "kind": kind,
        "verified": bool(doc.get("verified")),
        "detail": dict(detail) if isinstance(detail, dict) else {},
        "verified_at": at.isoformat() if isinstance(at, datetime | date) else at,
    }


def evidence_docs(evidence: Any) -> list[dict[str, Any]]:
    if evidence is None:
        return []
    items = evidence if isinstance(evidence, list | tuple) else [evidence]
    return [evidence_doc(item) for item in items]


def proven_owners(evidence: Iterable[dict[str, Any]]) -> set[str]:
    """Owner ids that verified ownership evidence names."""
    return {
        str(doc["detail"]["owner_id"]) for doc in evidence
        if doc.get("verified") and doc.get("kind") in OWNERSHIP_KINDS
        and isinstance(doc.get("detail"), dict) and doc["detail"].get("owner_id")
    }  # fmt: skip


def owners_of(conn: Connection, photo_ids: set[int]) -> set[str | None]:
    values, owners = sorted(photo_ids), set[str | None]()
    for chunk in chunks(values):
        owners.update(
            owner for (owner,) in conn.execute(
                select(PHOTOS.c.owner_id).where(PHOTOS.c.id.in_(chunk)).distinct()
            )
        )  # fmt: skip
    return owners


def acted_faces(
    conn: Connection, ledger: Ledger, request_id: int
) -> tuple[set[int], dict[str, int]]:
    """The faces a face request may act on now, and how its faces stand by status."""
    rows = conn.execute(
        select(REQUEST_FACES.c.face_id, REQUEST_FACES.c.status, REQUEST_FACES.c.claim_id)
        .where(REQUEST_FACES.c.request_id == request_id)
    ).all()  # fmt: skip
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    claim_ids = {
        int(row.claim_id) for row in rows if row.status == "claimed" and row.claim_id is not None
    }
    active = active_claims(ledger, claim_ids)
    faces = {
        int(row.face_id) for row in rows
        if row.status == "confirmed" or (row.status == "claimed" and row.claim_id is not None and int(row.claim_id) in active)
    }  # fmt: skip
    lapsed = len(
        [
            r
            for r in rows
            if r.status == "claimed" and (r.claim_id is None or int(r.claim_id) not in active)
        ]
    )
    if lapsed:
        counts["claim-revoked"] = lapsed
    return faces, counts


def active_claims(ledger: Ledger, claim_ids: set[int]) -> set[int]:
    """The claims among ``claim_ids`` that are active now (none, when claims cannot be read:
    fail closed)."""
    if not claim_ids:
        return set()
    try:
        from faceledger.services.people.claims import get_claim
    except ImportError:
        return set()
    active = set()
    for claim_id in sorted(claim_ids):
        try:
            record = get_claim(ledger, claim_id)
        except FaceledgerError:
            continue
        if getattr(record, "status", None) == "active":
            active.add(claim_id)
    return active


def identity_problem(
    conn: Connection, ledger: Ledger, row: Any, photo_ids: set[int], step: str
) -> str | None:
    """Why request ``row`` may not be verified / executed yet, or ``None`` (module rules)."""
    evidence = row.evidence or []
    if row.covers in WHOLE_PHOTOS:
        needed = (
            owners_of(conn, photo_ids)
            if photo_ids
            else {row.key_value if row.key_type == "owner" else row.owner_scope}
        )
        proven = proven_owners(evidence)
        missing = [owner for owner in needed if owner is None or owner not in proven]
        if missing:
            what = {"account": "all photos of an account", "tag": "an account's photos with a tag",
                    "photo": "a whole photo (every face in it)"}[row.covers]  # fmt: skip
            return (
                f"request {row.id} covers {what}: it needs verified ownership evidence for "
                f"{'that account' if len(needed) == 1 else f'each of its {len(needed)} accounts'} before it "
                f"can be {step} (the portal's profile-code check, or `faceledger request verify "
                f"{row.id} --form FILE --signer NAME --signed DATE --owner NSID`); a person in the "
                "photo files a request for their own face instead (claim it)"
            )
        return None
    faces, counts = acted_faces(conn, ledger, int(row.id))
    if step == "executed" and counts.get("pending"):
        return (
            f"request {row.id}: {counts['pending']} matched face(s) still pending: a reviewer confirms "
            f"or rejects each one first (faceledger request faces {row.id})"
        )
    if not faces and (step == "executed" or not counts.get("pending")):
        return (
            f"request {row.id} has no confirmed or claimed face to act on (a selfie match needs a "
            "reviewer's confirmation, a claim must be active): reject it instead"
        )
    return None


# --- face review -----------------------------------------------------------------------------


def review_faces(ledger: Ledger, request_id: int) -> list[dict[str, Any]]:
    """Each face of a request with what a reviewer needs: photo, box, distance, status."""
    with ledger.read() as conn:
        rows = conn.execute(
            select(REQUEST_FACES, FACES.c.photo_id, FACES.c.x1, FACES.c.y1, FACES.c.x2, FACES.c.y2,
                   FACES.c.excluded_request_id.label("face_excluded"), PHOTOS.c.external_id,
                   PHOTOS.c.page_url, PHOTOS.c.width, PHOTOS.c.height, PHOTOS.c.license_id,
                   PHOTOS.c.path, PHOTOS.c.excluded_request_id)
            .join(FACES, FACES.c.id == REQUEST_FACES.c.face_id)
            .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(REQUEST_FACES.c.request_id == request_id)
            .order_by(REQUEST_FACES.c.distance.is_(None), REQUEST_FACES.c.distance, REQUEST_FACES.c.face_id)
        ).all()  # fmt: skip
    return [
        {
            "face_id": int(r.face_id),
            "photo_id": int(r.photo_id),
            "photo": r.external_id,
            "page_url": r.page_url,
            "box": [r.x1, r.y1, r.x2, r.y2],
            "width": r.width,
            "height": r.height,
            "distance": None if r.distance is None else round(float(r.distance), 4),
            "basis": r.basis,
            "claim_id": r.claim_id,
            "status": r.status,
            "decided_at": r.decided_at.isoformat() if r.decided_at else None,
            "decided_by": r.decided_by,
            "reason": r.decision_reason,
            "excluded": r.face_excluded is not None,
            "thumbnail": thumbnail_allowed(r),
        }  # fmt: skip
        for r in rows
    ]


def decide_face(
    ledger: Ledger,
    request_id: int,
    face_id: int,
    *,
    confirm: bool,
    reason: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Confirm (it is the requester, or their child) or reject (a look-alike) one matched face
    of an open request; audited ``request.face``."""
    reason = (reason or "").strip() or None
    if not confirm and reason is None:
        raise FaceReviewError(
            "rejecting a matched face needs a reason (e.g. 'not me: my daughter')"
        )
    with ledger.begin() as conn:
        status = conn.execute(
            select(REQUESTS.c.status).where(REQUESTS.c.id == request_id)
        ).scalar_one_or_none()
        if status is None:
            raise RequestNotFound(f"no request with id {request_id} (see faceledger request list)")
        if status not in OPEN:
            raise FaceReviewError(
                f"request {request_id} is {status}: its faces can no longer be reviewed"
            )
        face = conn.execute(
            select(REQUEST_FACES.c.basis, REQUEST_FACES.c.status)
            .where(REQUEST_FACES.c.request_id == request_id, REQUEST_FACES.c.face_id == face_id)
        ).first()  # fmt: skip
        if face is None:
            raise FaceReviewError(
                f"face {face_id} is not one request {request_id} matched (faceledger request faces {request_id})"
            )
        if face.basis not in ("selfie", "cluster"):
            raise FaceReviewError(
                f"face {face_id} is covered by the person's claim, not a selfie match: nothing to review"
            )
        decision = "confirmed" if confirm else "rejected"
        conn.execute(
            update(REQUEST_FACES)
            .where(REQUEST_FACES.c.request_id == request_id, REQUEST_FACES.c.face_id == face_id)
            .values(status=decision, decided_at=utcnow(), decided_by=actor[:128], decision_reason=reason)
        )  # fmt: skip
        append(conn, AuditRecord(
            name="request.face", actor=actor, object_type="request", object_id=str(request_id),
            payload={"request": request_id, "face": face_id, "decision": decision},
        ))  # fmt: skip
    return next(f for f in review_faces(ledger, request_id) if f["face_id"] == face_id)


# --- deadline extension ----------------------------------------------------------------------


def extend_deadline(
    ledger: Ledger, settings: Settings, request_id: int, *, reason: str, until: date | None = None,
    on: date | None = None, actor: str,
) -> date:  # fmt: skip
    """Extend an open request's deadline, with the reason told to the requester.

    GDPR Art. 12(3): by at most two further months (``request_extensions``: gdpr "2 months",
    CPRA 45 further days), decided and told within the original term. ``until`` defaults to
    the furthest date allowed. Audited ``request.extended``. Returns the new deadline.
    """
    reason = reason.strip()
    if not reason:
        raise ExtensionStateError(
            "an extension needs a reason (it is told to the requester, GDPR Art. 12(3))"
        )
    today = on or datetime.now(UTC).date()
    with ledger.begin() as conn:
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.id == request_id)).first()
        if row is None:
            raise RequestNotFound(f"no request with id {request_id} (see faceledger request list)")
        if row.status not in OPEN:
            raise ExtensionStateError(
                f"request {row.id} is {row.status}: only an open request's deadline can be extended"
            )
        term = settings.request_extensions.get(row.law)
        if term is None:
            raise ExtensionStateError(
                f"law {row.law!r} allows no extension (request_extensions: {', '.join(settings.request_extensions) or 'none'})"
            )
        original = row.deadline_original or row.deadline
        if today > original:
            raise ExtensionStateError(
                f"request {row.id}: an extension must be decided and told within the original term "
                f"(by {original.isoformat()}); it is overdue now"
            )
        limit = add_term(original, term)
        target = until or limit
        if target > limit:
            raise ExtensionStateError(
                f"{row.law} allows extending to {limit.isoformat()} at most ({term} after {original.isoformat()})"
            )
        if target <= row.deadline:
            raise ExtensionStateError(
                f"the deadline is {row.deadline.isoformat()} already: an extension must move it later"
            )
        conn.execute(
            update(REQUESTS).where(REQUESTS.c.id == row.id).values(
                deadline=target, deadline_original=original, extended_at=utcnow(), extension_reason=reason[:2000]
            )
        )  # fmt: skip
        append(conn, AuditRecord(
            name="request.extended", actor=actor, object_type="request", object_id=str(row.id),
            payload={"request": int(row.id), "law": row.law, "previous": row.deadline.isoformat(),
                     "deadline": target.isoformat()},
        ))  # fmt: skip
    return target


def wholly_covered_subjects(conn: Connection, face_ids: set[int]) -> set[int]:
    """Subjects every one of whose faces is in ``face_ids``: only these may be shredded by an
    erasure (a subject shared with a face outside the request keeps its key)."""
    if not face_ids:
        return set()
    values = sorted(face_ids)
    inside: dict[int, int] = {}
    for chunk in chunks(values):
        for (subject_id,) in conn.execute(
            select(FACE_SUBJECTS.c.subject_id).where(FACE_SUBJECTS.c.face_id.in_(chunk))
        ):
            inside[int(subject_id)] = inside.get(int(subject_id), 0) + 1
    subjects, whole = sorted(inside), set()
    for chunk in chunks(subjects):
        for subject_id, members in conn.execute(
            select(FACE_SUBJECTS.c.subject_id, func.count())
            .where(FACE_SUBJECTS.c.subject_id.in_(chunk))
            .group_by(FACE_SUBJECTS.c.subject_id)
        ):
            if int(members) == inside[int(subject_id)]:
                whole.add(int(subject_id))
    return whole
