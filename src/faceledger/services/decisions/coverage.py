"""Which consents cover a face, and what the ledger knows about the person in it.

Example::

    book = load_book(conn, rows)              # rows: a page of faces (face_id, owner_id, ...)
    cover = book.for_face(rows[0])
    cover.consents, cover.is_photo_owner, cover.minor, cover.age

Consent belongs to the depicted person. For one face, :meth:`ConsentBook.for_face` returns:

- the consents linked (``consent_claims``) to the face's **active claims**: the person, or
  their legal representative, consenting (or refusing) for the face they pointed at;
- the photo owner's (``photo-owner``) consents **only** when the face has an active
  ``is_photo_owner`` claim whose evidence proves control of that photo's owner account
  (``owner-profile-code``, verified): a self-portrait. Never for anyone else in the photo;
- consents keyed by a subject id only for a face that is both claimed and clustered into that
  subject: a look-alike or a cluster alone is never enough.

``is_photo_owner``, ``minor`` and ``age`` come from the same claims: a claim by a legal
representative whose relationship is parent or guardian means a minor unless it says
otherwise; stated ages and minor flags win, and where claims disagree the youngest counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select

from faceledger.core.law import Consent
from faceledger.errors import FaceledgerError
from faceledger.services.people.verification import IdentityEvidence
from faceledger.store.tables import CLAIMS, CONSENT_CLAIMS, CONSENTS, FACE_SUBJECTS

#: Relationships of a legal representative that imply the person is a minor.
MINOR_RELATIONSHIPS = frozenset({"parent", "guardian", "mother", "father", "legal-guardian"})
ADULT_AGE = 18


def as_date(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value


def engine_consent(row: Any) -> Consent:
    """A ``consents`` row as the engine's :class:`~faceledger.core.law.Consent` value."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return Consent(
        form=row.form,
        purposes=tuple(row.purposes),
        informed=bool(row.informed),
        granted=as_date(row.granted),
        expires=as_date(row.expires),
        revoked=as_date(row.revoked),
        given_by=mapping.get("given_by") or "subject",
        relationship=mapping.get("relationship"),
        kind=mapping.get("kind") or "consent",
        purchaser=mapping.get("purchaser"),
        signed=bool(mapping.get("signer") and mapping.get("signed_on")),
    )


def consent_document(consent: Consent) -> dict[str, Any]:
    """A consent as a ``policy evaluate`` scenario item (the stable keys only)."""

    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "form": consent.form, "purposes": list(consent.purposes), "informed": consent.informed,
        "granted": iso(consent.granted), "expires": iso(consent.expires),
        "revoked": iso(consent.revoked), "given_by": consent.given_by,
        "relationship": consent.relationship, "kind": consent.kind,
        "purchaser": consent.purchaser, "signed": consent.signed,
    }  # fmt: skip


def _evidence(document: Any) -> IdentityEvidence | None:
    try:
        return IdentityEvidence.from_dict(document or {})
    except (FaceledgerError, TypeError, ValueError):
        return None  # unreadable evidence proves nothing (fail closed)


@dataclass(frozen=True)
class ClaimFacts:
    """One active claim as coverage needs it."""

    id: int
    face_id: int
    by: str
    relationship: str | None
    is_photo_owner: bool
    minor: bool | None
    age: int | None
    evidence: IdentityEvidence | None
    created: date | None

    def owner_proven(self, owner_id: str | None) -> bool:
        return (
            self.is_photo_owner
            and self.evidence is not None
            and self.evidence.proves_owner(owner_id)
        )

    def stated_minor(self) -> bool | None:
        if self.minor is not None:
            return self.minor
        if self.age is not None:
            return self.age < ADULT_AGE
        relationship = (self.relationship or "").strip().lower()
        if self.by == "legal-representative" and relationship in MINOR_RELATIONSHIPS:
            return True
        return None


@dataclass(frozen=True)
class Coverage:
    """What covers one face: its consents and the facts about the person (hashable ``key``)."""

    consents: tuple[Consent, ...] = ()
    is_photo_owner: bool = False
    minor: bool | None = None
    age: int | None = None
    last_contact: date | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.consents, self.is_photo_owner, self.minor, self.age, self.last_contact)


@dataclass(frozen=True)
class ConsentBook:
    """The consents and active claims of one page of faces (see the module docs)."""

    claims: Mapping[int, tuple[ClaimFacts, ...]] = field(default_factory=dict)
    by_claim: Mapping[int, tuple[Consent, ...]] = field(default_factory=dict)
    by_owner: Mapping[str, tuple[Consent, ...]] = field(default_factory=dict)
    by_subject: Mapping[int, tuple[Consent, ...]] = field(default_factory=dict)
    subjects: Mapping[int, int] = field(default_factory=dict)  # face id -> subject id

    def for_face(self, face: Any) -> Coverage:
        """The :class:`Coverage` of ``face`` (a row with ``face_id`` and ``owner_id``)."""
        claims = self.claims.get(int(face.face_id), ())
        if not claims:
            return Coverage()
        found: list[Consent] = []
        for claim in claims:
            found.extend(self.by_claim.get(claim.id, ()))
        owner = any(c.owner_proven(face.owner_id) for c in claims)
        if owner and face.owner_id:
            found.extend(self.by_owner.get(face.owner_id, ()))
        subject = self.subjects.get(int(face.face_id))
        if subject is not None:
            found.extend(self.by_subject.get(subject, ()))
        minors = [m for m in (c.stated_minor() for c in claims) if m is not None]
        ages = [c.age for c in claims if c.age is not None]
        contacts = [c.created for c in claims if c.created] + [
            c.granted for c in found if c.granted
        ]
        return Coverage(
            consents=tuple(dict.fromkeys(found)), is_photo_owner=owner,
            minor=(True in minors) if minors else None, age=min(ages) if ages else None,
            last_contact=max(contacts) if contacts else None,
        )  # fmt: skip


def _group(pairs: Iterable[tuple[Any, Consent]]) -> dict[Any, tuple[Consent, ...]]:
    grouped: dict[Any, list[Consent]] = {}
    for key, consent in pairs:
        grouped.setdefault(key, []).append(consent)
    return {k: tuple(v) for k, v in grouped.items()}


def load_book(conn: Connection, faces: Iterable[Any]) -> ConsentBook:
    """Every consent and active claim that may cover these faces, in four queries at most.

    All consents, revoked and expired ones included: the engine decides which are valid on
    the action's date, and the scenario records what it saw.
    """
    rows = list(faces)
    face_ids = sorted({int(r.face_id) for r in rows})
    if not face_ids:
        return ConsentBook()
    lo, hi = face_ids[0], face_ids[-1]
    dense = hi - lo < 2 * len(face_ids)  # a page of assess: a range, not a 5,000-value IN list
    wanted = set(face_ids)
    claim_rows = [c for c in conn.execute(
        select(CLAIMS).where(CLAIMS.c.face_id.between(lo, hi) if dense
                             else CLAIMS.c.face_id.in_(face_ids), CLAIMS.c.status == "active")
        .order_by(CLAIMS.c.id)
    ) if int(c.face_id) in wanted]  # fmt: skip
    if not claim_rows:
        return ConsentBook()
    claims: dict[int, list[ClaimFacts]] = {}
    for c in claim_rows:
        claims.setdefault(int(c.face_id), []).append(ClaimFacts(
            id=int(c.id), face_id=int(c.face_id), by=c.claimed_by, relationship=c.relationship,
            is_photo_owner=bool(c.is_photo_owner), minor=c.minor, age=c.age,
            evidence=_evidence(c.evidence), created=as_date(c.created_at),
        ))  # fmt: skip
    claim_ids = sorted(c.id for facts in claims.values() for c in facts)
    linked = conn.execute(
        select(CONSENT_CLAIMS.c.claim_id, CONSENTS).join(CONSENTS, CONSENTS.c.id == CONSENT_CLAIMS.c.consent_id)
        .where(CONSENT_CLAIMS.c.claim_id.in_(claim_ids)).order_by(CONSENTS.c.id)
    ).all()  # fmt: skip
    owners = sorted({r.owner_id for r in rows if r.owner_id and int(r.face_id) in claims})
    by_owner: dict[str, tuple[Consent, ...]] = {}
    if owners:
        owned = conn.execute(
            select(CONSENTS).where(CONSENTS.c.owner_id.in_(owners),
                                   CONSENTS.c.given_by == "photo-owner").order_by(CONSENTS.c.id)
        ).all()  # fmt: skip
        by_owner = _group((r.owner_id, engine_consent(r)) for r in owned)
    subjects = dict(conn.execute(
        select(FACE_SUBJECTS.c.face_id, FACE_SUBJECTS.c.subject_id)
        .where(FACE_SUBJECTS.c.face_id.in_(sorted(claims)))
    ).all())  # fmt: skip
    by_subject: dict[int, tuple[Consent, ...]] = {}
    if subjects:
        keyed = conn.execute(
            select(CONSENTS).where(CONSENTS.c.subject_id.in_(sorted(set(subjects.values()))),
                                   CONSENTS.c.given_by != "photo-owner").order_by(CONSENTS.c.id)
        ).all()  # fmt: skip
        by_subject = _group((int(r.subject_id), engine_consent(r)) for r in keyed)
    return ConsentBook(
        claims={k: tuple(v) for k, v in claims.items()},
        by_claim=_group((int(r.claim_id), engine_consent(r)) for r in linked),
        by_owner=by_owner, by_subject=by_subject,
        subjects={int(k): int(v) for k, v in subjects.items()},
    )  # fmt: skip
