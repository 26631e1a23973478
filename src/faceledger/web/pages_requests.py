"""The public request pages: file from a search result, then follow by receipt."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from faceledger.services import requests as service
from faceledger.web import present
from faceledger.web.api_requests import file_request
from faceledger.web.deps import Portal, get_portal
from faceledger.web.pages_public import render
from faceledger.web.security import check_csrf

router = APIRouter(include_in_schema=False)


@router.post("/requests")
def create(
    request: Request, portal: Portal = Depends(get_portal),
    kind: str = Form("optout", max_length=16), token: str = Form("", max_length=4096),
    law: str = Form("", max_length=32), csrf_token: str = Form("", max_length=256),
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    record = file_request(portal, kind=kind, token=token, law=law or None)
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
