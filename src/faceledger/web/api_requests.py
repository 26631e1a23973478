"""Filing and following requests (``/api/v1/requests``), public; the request service does
the work (:mod:`faceledger.services.requests`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path

from faceledger.services import requests as service
from faceledger.web import models, present
from faceledger.web.deps import Portal, get_portal

router = APIRouter(prefix="/api/v1", tags=["requests"], responses=models.ERRORS)
_RECEIPT = Path(min_length=1, max_length=128, description="The receipt id you were given.")


def file_request(portal: Portal, *, kind: str, token: str, law: str | None) -> Any:
    """File the request a signed search token names (shared by the page and the API)."""
    key = present.request_key(portal, token)
    if key is None:
        raise HTTPException(400, "token: unknown or expired; search again and file from the results")
    if kind not in ("optout", "erasure"):
        raise HTTPException(422, "kind: must be optout or erasure")
    law = law or None
    if law is not None and law not in portal.settings.request_deadlines:
        raise HTTPException(422, f"law: one of {', '.join(portal.settings.request_deadlines)}")
    if key["key_type"] == "face":
        return service.new_face_request(
            portal.ledger, portal.settings, kind=kind, matches=key["faces"], consent_given=True,
            law=law, actor="portal",
        )  # fmt: skip
    if key["key_type"] == "photo":
        value = service.photo_request_key(portal.ledger, int(key["photo_id"]))
        return service.new_request(
            portal.ledger, portal.settings, kind=kind, key_type=value[0], value=value[1], law=law,
            actor="portal",
        )  # fmt: skip
    return service.new_request(
        portal.ledger, portal.settings, kind=kind, key_type="owner", value=key["value"], law=law,
        actor="portal",
    )  # fmt: skip


@router.post("/requests", response_model=models.Receipt, status_code=201, summary="File an opt-out or erasure")
def create(body: models.RequestIn, portal: Portal = Depends(get_portal)) -> dict[str, Any]:
    """File a request for what a search returned (its ``request_token`` or ``owner_token``).
    Keep the receipt: it is the only way to follow the request."""
    record = file_request(portal, kind=body.kind, token=body.token, law=body.law)
    return {"receipt": record.receipt, "status_url": f"/requests/{record.receipt}",
            "status": present.request_status(record)}  # fmt: skip


@router.get("/requests/{receipt}", response_model=models.RequestStatus, summary="A request's status")
def status(receipt: str = _RECEIPT, portal: Portal = Depends(get_portal)) -> dict[str, Any]:
    """Each step of the request with its time, and the legal deadline."""
    return present.request_status(service.get_request_by_receipt(portal.ledger, receipt))
