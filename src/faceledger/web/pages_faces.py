"""The portal's face page (``/faces/{ref}``): one face on its photo, as a searching person
may see it (``services.face_view`` with ``audience="public"``). ``ref`` is a sealed handle
(``web.present.face_ref``), so no ledger id is shown or accepted; a forged, expired or
removed face answers 404 with nothing about it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from faceledger.errors import FaceNotFound
from faceledger.services.portal.face_view import face_view
from faceledger.web import present
from faceledger.web.deps import Portal, get_portal
from faceledger.web.pages_public import render

router = APIRouter(include_in_schema=False)
GONE = "no face to show: the link expired, or the face is not in this dataset any more"


@router.get("/faces/{ref}", response_class=HTMLResponse)
def face(
    request: Request, ref: str, portal: Portal = Depends(get_portal),
    purpose: str | None = Query(None, min_length=1, max_length=128),
) -> HTMLResponse:  # fmt: skip
    face_id = present.face_from_ref(portal, ref[:2048])
    if face_id is None:
        raise HTTPException(404, GONE)
    try:
        value = face_view(
            portal.ledger, face_id, purpose=portal.settings.purpose_or(purpose), audience="public",
            policies=portal.policies, handle=lambda other: present.face_ref(portal, other),
        )  # fmt: skip
    except FaceNotFound:
        raise HTTPException(404, GONE) from None
    view = value.to_dict()
    photo = view["photo"]
    view["thumbnail_url"] = (
        "/api/v1/thumbnails/" + portal.signer.dumps(present.THUMB_SALT, value.photo_key)
        if photo["thumbnail_allowed"] else None
    )  # fmt: skip
    for box in view["faces"]:
        box["number"] = box["index"] + 1
        box["position"] = present._position(box["box"], photo["width"], photo["height"])
        box["href"] = None if box["focused"] or not box["ref"] else f"/faces/{box['ref']}"
    view["face"]["position"] = present._position(
        view["face"]["box"], photo["width"], photo["height"]
    )
    view["claim_url"] = "/claim?token=" + portal.signer.dumps(
        present.CLAIM_SALT, {"face_id": face_id}
    )
    return render(portal, request, "face.html", v=view)
