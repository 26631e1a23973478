"""The public pages: search by account, photo, tag or selfie; owner verification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from faceledger.services.biometrics.matching import thresholds_for
from faceledger.services.people.verification import new_challenge, verify_owner
from faceledger.services.portal import lookup
from faceledger.web import present, uploads
from faceledger.web.api_public import run_selfie
from faceledger.web.deps import Portal, SelfieSearch, get_portal, get_selfie_search
from faceledger.web.present import CHALLENGE_AGE, CHALLENGE_SALT, OWNER_AGE, OWNER_SALT
from faceledger.web.security import OWNER_COOKIE, check_csrf

router = APIRouter(include_in_schema=False)


def render(
    portal: Portal, request: Request, name: str, http_status: int = 200, **context: Any
) -> HTMLResponse:
    return portal.templates.TemplateResponse(request, name, context, status_code=http_status)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, portal: Portal = Depends(get_portal)) -> HTMLResponse:
    return render(portal, request, "home.html")


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request, portal: Portal = Depends(get_portal),
    owner: str | None = Query(None, max_length=512), photo: str | None = Query(None, max_length=512),
    tag: str | None = Query(None, max_length=512),
) -> HTMLResponse:  # fmt: skip
    given = [name for name, value in (("owner", owner), ("photo", photo), ("tag", tag)) if value]
    if len(given) != 1:
        raise HTTPException(400, "search by exactly one of: a Flickr account, a photo, a tag")
    if owner:
        result = present.search(portal, lookup.lookup_owner(portal.ledger, owner), owner=True)
        proof = present.owner_proof(portal, request.cookies.get(OWNER_COOKIE))
        verified = proof is not None and all(p["owner_id"] == proof for p in result["photos"])
        return render(portal, request, "results.html", result=result, label="Photos of account",
                      verified_owner=verified, owner_search=True)  # fmt: skip
    if photo:
        result = present.search(portal, lookup.lookup_photo(portal.ledger, photo), owner=False)
        return render(
            portal, request, "results.html", result=result, label="Photo", owner_search=False
        )
    verified_owner = present.owner_proof(portal, request.cookies.get(OWNER_COOKIE))
    result = present.tag(
        portal, lookup.tag_summary(portal.ledger, tag or "", owner_id=verified_owner)
    )
    return render(portal, request, "tag.html", result=result)


@router.post("/verify/start", response_class=HTMLResponse)
def verify_start(
    request: Request, portal: Portal = Depends(get_portal),
    owner_id: str = Form("", max_length=128), tag: str = Form("", max_length=512),
    csrf_token: str = Form("", max_length=256),
) -> HTMLResponse:  # fmt: skip
    check_csrf(request, csrf_token)
    owner = owner_id.strip()
    if not owner:
        raise HTTPException(400, "give your Flickr NSID")
    nonce, code = new_challenge(portal.secret, owner)
    challenge = portal.signer.dumps(CHALLENGE_SALT, [owner, nonce])
    return render(
        portal, request, "verify.html", owner_id=owner, code=code, challenge=challenge, tag=tag
    )


@router.post("/verify/check")
def verify_check(
    request: Request, portal: Portal = Depends(get_portal),
    challenge: str = Form("", max_length=2048), tag: str = Form("", max_length=512),
    csrf_token: str = Form("", max_length=256),
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    value = portal.signer.loads(CHALLENGE_SALT, challenge, max_age=CHALLENGE_AGE)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise HTTPException(400, "this verification expired: start again")
    owner, nonce = value
    portal.audit_budget.take()  # verify_owner audits every check
    if not verify_owner(portal.ledger, portal.verifier, portal.secret, owner, nonce):
        return render(
            portal, request, "verify.html", http_status=400, owner_id=owner, challenge=challenge, tag=tag,
            code=present_code(portal, owner, nonce),
            failed="We could not find the code in that account's profile yet. Save your profile and check again.",
        )  # fmt: skip
    target = "/search?" + (
        "tag=" + _quote(tag) if tag else "owner=" + _quote(owner)
    )  # back to the search
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        OWNER_COOKIE, portal.signer.dumps(OWNER_SALT, owner), max_age=OWNER_AGE, httponly=True,
        samesite="strict", secure=portal.settings.web_cookie_secure,
    )  # fmt: skip
    return response


def present_code(portal: Portal, owner: str, nonce: str) -> str:
    from faceledger.services.people.verification import challenge_code

    return challenge_code(portal.secret, owner, nonce)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@router.get("/selfie", response_class=HTMLResponse)
def selfie_form(request: Request, portal: Portal = Depends(get_portal)) -> HTMLResponse:
    settings = portal.settings
    return render(
        portal, request, "selfie.html", threshold=thresholds_for(settings).match,
        max_results=settings.web_selfie_results, max_bytes=settings.web_max_upload_bytes,
    )  # fmt: skip


@router.post("/selfie", response_class=HTMLResponse)
async def selfie_search(
    request: Request, portal: Portal = Depends(get_portal),
    searcher: SelfieSearch = Depends(get_selfie_search),
) -> HTMLResponse:  # fmt: skip
    def csrf(parts: dict[str, uploads.Part]) -> None:
        check_csrf(request, uploads.text_part(parts, "csrf_token"))

    result = await run_selfie(request, portal, searcher, check=csrf)
    return render(portal, request, "selfie_results.html", result=result)
