"""Claims: a person points at a detected face and says "this is me" (or "this is my child").

Example::

    evidence = LocalVerifier(secret).signed_form(data=pdf, name="claim.pdf",
                                                 signer="A. Person", signed=date(2026, 11, 30))
    claim = add_claim(ledger, face_id=12, by="subject", evidence=evidence, actor="cli")
    claim.receipt                        # hand this to the person
    add_claim(ledger, face_id=13, by="legal-representative", relationship="parent",
              evidence=..., actor="cli")   # a parent's claim: the person is a minor
    revoke_claim(ledger, claim.receipt, actor="cli")      # consents resting on it stop counting

No template is computed to claim: the face is a box the scan found. A claim carries its
identity evidence (:class:`~faceledger.services.people.verification.IdentityEvidence`); consents given
by the person (or their representative) name the claims they cover
(:func:`faceledger.services.people.consent.add_consent` ``claim_ids``).

``is_photo_owner`` says the claimant is the photo's owner and this is their own face (a
self-portrait). It makes the owner's own consents count for the face only with evidence that
the claimant controls that owner account (``owner-profile-code``, verified, naming the
photo's owner id); otherwise the claim is recorded but the face is not the owner's
(``owner_verified`` is False).

Each add and revoke appends ``claim.add`` / ``claim.revoke`` (ids only) and re-decides the
face in the same transaction, like a consent change: a revoked claim re-blocks at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, select

from faceledger.core.law import Policy
from faceledger.core.receipts import new_receipt
from faceledger.errors import ClaimError, ClaimNotFound, FaceledgerError
from faceledger.services.decisions.redecide import Reassessment, reassess_decided
from faceledger.services.people.verification import IdentityEvidence
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import CLAIMS, FACES, PHOTOS

BY = ("subject", "legal-representative")
STATUSES = ("active", "revoked")


@dataclass(frozen=True)
class ClaimRecord:
    """One recorded claim. ``owner_verified``: the photo owner's own face, proven."""

    id: int
    receipt: str
    face_id: int
    photo_id: int
    by: str
    relationship: str | None
    is_photo_owner: bool
    evidence: dict[str, Any]
    status: str
    created_at: datetime
    revoked_at: datetime | None
    minor: bool | None = None
    age: int | None = None
    owner_verified: bool = False
    reassessed: Reassessment | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``claim list --json`` entries; add keys, never rename)."""
        document = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "reassessed"
        }
        for name in ("created_at", "revoked_at"):
            value = document[name]
            document[name] = value.isoformat() if value is not None else None
        if self.reassessed is not None:
            document["reassessed"] = self.reassessed.to_dict()
        return document


def _today() -> date:
    return datetime.now(UTC).date()


def _record(
    row: Row[Any], owner_id: str | None, reassessed: Reassessment | None = None
) -> ClaimRecord:
    evidence = dict(row.evidence or {})
    try:
        proven = IdentityEvidence.from_dict(evidence).proves_owner(owner_id)
    except (FaceledgerError, TypeError, ValueError):
        proven = False
    return ClaimRecord(
        id=int(row.id), receipt=row.receipt, face_id=int(row.face_id), photo_id=int(row.photo_id),
        by=row.claimed_by, relationship=row.relationship, is_photo_owner=bool(row.is_photo_owner),
        evidence=evidence, status=row.status, created_at=row.created_at, revoked_at=row.revoked_at,
        minor=row.minor, age=row.age, owner_verified=bool(row.is_photo_owner) and proven,
        reassessed=reassessed,
    )  # fmt: skip


def _owner_of(conn: Any, photo_id: int) -> str | None:
    owner: str | None = conn.execute(
        select(PHOTOS.c.owner_id).where(PHOTOS.c.id == photo_id)
    ).scalar()
    return owner


def _payload(record: ClaimRecord) -> dict[str, Any]:
    """A claim as the audit log keeps it: ids and facts, never the receipt or evidence detail."""
    return {
        "claim_id": record.id, "face_id": record.face_id, "photo_id": record.photo_id,
        "by": record.by, "relationship": record.relationship,
        "is_photo_owner": record.is_photo_owner, "owner_verified": record.owner_verified,
        "minor": record.minor, "evidence_kind": record.evidence.get("kind"),
        "evidence_verified": bool(record.evidence.get("verified")),
    }  # fmt: skip


def _check(by: str, relationship: str | None, is_photo_owner: bool, minor: bool | None,
           age: int | None) -> str | None:  # fmt: skip
    if by not in BY:
        raise ClaimError(f"by {by!r} is not one of {', '.join(BY)}")
    relationship = (relationship or "").strip().lower() or None
    if relationship is not None and len(relationship) > 64:
        raise ClaimError("relationship is longer than 64 characters")
    if by == "legal-representative" and relationship is None:
        raise ClaimError("a legal representative's claim must give the relationship (e.g. parent)")
    if is_photo_owner and by != "subject":
        raise ClaimError("only the owner themselves can claim a face as the photo owner's own")
    if age is not None and (isinstance(age, bool) or not 0 <= age <= 150):
        raise ClaimError(f"age {age!r} must be a whole number of years (0-150)")
    if age is not None and minor is not None and minor != (age < 18):
        raise ClaimError(f"age {age} and {'minor' if minor else 'adult'} disagree")
    return relationship


def add_claim(
    ledger: Ledger,
    *,
    face_id: int,
    by: str,
    relationship: str | None = None,
    is_photo_owner: bool = False,
    evidence: IdentityEvidence,
    actor: str,
    minor: bool | None = None,
    age: int | None = None,
    policies: list[Policy],
    assess_on: date | None = None,
) -> ClaimRecord:
    """Record that ``face_id`` is the claimant's face (``by="subject"``) or that of the person
    they represent, with ``evidence``; re-decide the face at once (see the module docs).

    Raises :class:`ClaimError` for invalid values, an unknown face, or a face an executed
    request removed. ``policies`` (the deployment's law set, ``laws_for``) and ``assess_on`` (default today) drive the
    re-decision. The returned record's ``reassessed`` says what it changed.
    """
    relationship = _check(by, relationship, is_photo_owner, minor, age)
    if not isinstance(evidence, IdentityEvidence):
        raise ClaimError(
            "evidence must be an IdentityEvidence (see services/people/verification.py)"
        )
    with ledger.begin() as conn:
        face = conn.execute(
            select(FACES.c.id, FACES.c.photo_id, FACES.c.excluded_request_id,
                   PHOTOS.c.excluded_request_id.label("photo_excluded"))
            .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id).where(FACES.c.id == int(face_id))
        ).first()  # fmt: skip
        if face is None:
            raise ClaimError(f"no face with id {face_id} (see faceledger claim list or status)")
        if face.excluded_request_id is not None or face.photo_excluded is not None:
            raise ClaimError(f"face {face_id} was removed by a request: there is nothing to claim")
        claim_id = conn.execute(
            CLAIMS.insert().values(
                receipt=new_receipt(), face_id=int(face.id), photo_id=int(face.photo_id),
                claimed_by=by, relationship=relationship, is_photo_owner=bool(is_photo_owner),
                minor=minor, age=age, evidence=evidence.to_dict(), status="active",
                created_at=utcnow(), revoked_at=None,
            ).returning(CLAIMS.c.id)
        ).scalar_one()  # fmt: skip
        row = conn.execute(select(CLAIMS).where(CLAIMS.c.id == claim_id)).one()
        record = _record(row, _owner_of(conn, int(face.photo_id)))
        append(conn, AuditRecord(name="claim.add", actor=actor, object_type="claim",
                                 object_id=str(record.id), payload=_payload(record)))  # fmt: skip
        reassessed = reassess_decided(
            ledger, conn, [record.face_id], on=assess_on or _today(), policies=policies,
            actor=actor, trigger={"event": "claim.add", "claim_id": record.id},
        )  # fmt: skip
    return _with(record, reassessed)


def _with(record: ClaimRecord, reassessed: Reassessment) -> ClaimRecord:
    return replace(record, reassessed=reassessed)


def _find(conn: Any, key: str | int) -> Row[Any]:
    text = str(key).strip()
    row = conn.execute(select(CLAIMS).where(CLAIMS.c.receipt == text)).first()
    if row is None and text.isdigit():
        row = conn.execute(select(CLAIMS).where(CLAIMS.c.id == int(text))).first()
    if row is None:
        raise ClaimNotFound(f"no claim with id or receipt {text!r} (see faceledger claim list)")
    return row  # type: ignore[no-any-return]


def revoke_claim(
    ledger: Ledger,
    claim_id_or_receipt: str | int,
    *,
    actor: str,
    on: date | None = None,
    policies: list[Policy],
) -> ClaimRecord:
    """Withdraw a claim and re-decide its face as of ``on`` (default today): consents that
    rested on it no longer cover the face, so it re-blocks. Revoking twice changes nothing
    (no second event). Raises :class:`ClaimNotFound`."""
    with ledger.begin() as conn:
        row = _find(conn, claim_id_or_receipt)
        owner = _owner_of(conn, int(row.photo_id))
        if row.status == "revoked":
            return _record(row, owner, Reassessment())
        conn.execute(
            CLAIMS.update()
            .where(CLAIMS.c.id == row.id)
            .values(status="revoked", revoked_at=utcnow())
        )
        record = _record(conn.execute(select(CLAIMS).where(CLAIMS.c.id == row.id)).one(), owner)
        append(conn, AuditRecord(name="claim.revoke", actor=actor, object_type="claim",
                                 object_id=str(record.id),
                                 payload={"claim_id": record.id, "face_id": record.face_id}))  # fmt: skip
        reassessed = reassess_decided(
            ledger, conn, [record.face_id], on=on or _today(), policies=policies, actor=actor,
            trigger={"event": "claim.revoke", "claim_id": record.id},
        )  # fmt: skip
    return _with(record, reassessed)


def get_claim(ledger: Ledger, claim_id_or_receipt: str | int) -> ClaimRecord:
    """One claim by id or receipt; :class:`ClaimNotFound` if none."""
    with ledger.read() as conn:
        row = _find(conn, claim_id_or_receipt)
        return _record(row, _owner_of(conn, int(row.photo_id)))


def list_claims(
    ledger: Ledger, *, face_id: int | None = None, photo_id: int | None = None,
    status: str | None = None,
) -> list[ClaimRecord]:  # fmt: skip
    """Claims, oldest first; only those of ``face_id`` / ``photo_id`` / ``status`` if given."""
    if status is not None and status not in STATUSES:
        raise ClaimError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    statement = select(CLAIMS, PHOTOS.c.owner_id.label("photo_owner")).join(
        PHOTOS, PHOTOS.c.id == CLAIMS.c.photo_id
    ).order_by(CLAIMS.c.id)  # fmt: skip
    if face_id is not None:
        statement = statement.where(CLAIMS.c.face_id == face_id)
    if photo_id is not None:
        statement = statement.where(CLAIMS.c.photo_id == photo_id)
    if status is not None:
        statement = statement.where(CLAIMS.c.status == status)
    with ledger.read() as conn:
        return [_record(row, row.photo_owner) for row in conn.execute(statement)]


def photo_id_for(ledger: Ledger, photo: str) -> int:
    """The ledger id of ``photo`` (its external id, e.g. ``ex-0003``, or its ledger id)."""
    key = photo.strip()
    match = PHOTOS.c.external_id == key
    if key.isdigit():
        match = match | (PHOTOS.c.id == int(key))
    with ledger.read() as conn:
        photos = conn.execute(select(PHOTOS.c.id).where(match)).scalars().all()
    if len(photos) != 1:
        raise ClaimError(f"{'no' if not photos else 'more than one'} photo {key!r} in the "
                         "ledger: give the face id instead (--face)")  # fmt: skip
    return int(photos[0])


def face_for(ledger: Ledger, *, photo: str, index: int) -> int:
    """The id of face number ``index`` (0-based, as the scan numbered it) of ``photo`` (see
    :func:`photo_id_for`). :class:`ClaimError` if there is none."""
    photo_id = photo_id_for(ledger, photo)
    with ledger.read() as conn:
        faces = dict(conn.execute(
            select(FACES.c.face_index, FACES.c.id).where(FACES.c.photo_id == photo_id)
        ).all())  # fmt: skip
    if index not in faces:
        raise ClaimError(f"photo {photo.strip()!r} has {len(faces)} faces (index 0-"
                         f"{max(len(faces) - 1, 0)}); no face {index}")  # fmt: skip
    return int(faces[index])


def face_owner(ledger: Ledger, face_id: int) -> str | None:
    """The owner id of the photo that holds ``face_id`` (None: unknown face or no owner)."""
    with ledger.read() as conn:
        return conn.execute(
            select(PHOTOS.c.owner_id).join(FACES, FACES.c.photo_id == PHOTOS.c.id)
            .where(FACES.c.id == face_id)
        ).scalar()  # fmt: skip
