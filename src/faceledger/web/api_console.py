"""The console's JSON API (``/api/v1/console``): bearer tokens only (no cookies, so no CSRF),
reviewer or admin role."""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from faceledger.services.decisions.exposure import ledger_exposure
from faceledger.services.lifecycle import release_consumers, release_versions
from faceledger.services.oversight.audit import find_events, verify_audit
from faceledger.services.people.consent import import_consents, list_consents
from faceledger.services.portal.users import User
from faceledger.web import console, models, uploads
from faceledger.web.deps import Portal, api_may, api_user, get_portal

router = APIRouter(prefix="/api/v1/console", tags=["console"], responses=models.ERRORS)
CONSENT_BODY = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary",
                                "description": "A consent file, .csv or .jsonl (see docs/consent.md)."}},
    }}}}
}  # fmt: skip

CONSENT_IMPORTER = api_may("consent.import")  # admins only (services.users.ADMIN_ONLY)


class Me(BaseModel):
    name: str
    role: str


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(
        default=None, max_length=2000, description="Required to reject or extend."
    )


class ConsoleRequest(BaseModel):
    id: int
    kind: str
    key_type: str
    status: str
    law: str
    received_at: str
    deadline: str
    days_left: int | None
    overdue: bool
    matched_faces: int
    reject_reason: str | None = None
    result: dict[str, Any] | None = None
    covers: str | None = Field(default=None, description="account, tag, photo or faces.")
    has_contact: bool = Field(
        default=False, description="A contact is on file (GET /console/requests/{id} shows it)."
    )
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, description="The identity evidence recorded."
    )
    faces: dict[str, int] | None = Field(default=None, description="Faces by review status.")
    deadline_original: str | None = None
    extended_at: str | None = None
    extension_reason: str | None = None


@router.get("/me", response_model=Me)
def me(user: User = Depends(api_user)) -> dict[str, Any]:
    return {"name": user.name, "role": user.role}


@router.get("/requests", response_model=list[ConsoleRequest], summary="The request queue")
def requests_queue(
    portal: Portal = Depends(get_portal), user: User = Depends(api_user),
    status: str | None = Query(None, pattern="^(received|verified|executed|confirmed|rejected)$"),
    overdue: bool = Query(False, description="Only open requests past their deadline."),
) -> list[dict[str, Any]]:  # fmt: skip
    """Requests, open ones first by deadline (receipts and contacts are never shown here)."""
    return console.queue(portal, status=status, overdue=overdue)


@router.post("/requests/{request_id}/{action}", response_model=ConsoleRequest,
             summary="verify | execute (admin) | confirm | reject | extend a request")  # fmt: skip
def request_action(
    request_id: int, action: str, body: Action | None = None,
    portal: Portal = Depends(get_portal), user: User = Depends(api_user),
) -> dict[str, Any]:  # fmt: skip
    if request_id < 1 or request_id > 2**31:
        raise HTTPException(404, f"no request with id {request_id}")
    record = console.act(portal, user, request_id, action, body.reason if body else None)
    doc = record.to_dict()
    doc.pop("receipt", None)
    return doc  # type: ignore[no-any-return]


@router.get("/exposure", summary="Faces and people at risk, by law")
def exposure(
    portal: Portal = Depends(get_portal), user: User = Depends(api_user),
    purpose: str | None = Query(None, min_length=1, max_length=128),
) -> dict[str, Any]:  # fmt: skip
    return ledger_exposure(
        portal.ledger, purpose=portal.settings.purpose_or(purpose), policies=portal.policies
    )


@router.get("/consents", summary="Recorded consents (never their receipts)")
def consents(
    portal: Portal = Depends(get_portal), user: User = Depends(api_user)
) -> list[dict[str, Any]]:
    return [c.to_dict() for c in list_consents(portal.ledger)]


@router.post(
    "/consents/import", summary="Import a consent file (admin)", openapi_extra=CONSENT_BODY
)
async def consents_import(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(CONSENT_IMPORTER)
) -> dict[str, Any]:
    limit = portal.settings.web_max_upload_bytes
    parts = uploads.parse_multipart(
        await uploads.read_body(request, limit), request.headers.get("content-type")
    )
    part = parts.get("file")
    if part is None or not part.data:
        raise HTTPException(400, "attach a consent file (.csv or .jsonl) in the 'file' field")
    name = PurePath(part.filename or "upload.csv").name[:128] or "upload.csv"
    report = import_consents(
        portal.ledger,
        Path(name),
        data=part.data,
        actor=f"web:{user.name}",
        policies=portal.policies,
    )
    return report.to_dict()


@router.get("/releases", summary="Release versions")
def releases(
    portal: Portal = Depends(get_portal), user: User = Depends(api_user)
) -> list[dict[str, Any]]:
    return [v.to_dict() for v in release_versions.list_releases(portal.ledger)]


@router.get("/consumers", summary="Who received which release version")
def consumers(
    portal: Portal = Depends(get_portal), user: User = Depends(api_user)
) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in c.items()}
            for c in release_consumers.list_consumers(portal.ledger)]  # fmt: skip


@router.get("/audit", summary="The newest audit events")
def audit(
    portal: Portal = Depends(get_portal), user: User = Depends(api_user),
    limit: int = Query(100, ge=1, le=1000), before: int | None = Query(None, ge=1, le=2**62),
    event: str | None = Query(None, max_length=128, description="Only events with exactly this name."),
    actor: str | None = Query(None, max_length=256, description="Only events by exactly this actor."),
) -> list[dict[str, Any]]:  # fmt: skip
    return find_events(
        portal.ledger, limit=limit, before_id=before, name=event or None, actor=actor or None
    )


@router.post("/audit/verify", summary="Verify the audit hash chain and checkpoints")
def audit_verify(
    portal: Portal = Depends(get_portal), user: User = Depends(api_user)
) -> dict[str, Any]:
    return verify_audit(
        portal.ledger, checkpoints=portal.settings.data_dir / "audit-checkpoints.jsonl"
    )


@router.get(
    "/faces/{face_id}",
    summary="One face: photo, boxes, decision and reasons, claims, consent, requests",
)
def face(
    face_id: int, portal: Portal = Depends(get_portal), user: User = Depends(api_user),
    purpose: str | None = Query(None, min_length=1, max_length=128),
) -> dict[str, Any]:  # fmt: skip
    if face_id < 1 or face_id > 2**62:
        raise HTTPException(404, f"no face with id {face_id}")
    return console.face_page(portal, face_id, purpose)
