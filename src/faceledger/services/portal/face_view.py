"""One face, everything the ledger says about it: the photo with every face box, the face's
decision and its reasons (what ``faceledger explain`` prints), its claims and consent state,
and the requests that reached it. The console and the portal render the same plain value.

Example::

    view = face_view(ledger, face_id=7, purpose="train-face-recognition")            # console
    view = face_view(ledger, face_id=7, purpose="train-face-recognition", audience="public")
    view.to_dict()["decision"]["decision"], view.photo["thumbnail_allowed"]

``audience="public"`` is what a searching person may see, and fails closed: a face or photo
an executed request removed, or a photo its rights holder reserved, raises
:class:`FaceNotFound` (nothing beyond the requester's receipt is shown); internal ids are
left out (the portal names faces by sealed handles); a claim is shown only as "claimed", with
no claimant, relationship, evidence, age or receipt; consents only as whether one covers the
face for the purpose; requests only by kind and status (no receipt, key, contact or date);
the decision without the jurisdiction evidence and the per-law reasons, but with every
violation's section and citation (and its wording only while nobody has claimed the face: once
claimed, the wording may repeat what a claim or consent said, such as a minor's age).

Nothing here reads or computes a template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import or_, select

from faceledger.core.law import Policy
from faceledger.errors import AssessmentNotFound, FaceNotFound
from faceledger.services.decisions.assess import DEFAULT_ACTION
from faceledger.services.decisions.coverage import load_book
from faceledger.services.decisions.explain import explain_face
from faceledger.services.people.claims import list_claims
from faceledger.services.portal.lookup import thumbnail_allowed
from faceledger.store import Ledger
from faceledger.store.tables import FACES, PHOTOS, REQUEST_FACES, REQUESTS

Audience = Literal["console", "public"]
AUDIENCES = ("console", "public")


@dataclass(frozen=True)
class FaceView:
    """The plain value both views render (see the module docs for what ``public`` drops)."""

    audience: str
    face: dict[str, Any]
    photo: dict[str, Any]
    faces: list[dict[str, Any]]
    decision: dict[str, Any] | None
    decision_note: str | None
    claims: list[dict[str, Any]]
    claimed: bool
    consent: dict[str, Any]
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: the ledger id of the photo, for the web layer to seal (a thumbnail link); never in to_dict()
    photo_key: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "audience": self.audience, "face": self.face, "photo": self.photo, "faces": self.faces,
            "decision": self.decision, "decision_note": self.decision_note, "claims": self.claims,
            "claimed": self.claimed, "consent": self.consent, "requests": self.requests,
        }  # fmt: skip


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rows(ledger: Ledger, face_id: int) -> tuple[Any, list[Any]]:
    with ledger.read() as conn:
        face = conn.execute(
            select(FACES.c.id.label("face_id"), FACES.c.face_index, FACES.c.x1, FACES.c.y1, FACES.c.x2,
                   FACES.c.y2, FACES.c.score, FACES.c.excluded_request_id.label("face_excluded"),
                   PHOTOS.c.id, PHOTOS.c.external_id, PHOTOS.c.title, PHOTOS.c.page_url, PHOTOS.c.download_url,
                   PHOTOS.c.owner_id, PHOTOS.c.owner_nickname, PHOTOS.c.license_id, PHOTOS.c.license_name,
                   PHOTOS.c.path, PHOTOS.c.width, PHOTOS.c.height, PHOTOS.c.tags, PHOTOS.c.excluded_request_id,
                   PHOTOS.c.reservation)
            .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id).where(FACES.c.id == int(face_id))
        ).first()  # fmt: skip
        if face is None:
            raise FaceNotFound(f"no face with id {face_id} in the ledger (see faceledger status)")
        others = conn.execute(
            select(FACES.c.id, FACES.c.face_index, FACES.c.x1, FACES.c.y1, FACES.c.x2, FACES.c.y2,
                   FACES.c.excluded_request_id)
            .where(FACES.c.photo_id == face.id).order_by(FACES.c.face_index, FACES.c.id)
        ).all()  # fmt: skip
    return face, list(others)


def _frame(face: Any, others: list[Any]) -> tuple[int, int]:
    """The photo's pixel size; without one recorded, the smallest frame holding every box."""
    if face.width and face.height:
        return int(face.width), int(face.height)
    return (
        int(max((o.x2 for o in others), default=1)) + 1,
        int(max((o.y2 for o in others), default=1)) + 1,
    )


def _decision(ledger: Ledger, face_id: int, purpose: str, action: str, policies: list[Policy],
              public: bool, claimed: bool) -> tuple[dict[str, Any] | None, str | None]:  # fmt: skip
    """The explained decision; for the public without the per-law reasons, and for a claimed
    face without the violations' wording too (it may say what a claim or consent stated)."""
    try:
        doc = explain_face(
            ledger, face_id=face_id, purpose=purpose, action=action, policies=policies
        )
    except AssessmentNotFound as exc:
        return None, str(exc) if not public else f"not assessed yet for {purpose!r}"
    current, recorded = doc["current"], doc["recorded"]
    laws = [
        {"id": law["id"], "title": law["title"], "applies": law["applies"],
         "reasons": [] if public else list(law["reasons"]),
         "violations": [
             {"section": v["section"], "citation": v["citation"], "reason": None if public and claimed else v["reason"]}
             for v in law["violations"]
         ], "destroy_by": law["destroy_by"]}
        for law in current["laws"]
    ]  # fmt: skip
    decision = {
        "purpose": recorded["purpose"], "action": recorded["action"], "decision": current["decision"],
        "recorded_decision": recorded["decision"], "assessed_at": _iso(recorded["assessed_at"]),
        "destroy_by": current["destroy_by"], "laws": laws, "changed": doc["changed"],
    }  # fmt: skip
    if not public:
        decision.update(reasons=list(current["reasons"]), jurisdictions=current["jurisdictions"],
                        differences=doc["differences"], prose=doc["prose"])  # fmt: skip
    return decision, None


def _claims(ledger: Ledger, face_id: int) -> list[dict[str, Any]]:
    out = []
    for claim in list_claims(ledger, face_id=face_id):
        out.append({
            "id": claim.id, "by": claim.by, "relationship": claim.relationship,
            "is_photo_owner": claim.is_photo_owner, "owner_verified": claim.owner_verified,
            "status": claim.status, "minor": claim.minor, "age": claim.age,
            "evidence_kind": claim.evidence.get("kind"), "evidence_verified": bool(claim.evidence.get("verified")),
            "created_at": _iso(claim.created_at), "revoked_at": _iso(claim.revoked_at),
        })  # fmt: skip
    return out


def _consent(ledger: Ledger, face: Any, purpose: str, public: bool) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    with ledger.read() as conn:
        cover = load_book(conn, [face]).for_face(face)
    for_purpose = [
        c for c in cover.consents
        if purpose in c.purposes and c.revoked is None and (c.expires is None or c.expires >= today)
    ]  # fmt: skip
    state = {"covered": bool(for_purpose), "purpose": purpose}
    if public:
        return state
    return state | {
        "is_photo_owner": cover.is_photo_owner, "minor": cover.minor, "age": cover.age,
        "consents": [
            {"form": c.form, "purposes": list(c.purposes), "informed": c.informed, "given_by": c.given_by,
             "relationship": c.relationship, "kind": c.kind, "signed": c.signed, "granted": _iso(c.granted),
             "expires": _iso(c.expires), "revoked": _iso(c.revoked)}
            for c in cover.consents
        ],
    }  # fmt: skip


def _tags(text: str | None) -> set[str]:
    return {t.strip().lower() for t in (text or "").split(",") if t.strip()}


def _requests(ledger: Ledger, face: Any, public: bool) -> list[dict[str, Any]]:
    """Every request that names this face, its photo, its owner account, a URL of its photo or
    (for the owner) one of its tags; oldest first."""
    keys: list[Any] = [
        REQUESTS.c.id.in_(
            select(REQUEST_FACES.c.request_id).where(REQUEST_FACES.c.face_id == face.face_id)
        )
    ]
    owners = [v for v in (face.owner_id, face.owner_nickname) if v]
    if owners:
        keys.append((REQUESTS.c.key_type == "owner") & REQUESTS.c.key_value.in_(owners))
    if face.owner_id:
        keys.append((REQUESTS.c.key_type == "tag") & (REQUESTS.c.owner_scope == face.owner_id))
    if face.external_id:
        keys.append((REQUESTS.c.key_type == "photo") & (REQUESTS.c.key_value == face.external_id))
    urls = [v for v in (face.page_url, face.download_url) if v]
    if urls:
        keys.append((REQUESTS.c.key_type == "url") & REQUESTS.c.key_value.in_(urls))
    with ledger.read() as conn:
        rows = conn.execute(select(REQUESTS).where(or_(*keys)).order_by(REQUESTS.c.id)).all()
        reviews = {
            int(r.request_id): r for r in conn.execute(
                select(REQUEST_FACES).where(REQUEST_FACES.c.face_id == face.face_id))
        }  # fmt: skip
    tags = _tags(face.tags)
    out = []
    for row in rows:
        if row.key_type == "tag" and (row.key_value or "").strip().lower() not in tags:
            continue
        if public:
            out.append({"kind": row.kind, "status": row.status})
            continue
        review = reviews.get(int(row.id))
        out.append({
            "id": int(row.id), "kind": row.kind, "status": row.status, "key_type": row.key_type,
            "covers": row.covers, "law": row.law, "received_at": _iso(row.received_at),
            "deadline": _iso(row.deadline), "executed_at": _iso(row.executed_at),
            "basis": review.basis if review is not None else row.key_type,
            "face_status": review.status if review is not None else None,
            "excluded_this_face": int(row.id) in {face.face_excluded, face.excluded_request_id},
        })  # fmt: skip
    return out


def face_view(
    ledger: Ledger,
    face_id: int,
    *,
    purpose: str,
    audience: Audience = "console",
    action: str = DEFAULT_ACTION,
    policies: list[Policy],
    handle: Callable[[int], str] | None = None,
) -> FaceView:
    """The :class:`FaceView` of ``face_id`` for ``audience`` (``console`` or ``public``).

    ``handle`` turns a face id into what the audience may see of it: the portal passes its
    sealed handles (``web.present.face_ref``); a public view without one names faces by
    number only. The console view keeps ledger ids.

    Raises :class:`FaceNotFound` for an unknown face and, for the public, for a face that may
    not be shown (removed by a request, or on a photo its rights holder reserved).
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience {audience!r} is not one of {', '.join(AUDIENCES)}")
    public = audience == "public"
    face, others = _rows(ledger, face_id)
    removed = face.face_excluded is not None or face.excluded_request_id is not None
    if public and (removed or face.reservation is not None):
        raise FaceNotFound("nothing to show for this face")
    width, height = _frame(face, others)
    claims = _claims(ledger, int(face.face_id))
    active = [c for c in claims if c["status"] == "active"]
    decision, note = _decision(
        ledger, int(face.face_id), purpose, action, policies, public, bool(active)
    )
    boxes: list[dict[str, Any]] = [
        {"face_id": int(o.id), "index": int(o.face_index), "box": [float(o.x1), float(o.y1), float(o.x2), float(o.y2)],
         "focused": int(o.id) == int(face.face_id), "removed": o.excluded_request_id is not None}
        for o in others if not (public and o.excluded_request_id is not None)
    ]  # fmt: skip
    photo = {
        "id": int(face.id), "external_id": face.external_id, "title": face.title, "page_url": face.page_url,
        "owner_id": face.owner_id, "owner_name": face.owner_nickname, "license": face.license_name,
        "width": width, "height": height, "thumbnail_allowed": thumbnail_allowed(face),
        "removed_by_request": face.excluded_request_id, "reserved": face.reservation,
    }  # fmt: skip
    this = {
        "id": int(face.face_id), "index": int(face.face_index), "number": int(face.face_index) + 1,
        "box": [float(face.x1), float(face.y1), float(face.x2), float(face.y2)], "score": float(face.score),
        "removed_by_request": face.face_excluded,
    }  # fmt: skip
    if public:
        photo = {
            k: v for k, v in photo.items() if k not in ("id", "removed_by_request", "reserved")
        }
        this = {k: v for k, v in this.items() if k not in ("id", "removed_by_request")}
        boxes = [
            {"ref": handle(b["face_id"]) if handle else None, "index": b["index"], "box": b["box"],
             "focused": b["focused"]}
            for b in boxes
        ]  # fmt: skip
    return FaceView(
        audience=audience, face=this, photo=photo, faces=boxes, decision=decision, decision_note=note,
        claims=[] if public else claims, claimed=bool(active),
        consent=_consent(ledger, face, purpose, public), requests=_requests(ledger, face, public),
        photo_key=int(face.id),
    )  # fmt: skip
