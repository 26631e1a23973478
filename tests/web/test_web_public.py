"""Public search pages and API: exact identifiers only, thumbnails by licence, tag counts and
the owner verification hook, secure headers, CSRF, rate limits and error answers."""

from __future__ import annotations

from typing import Any

import pytest

NSID, USERNAME = "70000005@N01", "bay_shooter"  # CC BY 2.0 ("Attribution License"): thumbnail
ND_OWNER = "70000007@N01"  # CC BY-ND 4.0: no thumbnail


def test_given_an_exact_nsid_then_the_api_lists_that_owners_photos(client: Any) -> None:
    body = client.get("/api/v1/search/owner", params={"q": NSID}).json()
    assert [p["external_id"] for p in body["photos"]] == ["ex-0005"]
    photo = body["photos"][0]
    assert photo["owner_id"] == NSID and photo["thumbnail_url"] and photo["request_token"]
    assert photo["releases"] == [] and photo["consumers"] == [] and body["owner_token"]
    assert "path" not in photo  # local paths never leave the server


def test_given_the_username_then_the_same_photos_are_found(client: Any) -> None:
    assert (
        client.get("/api/v1/search/owner", params={"q": USERNAME}).json()["photos"][0]["owner_id"]
        == NSID
    )


@pytest.mark.parametrize(
    "query", ["70000005", "70000005@N0", "%", "_", "*", "bay", "70000005@N01 "[:-2]]
)
def test_given_a_partial_or_wildcard_identifier_then_nothing_is_listed(
    client: Any, query: str
) -> None:
    body = client.get("/api/v1/search/owner", params={"q": query}).json()
    assert body["photos"] == [] and body["owner_token"] is None


def test_given_a_photo_id_or_its_page_url_then_that_photo_is_found(client: Any) -> None:
    for query in ("ex-0003", "https://example.org/photos/ex-0003"):
        photos = client.get("/api/v1/search/photo", params={"q": query}).json()["photos"]
        assert [p["external_id"] for p in photos] == ["ex-0003"]


def test_given_a_licence_without_adaptation_rights_then_no_thumbnail(client: Any) -> None:
    photo = client.get("/api/v1/search/owner", params={"q": ND_OWNER}).json()["photos"][0]
    assert photo["thumbnail_url"] is None and photo["page_url"]
    page = client.get("/search", params={"owner": ND_OWNER}).text
    assert "No thumbnail" in page and "<img" not in page


def test_thumbnails_are_small_jpegs_behind_signed_links(client: Any) -> None:
    url = client.get("/api/v1/search/owner", params={"q": NSID}).json()["photos"][0][
        "thumbnail_url"
    ]
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"
    from io import BytesIO

    from PIL import Image

    assert max(Image.open(BytesIO(response.content)).size) <= 320
    assert client.get("/api/v1/thumbnails/1").status_code == 404  # ids cannot be guessed
    assert client.get(url[:-3] + "abc").status_code == 404


def _one_photo_ledger(ledger: Any, folder: Any, image: Any, **save: Any) -> int:
    """``ledger`` holding one CC BY photo, ``image`` saved as ``folder``/p.<format>; its id."""
    from sqlalchemy import select

    from faceledger.services.collection.ingest import ingest_paths
    from faceledger.store.tables import PHOTOS

    name = f"p.{save.get('format', 'JPEG').lower()}"
    image.save(folder / name, **save)
    manifest = folder / "photos.csv"
    manifest.write_text(f"photo_id,path,owner_id,license\nt-1,{name},70000099@N01,CC BY 2.0\n")
    ingest_paths(ledger, [manifest])
    with ledger.read() as conn:
        return int(conn.execute(select(PHOTOS.c.id)).scalar_one())


def test_a_thumbnail_is_shown_upright_and_a_huge_image_is_never_decoded(
    ledger: Any, tmp_path: Any
) -> None:
    """The thumbnail goes through the scan's safe decoder: a phone photo stored sideways
    (EXIF orientation 6) comes out upright, and an image over ``max_image_pixels`` gives no
    thumbnail at all (it is refused from its header, before a pixel is decoded)."""
    from io import BytesIO

    from PIL import Image

    from faceledger.services.portal.lookup import thumbnail

    sideways = Image.new("RGB", (640, 200), (200, 30, 30))  # landscape as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees: portrait
    photo_id = _one_photo_ledger(ledger, tmp_path, sideways, format="JPEG", exif=exif.tobytes())
    shown = Image.open(BytesIO(thumbnail(ledger, photo_id, max_pixels=1_000_000) or b""))
    assert shown.size == (100, 320) and not shown.getexif()  # upright, no metadata left
    assert thumbnail(ledger, photo_id, max_pixels=640 * 200 - 1) is None


def test_a_transparent_png_thumbnail_is_composited_on_white(ledger: Any, tmp_path: Any) -> None:
    from io import BytesIO

    from PIL import Image

    from faceledger.services.portal.lookup import thumbnail

    clear = Image.new("RGBA", (50, 40), (0, 0, 0, 0))
    photo_id = _one_photo_ledger(ledger, tmp_path, clear, format="PNG")
    shown = Image.open(BytesIO(thumbnail(ledger, photo_id, max_pixels=1_000_000) or b""))
    assert shown.size == (50, 40) and shown.convert("L").getextrema()[0] > 240  # white, not black


def test_a_tag_search_shows_counts_only(client: Any) -> None:
    body = client.get("/api/v1/search/tag", params={"q": "portrait"}).json()
    assert (body["photos"], body["owners"], body["own_photos"]) == (3, 3, None)
    assert client.get("/api/v1/search/tag", params={"q": "portra"}).json()["photos"] == 0
    assert client.get("/api/v1/search/tag", params={"q": "PORTRAIT"}).json()["photos"] == 3
    page = client.get("/search", params={"tag": "portrait"}).text
    assert "3 photo(s)" in page and "ex-0005" not in page


def test_a_verified_owner_sees_their_own_photos_under_a_tag(
    client: Any, web_settings: Any, web: Any
) -> None:
    challenge = client.post("/api/v1/verify/start", json={"owner_id": NSID}).json()
    check = client.post("/api/v1/verify/check", json={"challenge": challenge["challenge"]}).json()
    assert check["verified"] is False and check["proof"] is None  # code not in the profile yet
    web.write_profiles(web_settings, {NSID: f"Photographer. {challenge['code']}"})
    check = client.post("/api/v1/verify/check", json={"challenge": challenge["challenge"]}).json()
    assert check["verified"] is True
    body = client.get("/api/v1/search/tag", params={"q": "portrait"},
                      headers={"X-Owner-Proof": check["proof"]}).json()  # fmt: skip
    assert [p["external_id"] for p in body["own_photos"]] == ["ex-0005"]
    forged = client.get(
        "/api/v1/search/tag", params={"q": "portrait"}, headers={"X-Owner-Proof": "x.y.z"}
    )
    assert forged.json()["own_photos"] is None


def test_a_code_for_another_account_does_not_verify(
    client: Any, web_settings: Any, web: Any
) -> None:
    mine = client.post("/api/v1/verify/start", json={"owner_id": NSID}).json()
    theirs = client.post("/api/v1/verify/start", json={"owner_id": ND_OWNER}).json()
    web.write_profiles(web_settings, {ND_OWNER: mine["code"]})
    assert (
        client.post("/api/v1/verify/check", json={"challenge": theirs["challenge"]}).json()[
            "verified"
        ]
        is False
    )
    assert client.post("/api/v1/verify/check", json={"challenge": "forged"}).status_code == 400


def test_the_verification_pages_set_an_owner_cookie(
    client: Any, web_settings: Any, web: Any
) -> None:
    page = client.get("/search", params={"tag": "portrait"})
    started = client.post("/verify/start", data={"owner_id": NSID, "tag": "portrait",
                                                  "csrf_token": web.csrf_from(page.text)})  # fmt: skip
    assert started.status_code == 200
    code = started.text.split('id="verify-code">')[1].split("<")[0]
    web.write_profiles(web_settings, {NSID: code})
    challenge = started.text.split('name="challenge" value="')[1].split('"')[0]
    done = client.post("/verify/check", data={"challenge": challenge, "tag": "portrait",
                                              "csrf_token": web.csrf_from(started.text)})  # fmt: skip
    assert (
        done.status_code == 200
        and "Your photos with this tag" in done.text
        and "ex-0005" in done.text
    )


def test_every_response_carries_the_secure_headers(client: Any) -> None:
    for path in ("/", "/api/v1/search/owner?q=x", "/nope", "/static/portal.css"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert (
            "frame-ancestors 'none'" in csp
            and "unsafe-inline" not in csp
            and "script-src 'self'" in csp
        )
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_forms_without_the_csrf_token_are_refused(client: Any) -> None:
    client.get("/selfie")  # a page with a form sets the CSRF cookie
    for data in ({"owner_id": NSID}, {"owner_id": NSID, "csrf_token": "0" * 64}):
        response = client.post("/verify/start", data=data)
        assert response.status_code == 403 and "security token" in response.text


def test_a_form_from_a_browser_without_the_cookie_is_refused(app: Any, web: Any) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as first, TestClient(app) as second:
        token = web.csrf_from(first.get("/selfie").text)
        assert (
            second.post("/verify/start", data={"owner_id": NSID, "csrf_token": token}).status_code
            == 403
        )


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/api/v1/search/owner", 422, "q: Field required"),
        ("/api/v1/search/owner?q=", 422, "q:"),
        ("/api/v1/search/owner?q=" + "x" * 600, 422, "q:"),
        ("/api/v1/search/tag?q=a,b", 422, "q:"),
        ("/api/v1/search/owner?q=%00", 422, "q:"),
        ("/search?owner=%00", 400, "not valid"),
        ("/api/v1/nope", 404, "no such page"),
        ("/api/v1/requests/abc", 404, "receipt"),
        ("/search", 400, "exactly one"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client: Any, path: str, status: int, needle: str) -> None:
    response = client.get(path)
    assert response.status_code == status and needle in response.text


def test_wrong_methods_and_bodies_are_4xx(client: Any) -> None:
    assert client.delete("/api/v1/search/owner?q=x").status_code == 405
    assert (
        client.post(
            "/api/v1/verify/start", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert client.post("/api/v1/verify/start", json={"owner_id": NSID, "x": 1}).status_code == 422


def test_an_unexpected_error_is_a_500_that_leaks_nothing(app: Any) -> None:
    from fastapi.testclient import TestClient

    from faceledger.web.deps import get_selfie_search

    def broken() -> Any:
        raise RuntimeError("postgres password=hunter2 at /srv/secret")

    app.dependency_overrides[get_selfie_search] = broken
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.post(
            "/api/v1/selfie", files={"image": ("a.jpg", b"x")}, data={"consent": "yes"}
        )
    assert response.status_code == 500
    assert "hunter2" not in response.text and "incident" in response.json()["detail"]


def test_public_endpoints_are_rate_limited_per_client(corpus: Any, web_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from faceledger.web import create_app
    from faceledger.web.ratelimit import TokenBucket

    now = [0.0]
    limiter = TokenBucket(rate_per_minute=60, burst=3, clock=lambda: now[0])
    app = create_app(web_settings, ledger=corpus, limiter=limiter)
    with TestClient(app) as test_client:
        codes = [
            test_client.get("/api/v1/search/owner", params={"q": NSID}).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        limited = test_client.get("/")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert limited.headers["x-content-type-options"] == "nosniff"
        now[0] += 1.0  # one token back per second at 60/minute
        assert test_client.get("/").status_code == 200
        assert test_client.get("/static/portal.css").status_code == 200  # static files are free


def test_the_token_bucket_keeps_clients_apart() -> None:
    from faceledger.web.ratelimit import TokenBucket

    bucket = TokenBucket(rate_per_minute=1, burst=1, clock=lambda: 0.0)
    assert bucket.allow("a") and not bucket.allow("a") and bucket.allow("b")


def test_the_openapi_schema_documents_the_api_only(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert (
        "/api/v1/search/owner" in schema["paths"] and "/api/v1/console/requests" in schema["paths"]
    )
    assert client.get("/docs").status_code == 404  # the docs page would load a CDN script


def test_a_slow_thumbnail_never_holds_up_the_searches_by_identifier(
    corpus: Any, web_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one shared thread (``web_threads=1``), an owner search is answered while a
    thumbnail is still being made: thumbnails decode on threads of their own. Were the decode
    on the shared thread, the owner search would wait for it and the bounded wait would fail."""
    import asyncio
    import threading

    import httpx

    from faceledger.services.portal import lookup
    from faceledger.web import create_app

    app = create_app(web_settings.model_copy(update={"web_threads": 1}), ledger=corpus)
    started, release = threading.Event(), threading.Event()
    real = lookup.thumbnail

    def slow(ledger: Any, photo_id: int, *, max_pixels: int) -> bytes | None:
        started.set()
        release.wait(60)
        return real(ledger, photo_id, max_pixels=max_pixels)

    async def scenario() -> tuple[int, bool, int, bytes]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
                found = await web.get("/api/v1/search/owner", params={"q": NSID})
                monkeypatch.setattr(lookup, "thumbnail", slow)
                thumb = asyncio.create_task(web.get(found.json()["photos"][0]["thumbnail_url"]))
                try:
                    assert await asyncio.get_running_loop().run_in_executor(None, started.wait, 60)
                    owner = await asyncio.wait_for(
                        web.get("/api/v1/search/owner", params={"q": NSID}), timeout=30
                    )
                    still_running = not thumb.done()
                finally:
                    release.set()
                image = await thumb
                return owner.status_code, still_running, image.status_code, image.content[:3]

    assert asyncio.run(scenario()) == (200, True, 200, b"\xff\xd8\xff")
