"""The public JSON API (``/api/v1``): search, owner verification, selfie search, thumbnails.
Requests (opt-out / erasure) are in :mod:`faceledger.web.api_requests`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response

from faceledger.errors import NoFaceError
from faceledger.services.people.verification import new_challenge, verify_owner
from faceledger.services.portal import lookup
from faceledger.web import models, present, uploads
from faceledger.web.deps import Portal, SelfieSearch, get_portal, get_selfie_search
from faceledger.web.present import CHALLENGE_AGE, CHALLENGE_SALT, OWNER_SALT, THUMB_AGE, THUMB_SALT
from faceledger.web.selfie import release_memory, shrink_selfie

router = APIRouter(prefix="/api/v1", tags=["public"], responses=models.ERRORS)
_Q = Query(
    min_length=1,
    max_length=512,
    pattern=models.IDENTIFIER,
    description="An exact identifier (no wildcards).",
)
_TAG = Query(min_length=1, max_length=512, pattern=models.TAG, description="One exact tag.")
SELFIE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["consent", "image"],
                    "properties": {
                        "consent": {"type": "string", "enum": ["yes"], "description":
                                    "I agree that a template of my face is computed for this "
                                    "search only and deleted right after."},
                        "image": {"type": "string", "format": "binary",
                                  "description": "A JPEG or PNG photo of you."},
                    },
                }
            }
        },
    }
}  # fmt: skip


@router.get(
    "/search/owner", response_model=models.SearchResult, summary="Photos of one Flickr account"
)
def search_owner(q: str = _Q, portal: Portal = Depends(get_portal)) -> dict[str, Any]:
    """Photos whose owner NSID or username is exactly ``q``."""
    return present.search(portal, lookup.lookup_owner(portal.ledger, q), owner=True)


@router.get("/search/photo", response_model=models.SearchResult, summary="One photo by URL or id")
def search_photo(q: str = _Q, portal: Portal = Depends(get_portal)) -> dict[str, Any]:
    """The photo whose Flickr id, page URL or download URL is exactly ``q``."""
    return present.search(portal, lookup.lookup_photo(portal.ledger, q), owner=False)


@router.get("/search/tag", response_model=models.TagResult, summary="Counts for one tag")
def search_tag(
    q: str = _TAG, portal: Portal = Depends(get_portal),
    x_owner_proof: str | None = Header(default=None, max_length=4096),
) -> dict[str, Any]:  # fmt: skip
    """How many photos, faces and owners carry exactly this tag; with a valid
    ``X-Owner-Proof`` (from /verify/check) also the verified owner's own photos with it."""
    owner = present.owner_proof(portal, x_owner_proof)
    return present.tag(portal, lookup.tag_summary(portal.ledger, q, owner_id=owner))


@router.post(
    "/verify/start", response_model=models.Challenge, summary="Start proving you own an account"
)
def verify_start(body: models.VerifyStart, portal: Portal = Depends(get_portal)) -> dict[str, Any]:
    owner = body.owner_id.strip()
    if not owner:
        raise HTTPException(422, "owner_id: give your Flickr NSID")
    nonce, code = new_challenge(portal.secret, owner)
    return {"owner_id": owner, "code": code,
            "challenge": portal.signer.dumps(CHALLENGE_SALT, [owner, nonce])}  # fmt: skip


@router.post(
    "/verify/check", response_model=models.Verified, summary="Check the code in your profile"
)
def verify_check(body: models.VerifyCheck, portal: Portal = Depends(get_portal)) -> dict[str, Any]:
    value = portal.signer.loads(CHALLENGE_SALT, body.challenge, max_age=CHALLENGE_AGE)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise HTTPException(400, "challenge: unknown or expired; start again")
    owner, nonce = value
    portal.audit_budget.take()  # verify_owner audits every check
    if not verify_owner(portal.ledger, portal.verifier, portal.secret, owner, nonce):
        return {"verified": False, "owner_id": None, "proof": None,
                "message": "the code was not found in that account's profile yet"}  # fmt: skip
    return {"verified": True, "owner_id": owner, "proof": portal.signer.dumps(OWNER_SALT, owner),
            "message": "verified for one hour"}  # fmt: skip


async def run_selfie(
    request: Request, portal: Portal, searcher: SelfieSearch,
    check: Callable[[dict[str, uploads.Part]], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Shared by the page and the API: parse the upload in memory, search, describe.

    At most ``web_selfie_concurrency`` run at once (503 beyond, before the body is read); the
    image is decoded at working size (:mod:`faceledger.web.selfie`) before the search sees it,
    and freed memory is handed back afterwards."""
    settings = portal.settings
    with portal.selfie_gate.slot():
        try:
            matches = await _search_upload(request, portal, searcher, check)
        finally:
            release_memory()
    answer = matches if isinstance(matches, dict) else None  # the whole answer, or matches only
    found: list[dict[str, Any]] = answer["matches"] if answer is not None else matches  # type: ignore[assignment]
    matches = found[: settings.web_selfie_results]
    described = lookup.face_photo_ids(portal.ledger, [int(m["face_id"]) for m in matches])
    return present.selfie(portal, matches, described, answer)


async def _search_upload(
    request: Request, portal: Portal, searcher: SelfieSearch,
    check: Callable[[dict[str, uploads.Part]], None] | None,
) -> list[dict[str, Any]] | dict[str, Any]:  # fmt: skip
    settings = portal.settings
    limit = settings.web_max_upload_bytes
    parts = uploads.parse_multipart(
        await uploads.read_body(request, limit), request.headers.get("content-type")
    )
    if check is not None:
        check(parts)
    if uploads.text_part(parts, "consent") not in ("yes", "on", "true"):
        raise HTTPException(
            400, "consent: a selfie search needs your explicit consent to compute a template "
            "of your face for this search only",
        )  # fmt: skip
    image = uploads.image_part(parts, "image", limit)
    parts.clear()
    raw_cap = min(settings.max_image_pixels, settings.web_selfie_max_raw_pixels)
    small = await portal.selfie_gate.run(
        shrink_selfie, image, max_pixels=settings.web_selfie_max_pixels, max_raw_pixels=raw_cap
    )
    del image
    portal.audit_budget.take()
    try:
        return await portal.selfie_gate.run(searcher, small)
    except NoFaceError:
        raise HTTPException(
            422, "no face was found in the photo: try a clear, front-facing photo"
        ) from None
    finally:
        del small


@router.post("/selfie", response_model=models.SelfieResult, summary="Search by selfie (with consent)",
             openapi_extra=SELFIE_BODY)  # fmt: skip
async def selfie(
    request: Request, portal: Portal = Depends(get_portal),
    searcher: SelfieSearch = Depends(get_selfie_search),
) -> dict[str, Any]:  # fmt: skip
    """Faces within the match threshold of the largest face in your photo (at most a few).
    The photo is held in memory only; its template is deleted right after the search."""
    return await run_selfie(request, portal, searcher)


@router.get("/thumbnails/{token}", summary="A thumbnail from a search result",
            responses={200: {"content": {"image/jpeg": {}}}})  # fmt: skip
async def thumbnail(token: str, portal: Portal = Depends(get_portal)) -> Response:
    photo_id = portal.signer.loads(THUMB_SALT, token, max_age=THUMB_AGE)
    data = None
    if isinstance(photo_id, int):  # a decode each: on the thumbnail threads (see Portal)
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(
            portal.thumbnails,
            partial(lookup.thumbnail, max_pixels=portal.settings.max_image_pixels),
            portal.ledger, photo_id,
        )  # fmt: skip
    if data is None:
        raise HTTPException(404, "no thumbnail: the link expired or the photo may not be shown")
    return Response(data, media_type="image/jpeg")
