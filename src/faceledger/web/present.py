"""Turning service results into what the public sees: signed thumbnail links and request
tokens, so that a request can only name photos, owners or faces a search actually returned
(no free-form ids to enumerate)."""

from __future__ import annotations

from typing import Any

from faceledger.core.signals import reservation_words
from faceledger.services.biometrics.matching import thresholds_for
from faceledger.web.deps import Portal

THUMB_SALT, REQUEST_SALT, OWNER_SALT = "thumb", "request", "owner-proof"
CHALLENGE_SALT = "owner-challenge"
CLAIM_SALT = "claim"
CLAIM_AGE = 3600
THUMB_AGE = 3600
REQUEST_AGE = 24 * 3600
OWNER_AGE = 3600
CHALLENGE_AGE = 24 * 3600
PHOTO_REF_SALT, FACE_REF_SALT = "photo-ref", "face-ref"
REF_AGE = 24 * 3600


def photo_ref(portal: Portal, photo_id: int) -> str:
    """The public handle of a ledger photo: sealed (AES-GCM, see ``web.security.Signer``),
    different every time, valid a day. Public pages and the API never show ledger ids: every
    public token or handle is made with ``portal.signer.dumps`` (which seals, not just signs)."""
    return portal.signer.dumps(PHOTO_REF_SALT, int(photo_id))


def photo_from_ref(portal: Portal, ref: str) -> int | None:
    """The ledger photo id a handle names, or ``None`` (forged, expired, another kind)."""
    value = portal.signer.loads(PHOTO_REF_SALT, ref, max_age=REF_AGE)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def face_ref(portal: Portal, face_id: int) -> str:
    """The public handle of a ledger face (see :func:`photo_ref`)."""
    return portal.signer.dumps(FACE_REF_SALT, int(face_id))


def face_from_ref(portal: Portal, ref: str) -> int | None:
    value = portal.signer.loads(FACE_REF_SALT, ref, max_age=REF_AGE)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _position(box: list[float], width: int | None, height: int | None) -> str:
    """Where a face is, in words ("top left", "middle centre"...), for a list of faces."""
    if not width or not height:
        return "position unknown"
    cx, cy = (box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height
    horizontal = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
    vertical = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "middle"
    return f"{vertical} {horizontal}"


def face_boxes(portal: Portal, faces: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each face of a photo with a signed token to claim it (no template involved)."""
    if not faces:
        return []
    return [
        {"number": number, "index": face["index"], "box": [round(v, 1) for v in face["box"]],
         "position": _position(face["box"], faces["width"], faces["height"]),
         "claim_token": portal.signer.dumps(CLAIM_SALT, {"face_id": face["face_id"]}),
         "ref": face_ref(portal, face["face_id"])}  # the face page, /faces/{ref} (web/pages_faces.py)
        for number, face in enumerate(faces["faces"], start=1)
    ]  # fmt: skip


def photo(
    portal: Portal, hit: dict[str, Any], faces: dict[str, Any] | None = None
) -> dict[str, Any]:
    out = {key: hit[key] for key in (
        "external_id", "title", "page_url", "owner_id", "owner_name", "license",
        "faces", "excluded", "releases", "consumers",
    )}  # fmt: skip
    out["ref"] = photo_ref(portal, hit["photo_id"])
    reservation = hit.get("reservation")
    out["reserved"] = (
        None
        if reservation is None
        else {"signal": reservation, "reason": reservation_words(reservation)}
    )
    out["thumbnail_url"] = (
        "/api/v1/thumbnails/" + portal.signer.dumps(THUMB_SALT, hit["photo_id"])
        if hit["thumbnail"] and reservation is None
        else None
    )
    out["request_token"] = portal.signer.dumps(
        REQUEST_SALT, {"key_type": "photo", "photo_id": hit["photo_id"]}
    )
    out["width"], out["height"] = (faces or {}).get("width"), (faces or {}).get("height")
    out["face_boxes"] = face_boxes(portal, faces) if not hit["excluded"] else []
    out.update(scan_words(hit))
    out["datasets"] = list(hit.get("datasets") or [])
    return out


def scan_words(hit: dict[str, Any]) -> dict[str, Any]:
    """Whether the photo was scanned and why it has no thumbnail, as codes and plain words
    (``services.lookup.SCAN_STATES`` / ``NO_THUMBNAIL``): never "0 faces" for a photo nobody
    looked at, never "the licence does not allow" for a photo of which no copy is held."""
    from faceledger.services.portal.lookup import NO_THUMBNAIL, SCAN_STATES

    state = hit.get("scan_state") or "scanned"
    reason = hit.get("no_thumbnail")
    return {"scan_state": state, "scan": SCAN_STATES.get(state, state), "no_thumbnail": reason,
            "no_thumbnail_reason": NO_THUMBNAIL.get(reason) if reason else None}  # fmt: skip


_OPTOUT_SCHEMES = ("https://", "http://", "mailto:")


def datasets(held: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The imported datasets a search found, as the public sees them: counts, annotation
    kinds (never values) and the maintainer's opt-out route (a link only for a safe scheme)."""
    keys = ("name", "photos", "faces", "labels", "sensitive", "citation", "licence", "optout_url")
    out = []
    for item in held or []:
        entry = {key: item.get(key) for key in keys}
        entry["labels"] = list(entry["labels"] or [])
        url = entry["optout_url"]
        entry["optout_url"] = (
            url if isinstance(url, str) and url.startswith(_OPTOUT_SCHEMES) else None
        )
        out.append(entry)
    return out


def _photos(portal: Portal, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Search hits with their face boxes (the ``layout`` each hit carries)."""
    return [photo(portal, hit, hit.get("layout")) for hit in hits]


def search(portal: Portal, result: dict[str, Any], *, owner: bool) -> dict[str, Any]:
    photos = _photos(portal, result["photos"])
    token = None
    if owner and photos:
        token = portal.signer.dumps(REQUEST_SALT, {"key_type": "owner", "value": result["query"]})
    return {"query": result["query"], "photos": photos, "truncated": result["truncated"], "owner_token": token,
            "datasets": datasets(result.get("datasets"))}  # fmt: skip


def tag(portal: Portal, result: dict[str, Any]) -> dict[str, Any]:
    own = result["own_photos"]
    return {**result, "own_photos": None if own is None else _photos(portal, own)}


def selfie(
    portal: Portal, matches: list[dict[str, Any]], described: list[dict[str, Any]],
    searched: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    by_face = {item["face_id"]: item for item in described}
    out = [
        {"ref": face_ref(portal, m["face_id"]), "distance": float(m["distance"]),
         "photo": photo(portal, by_face[m["face_id"]])}
        for m in matches if m["face_id"] in by_face
    ]  # fmt: skip
    token = None
    if out:
        faces = [{"face_id": m["face_id"], "subject_id": m.get("subject_id"), "distance": m["distance"]}
                 for m in matches if m["face_id"] in by_face]  # fmt: skip
        token = portal.signer.dumps(REQUEST_SALT, {"key_type": "face", "faces": faces})
    return {
        "threshold": thresholds_for(portal.settings).match, "max_results": portal.settings.web_selfie_results,
        "matches": out, "request_token": token, "kept": False, "searched": _searched(searched),
    }  # fmt: skip


def _searched(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a selfie search compared and what it could not (counts only)."""
    if answer is None:
        return None
    keys = ("faces", "compared", "compared_stored", "compared_transient", "not_compared",
            "not_compared_by_reason", "identifier_search")  # fmt: skip
    return {key: answer[key] for key in keys if key in answer}


def claim_key(portal: Portal, token: str) -> int | None:
    """The face a claim token names, or ``None`` if forged or older than an hour."""
    value = portal.signer.loads(CLAIM_SALT, token, max_age=CLAIM_AGE)
    face = value.get("face_id") if isinstance(value, dict) else None
    return face if isinstance(face, int) else None


def claim_request_token(portal: Portal, claim_id: int) -> str:
    """The request token a person gets with their claim: a request for that face."""
    return portal.signer.dumps(REQUEST_SALT, {"key_type": "claim", "claim_id": claim_id})


def request_key(portal: Portal, token: str) -> dict[str, Any] | None:
    """What a request token names, or ``None`` if it is forged or older than a day."""
    value = portal.signer.loads(REQUEST_SALT, token, max_age=REQUEST_AGE)
    return value if isinstance(value, dict) and "key_type" in value else None


def owner_proof(portal: Portal, token: str | None) -> str | None:
    """The owner id a proof (cookie or X-Owner-Proof) vouches for, or ``None``."""
    value = portal.signer.loads(OWNER_SALT, token or "", max_age=OWNER_AGE)
    return value if isinstance(value, str) else None


_PUBLIC_RESULT = ("photos_excluded", "faces_excluded", "templates_destroyed", "keys_shredded",
                  "versions_cut", "notices_due")  # fmt: skip


def request_status(record: Any) -> dict[str, Any]:
    """A request as its requester sees it: each step, its time, and the legal deadline."""
    doc = record.to_dict()
    steps = [
        ("Received", doc["received_at"]),
        ("Identity verified", doc["verified_at"]),
        ("Carried out: removed from the dataset, its templates and future releases"
         if record.kind != "access" else "Carried out: what we hold was gathered", doc["executed_at"]),
        ("Confirmed to you: complete", doc["confirmed_at"]),
    ]  # fmt: skip
    if doc["rejected_at"]:
        steps = [s for s in steps if s[1]] + [("Rejected", doc["rejected_at"])]
    result = record.result or {}
    return {
        "receipt": record.receipt, "kind": record.kind, "status": record.status, "law": record.law,
        "received_at": doc["received_at"], "deadline": doc["deadline"],
        "steps": [{"name": name, "done": at is not None, "at": at} for name, at in steps],
        "reject_reason": record.reject_reason,
        "detail": {k: result[k] for k in _PUBLIC_RESULT if k in result} or None,
        "covers": record.covers,
        "extension": {"deadline_original": doc["deadline_original"], "reason": record.extension_reason}
        if record.extended_at else None,
        "faces": dict(record.faces) if record.faces else None,
    }  # fmt: skip
