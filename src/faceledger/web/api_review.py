"""The console API for reviewing one request (``/api/v1/console/requests/{id}``): bearer
tokens only (no cookies, so no CSRF), reviewer or admin role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from faceledger.services.portal.users import User
from faceledger.web import console, models
from faceledger.web.deps import Portal, api_user, get_portal

router = APIRouter(prefix="/api/v1/console", tags=["console"], responses=models.ERRORS)


class FaceDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(
        default=None, max_length=2000, description="Required to reject (e.g. 'my daughter')."
    )


@router.get("/requests/{request_id}", summary="One request: contact, evidence, faces to review")
def request_detail(
    request_id: int = Path(ge=1, le=2**62), portal: Portal = Depends(get_portal), user: User = Depends(api_user)
) -> dict[str, Any]:  # fmt: skip
    """Everything but the receipt, with the requester's contact (the read is audited) and
    each face the request covers, with its review status."""
    return console.detail(portal, user, request_id)


@router.post(
    "/requests/{request_id}/faces/{face_id}/{decision}", summary="confirm | reject one matched face"
)
def face_decision(
    decision: str, request_id: int = Path(ge=1, le=2**62), face_id: int = Path(ge=1, le=2**62), body: FaceDecision | None = None,
    portal: Portal = Depends(get_portal), user: User = Depends(api_user),
) -> dict[str, Any]:  # fmt: skip
    """Confirm that a matched face is the requester's (or their child's), or reject it (a
    look-alike: the request never touches it; a reason is required)."""
    reason = body.reason if body else None
    return console.decide_face(portal, user, request_id, face_id, decision, reason)  # type: ignore[no-any-return]
