"""The public request pages: file from a search result, then follow by receipt; claim a face
("this is me" / "this is my child") and opt it out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from faceledger.services.lifecycle import requests as service
from faceledger.web import present
from faceledger.web.api_requests import claim_document, claim_face, file_request
from faceledger.web.deps import Portal, get_portal
from faceledger.web.pages_public import render
from faceledger.web.security import OWNER_COOKIE, check_csrf

router = APIRouter(include_in_schema=False)


@router.post("/requests")
def create(
    request: Request, portal: Portal = Depends(get_portal),
    kind: str = Form("optout", max_length=16), token: str = Form("", max_length=4096),
    law: str = Form("", max_length=32), contact: str = Form("", max_length=320),
    csrf_token: str = Form("", max_length=256),
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    record = file_request(portal, kind=kind, token=token, law=law or None, contact=contact,
                          proof=request.cookies.get(OWNER_COOKIE))  # fmt: skip
    return RedirectResponse(f"/requests/{record.receipt}", status_code=303)


@router.get("/requests", response_class=HTMLResponse)
def lookup_form(request: Request, portal: Portal = Depends(get_portal)) -> HTMLResponse:
    return render(portal, request, "receipt_lookup.html")


@router.get("/requests/status")
def lookup(receipt: str = Query(..., min_length=1, max_length=128)) -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"/requests/{quote(receipt.strip(), safe='')}", status_code=303)


@router.get("/requests/{receipt}", response_class=HTMLResponse)
def status(request: Request, receipt: str, portal: Portal = Depends(get_portal)) -> HTMLResponse:
    record = service.get_request_by_receipt(portal.ledger, receipt[:128])
    return render(portal, request, "receipt.html", status=present.request_status(record))


@router.get("/claim", response_class=HTMLResponse)
def claim_form(
    request: Request, portal: Portal = Depends(get_portal), token: str = Query("", max_length=4096)
) -> HTMLResponse:  # fmt: skip
    """The claim form for the face a search showed: this is me / this is my child."""
    from faceledger.services.portal.lookup import face_photo_ids

    face_id = present.claim_key(portal, token)
    if face_id is None:
        raise HTTPException(
            400, "this link expired: search again and choose your face from the results"
        )
    hits = face_photo_ids(portal.ledger, [face_id])
    hit = hits[0] if hits else None
    if hit is None or hit["excluded"]:
        raise HTTPException(404, "this face is no longer in the dataset")
    photo = present._photos(portal, [hit])[0]
    face = next(
        (f for f in photo["face_boxes"] if present.claim_key(portal, f["claim_token"]) == face_id),
        None,
    )
    owner = present.owner_proof(portal, request.cookies.get(OWNER_COOKIE))
    return render(
        portal, request, "claim.html", photo=photo, face=face, token=token,
        owner_verified=owner is not None and owner == photo["owner_id"],
    )  # fmt: skip


@router.post("/claim", response_class=HTMLResponse)
def claim_submit(
    request: Request, portal: Portal = Depends(get_portal), token: str = Form("", max_length=4096),
    by: str = Form("subject", max_length=32), attest: str = Form("", max_length=8),
    is_photo_owner: str = Form("", max_length=8), csrf_token: str = Form("", max_length=256),
) -> HTMLResponse:  # fmt: skip
    check_csrf(request, csrf_token)
    record = claim_face(
        portal, token=token, by=by, relationship=None, is_photo_owner=is_photo_owner in ("yes", "on"),
        attest=attest in ("yes", "on"), proof=request.cookies.get(OWNER_COOKIE),
    )  # fmt: skip
    return render(portal, request, "claim_done.html", claim=claim_document(portal, record))
