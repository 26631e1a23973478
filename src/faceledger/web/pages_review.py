"""The console's request review page (``/console/requests/{id}``): who is asking (their
contact, decrypted for the reviewer and audited), the evidence, each face a selfie matched
(thumbnail where allowed, distance, photo) to confirm or reject face by face, and the deadline
extension. Forms carry the session's CSRF token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from faceledger.services.portal.users import User
from faceledger.web import console
from faceledger.web.deps import Portal, get_portal, page_user
from faceledger.web.pages_public import render
from faceledger.web.present import THUMB_SALT, _position
from faceledger.web.security import check_csrf

router = APIRouter(prefix="/console", include_in_schema=False)


def with_thumbnails(portal: Portal, faces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Signed thumbnail links (only where the licence rule allows one) and positions."""
    return [
        {**face, "position": _position(face["box"], face["width"], face["height"]),
         "thumbnail_url": "/api/v1/thumbnails/" + portal.signer.dumps(THUMB_SALT, face["photo_id"])
         if face["thumbnail"] else None}
        for face in faces
    ]  # fmt: skip


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def review(
    request: Request, request_id: int = Path(ge=1, le=2**62), portal: Portal = Depends(get_portal), user: User = Depends(page_user)
) -> HTMLResponse:  # fmt: skip
    doc = console.detail(portal, user, request_id)
    doc["face_review"] = with_thumbnails(portal, doc["face_review"])
    return render(portal, request, "console_request.html", user=user, r=doc)


@router.post("/requests/{request_id}/faces/{face_id}/{decision}")
def decide(
    request: Request, decision: str, request_id: int = Path(ge=1, le=2**62), face_id: int = Path(ge=1, le=2**62),
    portal: Portal = Depends(get_portal), user: User = Depends(page_user),
    reason: str = Form("", max_length=2000), csrf_token: str = Form("", max_length=256),
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token, session_csrf=getattr(request.state, "session_csrf", ""))
    console.decide_face(portal, user, request_id, face_id, decision, reason)
    return RedirectResponse(f"/console/requests/{request_id}", status_code=303)
