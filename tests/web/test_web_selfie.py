"""Selfie search on the portal: consent first, size and type limits, a few results above the
threshold only, the upload kept in memory (never spooled to disk) and never logged."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from faceledger.web.deps import get_selfie_search


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 150, 120)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def faces(corpus: Any) -> list[int]:
    """Three detected faces on photo ex-0005 (rows written directly: no model needed)."""
    from faceledger.store.ledger import utcnow
    from faceledger.store.schema import Face, Photo, ScanRun

    now = utcnow()
    with corpus.begin() as conn:
        photo_id = conn.execute(select(Photo.id).where(Photo.external_id == "ex-0005")).scalar_one()
        run = conn.execute(ScanRun.__table__.insert().values(
            started_at=now, status="done", detector_name="test", detector_version="0", threshold=0.4, workers=1,
        ).returning(ScanRun.id)).scalar_one()  # fmt: skip
        ids = []
        for index in range(3):
            ids.append(conn.execute(Face.__table__.insert().values(
                photo_id=photo_id, face_index=index, x1=0, y1=0, x2=10, y2=10, score=0.9,
                landmarks=[[0, 0]] * 5, face_size=10, detector_name="test", detector_version="0",
                scan_run_id=run, created_at=now,
            ).returning(Face.id)).scalar_one())  # fmt: skip
    return ids


@pytest.fixture
def searched(app: Any, faces: list[int]) -> list[bytes]:
    """Replace the model-backed search with a fake that records what it was given."""
    seen: list[bytes] = []

    def fake(image: bytes) -> list[dict[str, Any]]:
        seen.append(image)
        return [
            {"face_id": f, "subject_id": None, "distance": 0.3 + i / 10}
            for i, f in enumerate(faces)
        ]

    app.dependency_overrides[get_selfie_search] = lambda: fake
    return seen


def test_without_consent_no_template_is_computed(client: Any, searched: list[bytes]) -> None:
    response = client.post("/api/v1/selfie", files={"image": ("me.jpg", _jpeg(), "image/jpeg")})
    assert response.status_code == 400 and "consent" in response.json()["detail"]
    assert searched == []


@pytest.mark.parametrize(
    ("files", "status", "needle"),
    [
        ({"image": ("me.gif", b"GIF89a....", "image/gif")}, 415, "JPEG or PNG"),
        ({"image": ("me.jpg", b"", "image/jpeg")}, 400, "attach a photo"),
        ({"other": ("me.jpg", b"\xff\xd8\xff", "image/jpeg")}, 400, "attach a photo"),
    ],
)
def test_uploads_other_than_a_photo_are_refused(
    client: Any, searched: list[bytes], files: Any, status: int, needle: str
) -> None:
    response = client.post("/api/v1/selfie", files=files, data={"consent": "yes"})
    assert response.status_code == status and needle in response.json()["detail"]
    assert searched == []


def test_an_oversized_upload_is_refused_before_reading_it(
    client: Any, searched: list[bytes], web_settings: Any
) -> None:
    big = b"\xff\xd8\xff" + b"0" * (web_settings.web_max_upload_bytes + 70_000)
    response = client.post(
        "/api/v1/selfie", files={"image": ("me.jpg", big, "image/jpeg")}, data={"consent": "yes"}
    )
    assert response.status_code == 413 and "at most" in response.json()["detail"]
    body = client.post("/api/v1/selfie", content=b"x", headers={"content-type": "text/plain"})
    assert body.status_code == 400 and "multipart" in body.json()["detail"]


def test_results_are_capped_and_the_upload_never_touches_the_disk(
    client: Any,
    searched: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import tempfile

    import starlette.formparsers

    def no_disk(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an upload was spooled to a temporary file")

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", no_disk)
    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", no_disk)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", no_disk)
    image = _jpeg() + b"\x00" * 1_500_000  # over Starlette's 1 MB spooling limit
    with caplog.at_level(logging.DEBUG):
        body = client.post("/api/v1/selfie", files={"image": ("me.jpg", image, "image/jpeg")},
                           data={"consent": "yes"}).json()  # fmt: skip
    (seen,) = searched  # the search gets the upload decoded at working size, as a small PNG
    assert seen.startswith(b"\x89PNG") and Image.open(io.BytesIO(seen)).size == (64, 64)
    assert len(body["matches"]) == 3 and body["max_results"] == 3 and body["kept"] is False
    assert all(m["distance"] <= body["threshold"] for m in body["matches"])
    assert body["matches"][0]["photo"]["external_id"] == "ex-0005" and body["request_token"]
    assert "me.jpg" not in caplog.text and repr(image[:16]) not in caplog.text


def test_a_face_request_is_filed_from_the_selfie_results(
    client: Any, searched: list[bytes], corpus: Any, faces: list[int]
) -> None:
    from faceledger.store.schema import Consent, RequestFace

    token = client.post("/api/v1/selfie", files={"image": ("me.jpg", _jpeg(), "image/jpeg")},
                        data={"consent": "yes"}).json()["request_token"]  # fmt: skip
    receipt = client.post("/api/v1/requests", json={"kind": "optout", "token": token})
    assert receipt.status_code == 201, receipt.text
    with corpus.read() as conn:
        assert sorted(conn.execute(select(RequestFace.face_id)).scalars()) == sorted(faces)
        assert conn.execute(select(Consent.purposes)).scalar_one() == ["match-optout"]


def test_the_selfie_page_explains_then_searches(
    client: Any, searched: list[bytes], web: Any
) -> None:
    page = client.get("/selfie")
    assert "What is computed" in page.text and "Deleted after" in page.text
    csrf = web.csrf_from(page.text)
    files = {"image": ("me.jpg", _jpeg(), "image/jpeg")}
    assert client.post("/selfie", files=files, data={"consent": "yes"}).status_code == 403
    result = client.post("/selfie", files=files, data={"consent": "yes", "csrf_token": csrf})
    assert (
        result.status_code == 200
        and "3 face(s) found" in result.text
        and "have been deleted" in result.text
    )


def test_a_photo_without_a_face_is_a_clear_422(app: Any, client: Any) -> None:
    from faceledger.errors import NoFaceError

    def no_face(image: bytes) -> Any:
        raise NoFaceError("the uploaded image: no face found")

    app.dependency_overrides[get_selfie_search] = lambda: no_face
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 150, 120)).save(png, format="PNG")
    response = client.post("/api/v1/selfie", files={"image": ("me.png", png.getvalue(), "image/png")},
                           data={"consent": "yes"})  # fmt: skip
    assert response.status_code == 422 and "no face" in response.json()["detail"]
    broken = client.post("/api/v1/selfie", files={"image": ("me.png", b"\x89PNG\r\n\x1a\n...", "image/png")},
                         data={"consent": "yes"})  # fmt: skip
    assert broken.status_code == 415  # not decodable: refused before any search


def test_bytes_go_through_the_real_decoder_in_memory() -> None:
    from faceledger.errors import ImageError
    from faceledger.vision.images import load_image

    image = load_image(_jpeg(), max_pixels=10_000_000, max_side=100)
    assert image.rgb.shape == (64, 64, 3)
    with pytest.raises(ImageError, match="the uploaded image"):
        load_image(b"not an image", max_pixels=10_000_000)


def test_a_slow_selfie_search_never_holds_up_the_searches_by_identifier(
    corpus: Any, web_settings: Any
) -> None:
    """With one shared thread (``web_threads=1``), an owner search is answered while a selfie
    search is still running: the selfie work has threads of its own. Were it on the shared
    thread, the owner search would wait for it, and the bounded wait below would fail."""
    import asyncio
    import threading

    import httpx

    from faceledger.web import create_app

    app = create_app(web_settings.model_copy(update={"web_threads": 1}), ledger=corpus)
    started, release = threading.Event(), threading.Event()

    def slow(image: bytes) -> list[dict[str, Any]]:
        started.set()
        release.wait(60)
        return []

    app.dependency_overrides[get_selfie_search] = lambda: slow

    async def scenario() -> tuple[int, bool, int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
                selfie = asyncio.create_task(web.post(
                    "/api/v1/selfie", files={"image": ("me.jpg", _jpeg(), "image/jpeg")},
                    data={"consent": "yes"},
                ))  # fmt: skip
                try:
                    assert await asyncio.get_running_loop().run_in_executor(None, started.wait, 60)
                    owner = await asyncio.wait_for(
                        web.get("/api/v1/search/owner", params={"q": "70000001@N01"}), timeout=60
                    )
                    still_running = not selfie.done()
                finally:
                    release.set()
                return owner.status_code, still_running, (await selfie).status_code

    assert asyncio.run(scenario()) == (200, True, 200)
