"""The console's actions on requests, shared by its pages and its API: which role may take
which step, and the one service call each step is."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from faceledger.services.lifecycle import requests as service
from faceledger.services.portal.users import User, require
from faceledger.web.deps import Portal

ACTIONS = ("verify", "execute", "confirm", "reject", "extend")


def act(portal: Portal, user: User, request_id: int, action: str, reason: str | None = None) -> Any:
    """Take ``action`` on request ``request_id`` as ``user``; returns the updated record."""
    if action not in ACTIONS:
        raise HTTPException(404, f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    require(user, f"request.{action}")  # executing destroys templates and cuts releases
    actor = f"web:{user.name}"
    ledger = portal.ledger
    if action == "verify":
        return service.verify_request(ledger, request_id, actor=actor)
    if action == "execute":
        return service.execute_request(
            ledger, portal.vault(), portal.settings, request_id, actor=actor
        )
    if action == "confirm":
        return service.confirm_request(ledger, request_id, actor=actor)
    if action == "extend":  # to the furthest date the law allows (the CLI takes --until)
        service.extend_deadline(
            ledger, portal.settings, request_id, reason=reason or "", actor=actor
        )
        return service.get_request(ledger, request_id)
    return service.reject_request(ledger, request_id, reason=reason or "", actor=actor)


def decide_face(
    portal: Portal, user: User, request_id: int, face_id: int, decision: str, reason: str | None
) -> Any:
    """Confirm or reject one face a selfie request matched (reviewer or admin)."""
    if decision not in ("confirm", "reject"):
        raise HTTPException(404, f"unknown decision {decision!r}: confirm or reject")
    return service.decide_face(
        portal.ledger,
        request_id,
        face_id,
        confirm=decision == "confirm",
        reason=reason,
        actor=f"web:{user.name}",
    )


def detail(portal: Portal, user: User, request_id: int) -> dict[str, Any]:
    """One request for a console user: everything but the receipt, with the requester's
    contact (decrypted; the read is audited) and each face to review."""
    record = service.get_request(portal.ledger, request_id)
    doc = record.to_dict()
    doc.pop("receipt", None)
    doc["contact"] = (
        service.read_contact(portal.ledger, portal.vault(), record.id, actor=f"web:{user.name}")
        if record.has_contact else None
    )  # fmt: skip
    doc["face_review"] = service.review_faces(portal.ledger, record.id)
    return doc


def queue(
    portal: Portal, *, status: str | None = None, overdue: bool = False
) -> list[dict[str, Any]]:
    """Requests for the queue: open ones first, by deadline (overdue ones flagged)."""
    records = service.list_requests(portal.ledger, status=status, overdue=overdue)
    docs = [record.to_dict() for record in records]
    open_first = sorted(
        docs, key=lambda d: (d["status"] not in ("received", "verified"), d["deadline"], d["id"])
    )
    for doc in open_first:
        doc.pop("receipt", None)  # the requester's secret: not shown to staff either
    return open_first


def face_page(portal: Portal, face_id: int, purpose: str | None = None) -> dict[str, Any]:
    """The face-level view for a console user (``/console/faces/{id}``): the service's plain
    value, with a signed thumbnail link where the licence rule allows one, a link on every
    other face box, and each box's position in words."""
    from faceledger.services.portal.face_view import face_view
    from faceledger.web.present import THUMB_SALT, _position

    view = face_view(
        portal.ledger,
        face_id,
        purpose=portal.settings.purpose_or(purpose),
        policies=portal.policies,
    ).to_dict()
    photo = view["photo"]
    view["thumbnail_url"] = (
        "/api/v1/thumbnails/" + portal.signer.dumps(THUMB_SALT, photo["id"])
        if photo["thumbnail_allowed"]
        else None
    )
    for box in view["faces"]:
        box["number"] = box["index"] + 1
        box["position"] = _position(box["box"], photo["width"], photo["height"])
        box["href"] = None if box["focused"] else f"/console/faces/{box['face_id']}"
    view["face"]["position"] = _position(view["face"]["box"], photo["width"], photo["height"])
    return view
