"""A photo whose rights holder reserved text and data mining (found by `faceledger fetch`)
says so on the portal, with the signal in plain words, and never shows a thumbnail: whether
it found by owner, by URL or by photo id, through the page or the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from faceledger.core.signals import RESERVATION_WORDS
from faceledger.store.schema import Photo

NSID = "70000005@N01"  # CC BY 2.0 with local bytes: a thumbnail unless reserved
PHOTO = "ex-0005"
PAGE_URL = "https://example.org/photos/ex-0005"
DOWNLOAD_URL = "https://images.example.org/5/ex-0005.jpg"


def _reserve(ledger: Any, code: str, *, keep_bytes: bool) -> int:
    """As fetch records it (no bytes), or as an opt-out list imported after the bytes were
    held records it (bytes kept, reservation set)."""
    with ledger.begin() as conn:
        photo_id = int(
            conn.execute(select(Photo.id).where(Photo.external_id == PHOTO)).scalar_one()
        )
        values: dict[str, Any] = {"reservation": code, "download_url": DOWNLOAD_URL,
                                  "reservation_evidence": {"header": "X-Robots-Tag", "value": "noai"}}  # fmt: skip
        if not keep_bytes:
            values |= {
                "path": None,
                "content_hash": None,
                "scan_status": "reserved",
                "fetch_status": "reserved",
            }
        conn.execute(update(Photo.__table__).where(Photo.id == photo_id).values(**values))
    return photo_id


def test_a_reserved_photo_says_why_in_the_api_and_has_no_thumbnail(
    client: Any, corpus: Any
) -> None:
    before = client.get("/api/v1/search/owner", params={"q": NSID}).json()["photos"][0]
    assert before["thumbnail_url"] and before["reserved"] is None  # the baseline shows one
    _reserve(corpus, "x-robots-tag", keep_bytes=False)
    for path, query in (
        ("owner", NSID),
        ("photo", PHOTO),
        ("photo", PAGE_URL),
        ("photo", DOWNLOAD_URL),
    ):
        photos = client.get(f"/api/v1/search/{path}", params={"q": query}).json()["photos"]
        assert [p["external_id"] for p in photos] == [PHOTO], (path, query)
        assert photos[0]["thumbnail_url"] is None
        assert photos[0]["reserved"] == {
            "signal": "x-robots-tag",
            "reason": RESERVATION_WORDS["x-robots-tag"],
        }


def test_a_reserved_photo_whose_bytes_are_held_still_shows_no_thumbnail(
    client: Any, corpus: Any
) -> None:
    old_link = client.get("/api/v1/search/owner", params={"q": NSID}).json()["photos"][0][
        "thumbnail_url"
    ]
    assert client.get(old_link).status_code == 200
    _reserve(corpus, "optout-list", keep_bytes=True)
    photo = client.get("/api/v1/search/owner", params={"q": NSID}).json()["photos"][0]
    assert photo["thumbnail_url"] is None and photo["reserved"]["signal"] == "optout-list"
    assert client.get(old_link).status_code == 404  # a link handed out before no longer serves it


def test_the_search_page_says_reserved_in_plain_words_and_shows_no_image_or_id(
    client: Any, corpus: Any
) -> None:
    photo_id = _reserve(corpus, "c2pa-training-mining", keep_bytes=False)
    for params in ({"owner": NSID}, {"photo": PAGE_URL}, {"photo": PHOTO}):
        page = client.get("/search", params=params).text
        card = page.split('class="card photo"')[1]
        assert "Reserved by its rights holder" in card, params
        assert RESERVATION_WORDS["c2pa-training-mining"].replace("'", "&#39;") in card
        assert "<img" not in card and "/api/v1/thumbnails/" not in card and "<image" not in card
        assert f'data-photo="{photo_id}"' not in page and f"face-{photo_id}-" not in page
    other = client.get("/search", params={"owner": "70000006@N01"}).text  # not reserved
    assert "Reserved by its rights holder" not in other and "/api/v1/thumbnails/" in other
