"""The JSON API's request and response shapes (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: A printable identifier with at least one non-space character.
IDENTIFIER = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
TAG = r"^[^,\x00-\x1f\x7f]*[^\s,\x00-\x1f\x7f][^,\x00-\x1f\x7f]*$"


class FaceBox(BaseModel):
    number: int = Field(description="1, 2, ... in the order shown.")
    index: int = Field(description="The face's index in the photo, as the scan numbered it.")
    box: list[float] = Field(description="[x1, y1, x2, y2] in the photo's pixels.")
    position: str = Field(description="Where the face is, in words (e.g. 'top left').")
    claim_token: str = Field(
        description="Pass to POST /api/v1/claims to say this face is yours or your child's."
    )


class Reserved(BaseModel):
    signal: str = Field(
        description="The opt-out signal's code (e.g. 'x-robots-tag', 'tdmrep', 'optout-list')."
    )
    reason: str = Field(description="What the signal says, in plain words.")


class Photo(BaseModel):
    ref: str = Field(
        description="An opaque handle of the photo (sealed, valid a day; never a ledger id)."
    )
    external_id: str | None = Field(description="The photo's id at its source (Flickr photo id).")
    title: str | None
    page_url: str | None = Field(description="The photo's page at its source.")
    owner_id: str | None
    owner_name: str | None
    license: str | None
    faces: int = Field(description="Faces detected in the photo.")
    excluded: bool = Field(
        description="Always false: a photo an executed opt-out or erasure removed is no longer listed."
    )
    thumbnail_url: str | None = Field(
        description="A small copy, only when the licence and policy allow one."
    )
    releases: list[str] = Field(description="Release versions (NAME@vN) that hold the photo.")
    consumers: list[str] = Field(description="Who received those release versions.")
    request_token: str = Field(description="Pass to POST /api/v1/requests to opt this photo out.")
    width: int | None = Field(
        default=None, description="The photo's width in pixels (when scanned)."
    )
    height: int | None = Field(
        default=None, description="The photo's height in pixels (when scanned)."
    )
    face_boxes: list[FaceBox] = Field(
        default_factory=list, description="The faces the scan found, to claim one."
    )
    reserved: Reserved | None = Field(
        default=None,
        description="Its rights holder opted out of text and data mining by a machine-readable signal: "
        "the photo is kept as metadata only, never downloaded, scanned or shown.",
    )
    scan_state: Literal["scanned", "no-image", "reserved", "pending", "error"] = Field(
        default="scanned",
        description="Whether its faces were looked for: 'scanned' (then `faces` is what the detector "
        "found, 0 included), 'no-image' (metadata only, never scanned), 'reserved', 'pending', 'error'.",
    )
    scan: str = Field(default="", description="`scan_state` in plain words.")
    no_thumbnail: Literal["reserved", "no-image", "licence"] | None = Field(
        default=None, description="Why there is no thumbnail (null when there is one)."
    )
    no_thumbnail_reason: str | None = Field(
        default=None, description="`no_thumbnail` in plain words."
    )
    datasets: list[str] = Field(
        default_factory=list, description="Imported public face datasets that list this photo."
    )


class DatasetHeld(BaseModel):
    name: str = Field(description="An imported public face dataset (e.g. DiveFace).")
    photos: int = Field(description="How many of the photos asked about it lists.")
    faces: int = Field(description="How many face crops of them it lists.")
    labels: list[str] = Field(
        description="Which kinds of annotation it attached (e.g. gender, ethnic-group), never the values."
    )
    sensitive: bool = Field(
        description="Its labels include special-category / sensitive data (e.g. ethnic group)."
    )
    citation: str | None
    licence: str | None
    optout_url: str | None = Field(
        description="Where its maintainer takes opt-out requests, when they offer one."
    )


class SearchResult(BaseModel):
    query: str
    photos: list[Photo]
    truncated: bool
    owner_token: str | None = Field(
        default=None, description="Pass to POST /api/v1/requests to opt out all these photos."
    )
    datasets: list[DatasetHeld] = Field(
        default_factory=list,
        description="Imported public face datasets that list this account or these photos "
        "(also when this ledger holds none of them).",
    )


class TagResult(BaseModel):
    tag: str
    photos: int
    faces: int
    owners: int
    verified_owner: str | None
    own_photos: list[Photo] | None = Field(
        description="The verified owner's photos with this tag (null unless verified)."
    )


class VerifyStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: str = Field(
        min_length=1, max_length=128, pattern=IDENTIFIER, description="Your Flickr NSID."
    )


class Challenge(BaseModel):
    owner_id: str
    code: str = Field(description="Put this text in your Flickr profile description.")
    challenge: str = Field(description="Pass back to /api/v1/verify/check.")


class VerifyCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str = Field(min_length=1, max_length=2048)


class Verified(BaseModel):
    verified: bool
    owner_id: str | None
    proof: str | None = Field(
        description="Send as X-Owner-Proof to see your own photos in a tag search."
    )
    message: str


class SelfieMatch(BaseModel):
    ref: str = Field(description="An opaque handle of the matched face (never a ledger id).")
    distance: float
    photo: Photo


class Searched(BaseModel):
    faces: int = Field(description="Faces in the dataset that a search could reach.")
    compared: int = Field(description="Faces compared with yours.")
    compared_stored: int = Field(description="...of them with a stored template.")
    compared_transient: int = Field(
        description="...of them with a template computed for this search only and discarded."
    )
    not_compared: int = Field(description="Faces that could not be compared.")
    not_compared_by_reason: dict[str, int] = Field(
        description="Why not: blocked-by-law, not-assessed, no-image, over-limit."
    )
    identifier_search: str = Field(description="How to find the faces that could not be compared.")


class SelfieResult(BaseModel):
    threshold: float = Field(
        description="Only faces at or below this embedding distance are shown."
    )
    max_results: int
    matches: list[SelfieMatch]
    request_token: str | None = Field(
        description="Pass to POST /api/v1/requests to opt these faces out."
    )
    kept: bool = Field(
        default=False, description="Always false: the selfie and its template are discarded."
    )
    searched: Searched | None = Field(
        default=None, description="What was compared, and what could not be."
    )


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(optout|erasure)$", description="optout or erasure.")
    token: str = Field(
        min_length=1, max_length=4096, description="A request_token or owner_token from a search."
    )
    law: str | None = Field(
        default=None, max_length=32, description="The law invoked (e.g. gdpr, cpra)."
    )
    contact: str | None = Field(
        default=None,
        max_length=320,
        description="How to reach you (e-mail or phone): stored encrypted, seen only by the reviewers.",
    )


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(
        min_length=1, max_length=4096, description="A face's claim_token from a search."
    )
    by: str = Field(
        pattern="^(subject|legal-representative)$",
        description="subject: this is me; legal-representative: this is my child.",
    )
    relationship: str | None = Field(
        default=None, max_length=64, description="For a representative, e.g. parent."
    )
    is_photo_owner: bool = Field(
        default=False, description="This is the photo owner's own face (needs X-Owner-Proof)."
    )
    attest: Literal[True] = Field(description="I attest that this is true (required: true).")


class ClaimOut(BaseModel):
    receipt: str = Field(description="Keep it: it names your claim.")
    by: str
    relationship: str | None
    is_photo_owner: bool
    owner_verified: bool
    status: str
    request_token: str = Field(description="Pass to POST /api/v1/requests to opt this face out.")


class Step(BaseModel):
    name: str
    done: bool
    at: str | None


class RequestStatus(BaseModel):
    receipt: str
    kind: str
    status: str
    law: str
    received_at: str
    deadline: str = Field(description="The legal deadline to complete the request.")
    steps: list[Step]
    reject_reason: str | None = None
    detail: dict[str, Any] | None = None
    covers: str | None = Field(default=None, description="account, tag, photo or faces.")
    extension: dict[str, Any] | None = Field(
        default=None, description="The deadline was extended: the original deadline and why."
    )
    faces: dict[str, int] | None = Field(
        default=None,
        description="A face request's faces by review status (pending, confirmed, rejected, claimed).",
    )


class Receipt(BaseModel):
    receipt: str
    status_url: str
    status: RequestStatus


class Problem(BaseModel):
    detail: str = Field(description="What was wrong, in words a person can act on.")


def _error(text: str) -> dict[str, Any]:
    return {"model": Problem, "description": text}


#: The error answers every API route may give (all ``{"detail": "..."}``).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The request cannot be used as given (e.g. an expired token)."),
    401: _error("A console API token is required."),
    403: _error("The token's role may not do this."),
    404: _error("No such resource (or it may not be shown)."),
    409: _error("The request is not in a state that allows this step."),
    413: _error("The upload is too large."),
    415: _error("The upload is not a supported type."),
    422: _error("A parameter or field is invalid; the message names it."),
    429: _error("Too many requests from this address; see Retry-After."),
    503: _error("The ledger is unavailable."),
}
