"""What the portal's public search answers: "which of my photos are in this dataset, which
releases hold them and who received those releases?"

Example::

    lookup_owner(ledger, "70000003@N01")        # exact NSID or exact username
    lookup_photo(ledger, "https://www.flickr.com/photos/someone/5432/")   # or "5432"
    tag_summary(ledger, "beach")                 # counts only
    tag_summary(ledger, "beach", owner_id="70000003@N01")  # + that verified owner's photos

No enumeration: every lookup needs an exact identifier (no prefixes, no wildcards, no
ranges), a tag search gives counts unless the caller proved they own an account, and at
most :data:`MAX_PHOTOS` photos come back. Local file paths never leave this module.

A thumbnail is offered only when the photo's licence allows copies to be shared and adapted
(:data:`THUMBNAIL_LICENSES`: CC without ND, CC0, public domain, government works; never
"All Rights Reserved" or an unknown licence), its bytes are local, and no request excluded
it, and its rights holder did not reserve it by an opt-out signal (``faceledger fetch``:
a reserved photo's result says which signal, never shows a copy). Otherwise the result links
to the photo's page, and says why (:data:`NO_THUMBNAIL`).

Whether a photo was scanned is said, not implied by a face count (:data:`SCAN_STATES`): a
metadata-only photo (no image bytes: a URL-only row not fetched yet) is "not scanned (no
image)", a reserved one is never scanned, and only a scanned photo has a face count that means
anything (``faces`` stays 0 otherwise, for old API clients).

An executed opt-out or erasure leaves nothing public: its photos (and faces) are left out of
every search and count, so a search for an erased account answers exactly as for an account
never ingested. Only the requester's receipt (``/requests/{receipt}``) says it was carried out.

Owner, photo and URL searches also name the imported public face datasets
(:mod:`faceledger.services.decisions.datasets`) that list those photos or that account, with the kinds
of annotation they attached (never the values) and their maintainer's opt-out route. These
come from the query itself (an NSID, a Flickr photo id or URL) and from the photos shown, so
an account found only in an imported dataset is answered too, and an erased one is not told
apart from a never-ingested one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import Connection, and_, bindparam, func, literal, or_, select

from faceledger.errors import IdentifierError, ImageError
from faceledger.services.decisions.datasets import dataset_names_by_photo, datasets_holding
from faceledger.services.lifecycle.release_consumers import holdings_by_photo
from faceledger.store import Ledger
from faceledger.store.tables import FACES, PHOTOS, bound_in_chunks
from faceledger.vision.images import load_image

MAX_PHOTOS = 200
THUMB_SIDE = 320
#: Flickr licence ids whose terms allow a reduced copy to be shown (no ND, not 0).
THUMBNAIL_LICENSES = frozenset({1, 2, 4, 5, 7, 8, 9, 10, 11, 12, 14, 15})
_FLICKR_PHOTO_URL = re.compile(r"^https?://(?:www\.)?flickr\.com/photos/[^/]+/(\d{1,20})/?")
_MAX_KEY = 512
_NSID = re.compile(r"^\d{1,20}@N\d{1,4}$")
_FLICKR_ID = re.compile(r"^\d{1,20}$")
#: ``scan_state`` values: whether the faces of a photo were looked for, and the outcome.
SCAN_STATES = {
    "scanned": "scanned: the face count is what the detector found",
    "no-image": "not scanned (no image): we hold only its description",
    "reserved": "never scanned: its rights holder reserved it",
    "pending": "not scanned yet",
    "error": "could not be scanned (the image could not be read)",
}
#: ``no_thumbnail`` values: why a result shows no thumbnail (None when it shows one).
NO_THUMBNAIL = {
    "reserved": "its rights holder reserved it: never shown",
    "no-image": "no image: we hold only its description, no copy of the photo",
    "licence": "its licence does not allow showing a copy",
}


@dataclass
class PhotoHit:
    """One photo as the public sees it."""

    photo_id: int
    external_id: str | None
    title: str | None
    page_url: str | None
    owner_id: str | None
    owner_name: str | None
    license: str | None
    faces: int
    excluded: bool
    thumbnail: bool
    releases: list[str] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)
    #: the machine-readable opt-out signal that reserved it (``faceledger fetch``), or None
    reservation: str | None = None
    #: a key of :data:`SCAN_STATES`; ``faces`` counts only when it is ``scanned``
    scan_state: str = "scanned"
    #: a key of :data:`NO_THUMBNAIL`, or None when a thumbnail is offered
    no_thumbnail: str | None = None
    #: names of the imported public face datasets that list this photo
    datasets: list[str] = field(default_factory=list)
    #: its pixel size and detected faces, for pointing at one's own face (:func:`_layout`)
    layout: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise IdentifierError(f"give an exact {what}")
    if len(text) > _MAX_KEY or any(ord(ch) < 32 for ch in text):
        raise IdentifierError(f"{what} is not valid (at most {_MAX_KEY} printable characters)")
    return text


def _search_columns() -> list[Any]:
    return [
        PHOTOS.c.id, PHOTOS.c.external_id, PHOTOS.c.title, PHOTOS.c.page_url, PHOTOS.c.owner_id,
        PHOTOS.c.owner_nickname, PHOTOS.c.license_id, PHOTOS.c.license_name, PHOTOS.c.path,
        PHOTOS.c.excluded_request_id, PHOTOS.c.reservation, PHOTOS.c.scan_status,
        PHOTOS.c.width, PHOTOS.c.height,
    ]  # fmt: skip


#: What every search selects of a photo (built once: SQLAlchemy caches its compiled form).
_COLUMNS = _search_columns()
#: Public searches never list what an executed opt-out / erasure removed.
_SHOWN = PHOTOS.c.excluded_request_id.is_(None)
#: The searches' statements, built once (their values are bound parameters).
_BY_OWNER = (
    select(*_COLUMNS)
    .where(or_(PHOTOS.c.owner_id == bindparam("key"), PHOTOS.c.owner_nickname == bindparam("key")),
           _SHOWN)
    .order_by(PHOTOS.c.id)
    .limit(MAX_PHOTOS + 1)
)  # fmt: skip
_BY_PHOTO = (
    select(*_COLUMNS)
    .where(or_(PHOTOS.c.external_id.in_(bindparam("ids", expanding=True)),
               PHOTOS.c.page_url.in_(bindparam("urls", expanding=True)),
               PHOTOS.c.download_url.in_(bindparam("urls", expanding=True))), _SHOWN)
    .order_by(PHOTOS.c.id)
    .limit(MAX_PHOTOS)
)  # fmt: skip
#: The faces of shown photos that no executed request removed (the photos' own rows say
#: whether they are shown).
_FACE_BOXES = (
    select(FACES.c.photo_id, FACES.c.id, FACES.c.face_index, FACES.c.x1, FACES.c.y1, FACES.c.x2,
           FACES.c.y2)
    .where(FACES.c.photo_id.in_(bindparam("ids", expanding=True)),
           FACES.c.excluded_request_id.is_(None))
    .order_by(FACES.c.photo_id, FACES.c.face_index, FACES.c.id)
)  # fmt: skip


def scan_state(row: Any) -> str:
    """The :data:`SCAN_STATES` key of a photos row (reserved first: it is never scanned)."""
    status = row._mapping.get("scan_status")
    if row._mapping.get("reservation") is not None or status == "reserved":
        return "reserved"
    if status == "done":
        return "scanned"
    if status == "error":
        return "error"
    return "no-image" if row.path is None else "pending"


def no_thumbnail(row: Any) -> str | None:
    """The :data:`NO_THUMBNAIL` key of a photos row, or None when a thumbnail is allowed."""
    if thumbnail_allowed(row):
        return None
    if row._mapping.get("reservation") is not None or row._mapping.get("scan_status") == "reserved":
        return "reserved"
    if row.path is None:
        return "no-image"
    return "licence"


def _hits(conn: Connection, rows: Sequence[Any]) -> list[PhotoHit]:
    """The public view of these photos rows: a few queries for all of them, in ``conn``."""
    ids = [int(row.id) for row in rows]
    held = dataset_names_by_photo(conn, ids)
    released = holdings_by_photo(conn, ids)
    boxes = _face_boxes(conn, ids)
    return [
        PhotoHit(
            photo_id=int(row.id),
            external_id=row.external_id,
            title=row.title,
            page_url=row.page_url,
            owner_id=row.owner_id,
            owner_name=row.owner_nickname,
            license=row.license_name,
            faces=len(boxes.get(int(row.id), ())),
            excluded=row.excluded_request_id is not None,
            thumbnail=thumbnail_allowed(row),
            releases=released.get(int(row.id), ([], []))[0],
            consumers=released.get(int(row.id), ([], []))[1],
            reservation=row.reservation,
            scan_state=scan_state(row),
            no_thumbnail=no_thumbnail(row),
            datasets=held.get(int(row.id), []),
            layout=_layout(row, boxes.get(int(row.id))),
        )  # fmt: skip
        for row in rows
    ]


def _merge_holdings(*groups: list[Any]) -> list[dict[str, Any]]:
    """Dataset holdings from several exact lookups, one entry a dataset (the first lookup
    that found it wins: counts are never added across lookups, which may overlap)."""
    merged: dict[str, dict[str, Any]] = {}
    for group in groups:
        for held in group:
            merged.setdefault(held.name, {**held.to_dict(), "sensitive": held.sensitive,
                                          "citation": held.citation, "licence": held.licence,
                                          "optout_url": held.optout_url})  # fmt: skip
    return sorted(merged.values(), key=lambda d: str(d["name"]).lower())


def _holdings(conn: Connection, *, owners: set[str], photo_ids: set[str]) -> list[dict[str, Any]]:
    """The imported datasets listing these accounts (NSIDs) or these Flickr photo ids."""
    nsids = sorted(owner for owner in owners if _NSID.match(owner))
    groups = [datasets_holding(conn, owner_id=owner) for owner in nsids]
    flickr_ids = sorted(p for p in photo_ids if _FLICKR_ID.match(p))
    if flickr_ids:
        groups.append(datasets_holding(conn, photo_ids=flickr_ids[:MAX_PHOTOS]))
    return _merge_holdings(*groups)


def thumbnail_allowed(row: Any) -> bool:
    """The licence and policy rule above, for a photos row."""
    return (
        row.license_id in THUMBNAIL_LICENSES
        and row.path is not None
        and row.excluded_request_id is None
        # its rights holder opted out: never shown (a row without the column: no reservation known)
        and row._mapping.get("reservation") is None
    )


def lookup_owner(ledger: Ledger, owner: str) -> dict[str, Any]:
    """Photos whose owner id (NSID) or owner username is exactly ``owner``."""
    key = _key(owner, "Flickr username or NSID")
    with ledger.lookup() as conn:  # one connection for the whole answer
        rows = conn.execute(_BY_OWNER, {"key": key}).all()
        hits = _hits(conn, rows[:MAX_PHOTOS])
        # the account asked about (an NSID), or the NSID its shown photos give for a username
        owners = {key} | {hit.owner_id for hit in hits if hit.owner_id}
        photo_ids = {hit.external_id for hit in hits if hit.external_id}
        datasets = _holdings(conn, owners=owners, photo_ids=photo_ids)
    return {"query": key, "photos": [h.to_dict() for h in hits],
            "truncated": len(rows) > MAX_PHOTOS, "datasets": datasets}  # fmt: skip


def _photo_keys(ref: str) -> tuple[list[str], list[str]]:
    """(external ids, URLs) a photo reference may be."""
    match = _FLICKR_PHOTO_URL.match(ref)
    if match:
        return [match.group(1)], [ref, ref.rstrip("/"), ref.rstrip("/") + "/"]
    if ref.startswith(("http://", "https://")):
        return [], [ref, ref.rstrip("/"), ref.rstrip("/") + "/"]
    return [ref], []


def lookup_photo(ledger: Ledger, ref: str) -> dict[str, Any]:
    """The photo whose id, page URL or download URL is exactly ``ref``."""
    key = _key(ref, "photo URL or id")
    ids, urls = _photo_keys(key)
    with ledger.lookup() as conn:
        rows = conn.execute(_BY_PHOTO, {"ids": ids, "urls": urls}).all()
        hits = _hits(conn, rows)
        photo_ids = set(ids) | {hit.external_id for hit in hits if hit.external_id}
        datasets = _holdings(conn, owners=set(), photo_ids=photo_ids)
    return {"query": key, "photos": [h.to_dict() for h in hits], "truncated": False,
            "datasets": datasets}  # fmt: skip


def _tag_pattern(tag: str) -> str:
    """The LIKE pattern of :data:`_TAGGED` for exactly ``tag`` (its wildcards escaped)."""
    escaped = tag.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%,{escaped},%"


def _tagged(photos: Any) -> Any:
    """A shown photo of ``photos`` (the table or an alias) with the tag of the bound
    ``pattern`` (:func:`_tag_pattern`)."""
    padded = literal(",") + func.lower(func.replace(photos.c.tags, ", ", ",")) + literal(",")
    return and_(
        padded.like(bindparam("pattern"), escape="\\"), photos.c.excluded_request_id.is_(None)
    )


_TAGGED = _tagged(PHOTOS)
_FACE_PHOTOS = PHOTOS.alias("face_photos")
#: Photos, owners and faces with the tag: one statement.
_TAG_COUNTS = select(
    func.count(), func.count(func.distinct(PHOTOS.c.owner_id)),
    select(func.count()).select_from(FACES.join(_FACE_PHOTOS, _FACE_PHOTOS.c.id == FACES.c.photo_id))
    .where(_tagged(_FACE_PHOTOS), FACES.c.excluded_request_id.is_(None)).scalar_subquery(),
).where(_TAGGED)  # fmt: skip
_TAG_OWN = (
    select(*_COLUMNS).where(_TAGGED, PHOTOS.c.owner_id == bindparam("owner"))
    .order_by(PHOTOS.c.id).limit(MAX_PHOTOS)
)  # fmt: skip


def tag_summary(ledger: Ledger, tag: str, *, owner_id: str | None = None) -> dict[str, Any]:
    """Counts of photos, faces and owners with exactly this tag; with a *verified*
    ``owner_id`` (the caller proved they control it) also that owner's photos with it."""
    key = _key(tag, "tag")
    if "," in key:
        raise IdentifierError("give one tag (no commas)")
    pattern = {"pattern": _tag_pattern(key)}
    with ledger.lookup() as conn:
        photos, owners, faces = conn.execute(_TAG_COUNTS, pattern).one()
        own: list[PhotoHit] | None = None
        if owner_id:
            own = _hits(conn, conn.execute(_TAG_OWN, {**pattern, "owner": owner_id}).all())
    return {
        "tag": key, "photos": int(photos), "faces": int(faces), "owners": int(owners),
        "verified_owner": owner_id,
        "own_photos": None if own is None else [h.to_dict() for h in own],
    }  # fmt: skip


def face_photo_ids(ledger: Ledger, face_ids: list[int]) -> list[dict[str, Any]]:
    """Public descriptions of the photos holding these faces (for selfie search results)."""
    if not face_ids:
        return []
    with ledger.lookup() as conn:
        rows = conn.execute(
            select(*_COLUMNS, FACES.c.id.label("face_id"))
            .join(FACES, FACES.c.photo_id == PHOTOS.c.id)
            .where(FACES.c.id.in_(face_ids), _SHOWN, FACES.c.excluded_request_id.is_(None))
        ).all()
        hits = {int(row.face_id): hit for row, hit in zip(rows, _hits(conn, rows), strict=True)}
    return [{"face_id": fid, **hits[fid].to_dict()} for fid in face_ids if fid in hits]


def thumbnail(ledger: Ledger, photo_id: int, *, max_pixels: int) -> bytes | None:
    """A JPEG of at most :data:`THUMB_SIDE` px, or ``None`` when the rule above says no, or when
    the file cannot be shown: unreadable, corrupt, or over ``max_pixels`` (the scan's safe
    decoder, :func:`~faceledger.vision.images.load_image`, refuses it before decoding a pixel).
    Shown upright (EXIF orientation applied), transparency on white, no metadata."""
    with ledger.lookup() as conn:
        row = conn.execute(select(*_COLUMNS).where(PHOTOS.c.id == photo_id)).first()
    if row is None or not thumbnail_allowed(row):
        return None
    try:
        pixels = load_image(Path(row.path), max_pixels=max_pixels, max_side=THUMB_SIDE).rgb
    except (ImageError, MemoryError):
        return None
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=80)  # no EXIF: metadata is dropped
    return out.getvalue()


def _face_boxes(conn: Connection, photo_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The detected faces of these (shown) photos, for pointing at one's own face (a claim):
    each face's id, index and box (original pixels). Faces an executed request removed are
    left out; no template is read or computed."""
    if not photo_ids:
        return {}
    found: dict[int, list[dict[str, Any]]] = {}
    for row in bound_in_chunks(conn, _FACE_BOXES, sorted(set(photo_ids))):
        found.setdefault(int(row.photo_id), []).append(
            {"face_id": int(row.id), "index": int(row.face_index),
             "box": [float(row.x1), float(row.y1), float(row.x2), float(row.y2)]}
        )  # fmt: skip
    return found


def _layout(row: Any, faces: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """A photo's pixel size and detected faces (every :class:`PhotoHit` carries its photo's
    as ``layout``); None when no face is shown."""
    if not faces or row.excluded_request_id is not None:
        return None
    return {"width": row.width, "height": row.height, "faces": faces}
