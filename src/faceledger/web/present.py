"""Turning service results into what the public sees: signed thumbnail links and request
tokens, so that a request can only name photos, owners or faces a search actually returned
(no free-form ids to enumerate)."""

from __future__ import annotations

from typing import Any

from faceledger.web.deps import Portal

THUMB_SALT, REQUEST_SALT, OWNER_SALT = "thumb", "request", "owner-proof"
CHALLENGE_SALT = "owner-challenge"
THUMB_AGE = 3600
REQUEST_AGE = 24 * 3600
OWNER_AGE = 3600
CHALLENGE_AGE = 24 * 3600


def photo(portal: Portal, hit: dict[str, Any]) -> dict[str, Any]:
    out = {key: hit[key] for key in (
        "photo_id", "external_id", "title", "page_url", "owner_id", "owner_name", "license",
        "faces", "excluded", "releases", "consumers",
    )}  # fmt: skip
    out["thumbnail_url"] = (
        "/api/v1/thumbnails/" + portal.signer.dumps(THUMB_SALT, hit["photo_id"]) if hit["thumbnail"] else None
    )
    out["request_token"] = portal.signer.dumps(REQUEST_SALT, {"key_type": "photo", "photo_id": hit["photo_id"]})
    return out


def search(portal: Portal, result: dict[str, Any], *, owner: bool) -> dict[str, Any]:
    photos = [photo(portal, hit) for hit in result["photos"]]
    token = None
    if owner and photos:
        token = portal.signer.dumps(REQUEST_SALT, {"key_type": "owner", "value": result["query"]})
    return {"query": result["query"], "photos": photos, "truncated": result["truncated"], "owner_token": token}


def tag(portal: Portal, result: dict[str, Any]) -> dict[str, Any]:
    own = result["own_photos"]
    return {**result, "own_photos": None if own is None else [photo(portal, hit) for hit in own]}


def selfie(portal: Portal, matches: list[dict[str, Any]], described: list[dict[str, Any]]) -> dict[str, Any]:
    by_face = {item["face_id"]: item for item in described}
    out = [
        {"face_id": m["face_id"], "distance": float(m["distance"]), "photo": photo(portal, by_face[m["face_id"]])}
        for m in matches if m["face_id"] in by_face
    ]  # fmt: skip
    token = None
    if out:
        faces = [{"face_id": m["face_id"], "subject_id": m.get("subject_id"), "distance": m["distance"]}
                 for m in matches if m["face_id"] in by_face]  # fmt: skip
        token = portal.signer.dumps(REQUEST_SALT, {"key_type": "face", "faces": faces})
    return {
        "threshold": portal.settings.match_threshold, "max_results": portal.settings.web_selfie_results,
        "matches": out, "request_token": token, "kept": False,
    }  # fmt: skip


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
    }  # fmt: skip
