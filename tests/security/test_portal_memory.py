"""Finding 1: memory exhaustion by small uploads. A ~130 KB PNG of 6300 x 6300 pixels passed
the 40 MP cap and cost 600-800 MB per selfie request, never given back. Now: a selfie is
decoded at its working size (JPEG draft) and refused beyond ``web_selfie_max_pixels``, at most
``web_selfie_concurrency`` selfie requests run at once (503 with Retry-After beyond), and
memory is handed back after each. The server's resident memory is read from ``/proc``."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

#: Memory, decoding and the in-flight limit are the portal's, not the ledger's: one backend.
SQLITE_ONLY = pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
BURST = 6  # concurrent requests, as one client's burst could send (rate burst is 30)
MB = 1.0


def _image(size: tuple[int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 130, 140)).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """6300 x 6300 pixels (39.7 MP, under the old 40 MP cap) in about 130 KB."""
    data = _image((6300, 6300), "PNG")
    assert len(data) < 200_000
    return data


def _selfie(
    client: httpx.Client, data: bytes, name: str = "me.png", kind: str = "image/png"
) -> httpx.Response:
    return client.post(
        "/api/v1/selfie", data={"consent": "yes"}, files={"image": (name, data, kind)}
    )


@SQLITE_ONLY
def test_a_burst_of_small_high_pixel_selfies_grows_the_server_by_less_than_1_gb(
    portal: Any, portal_env: dict[str, str], bomb: bytes, ledger_url: str
) -> None:  # fmt: skip
    with portal(portal_env) as server:
        with server.client() as client:  # load the detector first: that memory is not the burst's
            warm = _selfie(client, _image((64, 64), "JPEG"), "w.jpg", "image/jpeg")
            assert warm.status_code == 422, warm.text
        base = server.rss_mb()

        def one(_: int) -> int:
            with server.client() as client:
                return _selfie(client, bomb).status_code

        with ThreadPoolExecutor(BURST) as pool:
            statuses = list(pool.map(one, range(BURST)))
        peak, after = server.peak_mb(), server.rss_mb()
    print(
        f"RSS before burst {base:.0f} MB, peak {peak:.0f} MB (+{peak - base:.0f}), after {after:.0f} MB"
    )
    assert peak - base < 1024 * MB, f"the server grew by {peak - base:.0f} MB during the burst"
    assert after - base < 256 * MB, f"{after - base:.0f} MB were not handed back"
    assert set(statuses) <= {413, 503}, statuses  # refused by pixels (or busy), never decoded


@SQLITE_ONLY
def test_big_jpeg_selfies_are_decoded_at_reduced_size_not_refused_and_a_burst_stays_bounded(
    portal: Any, portal_env: dict[str, str], ledger_url: str
) -> None:  # fmt: skip
    """A 24 MP phone photo is still a usable selfie (JPEG draft decodes it at 1/4); a burst of
    them is searched one at a time, the rest told to retry."""
    photo = _image((6000, 4000), "JPEG")
    with portal(portal_env) as server, server.client() as client:
        assert _selfie(client, _image((64, 64), "JPEG"), "w.jpg", "image/jpeg").status_code == 422
        base = server.rss_mb()
        answer = _selfie(client, photo, "phone.jpg", "image/jpeg")

        def one(_: int) -> int:
            with server.client() as other:
                return _selfie(other, photo, "phone.jpg", "image/jpeg").status_code

        with ThreadPoolExecutor(BURST) as pool:
            statuses = list(pool.map(one, range(BURST)))
        peak = server.peak_mb()
    print(
        f"24 MP JPEG selfies: RSS before {base:.0f} MB, peak {peak:.0f} MB (+{peak - base:.0f}); {statuses}"
    )
    assert (
        answer.status_code == 422 and "no face" in answer.json()["detail"]
    )  # searched, not refused
    assert set(statuses) <= {422, 503} and 422 in statuses
    assert peak - base < 1024 * MB


@SQLITE_ONLY
def test_selfie_requests_beyond_the_in_flight_limit_get_503_with_retry_after(
    corpus: Any, tmp_path: Path, sec: Any, ledger_url: str
) -> None:  # fmt: skip
    from faceledger.config import load_settings
    from faceledger.web import create_app
    from faceledger.web.deps import get_selfie_search

    settings = load_settings(
        database_url=ledger_url, data_dir=tmp_path / "data", web_selfie_concurrency=2,
        web_rate_limit=100_000, web_rate_burst=100_000,
    )  # fmt: skip
    app = create_app(settings, ledger=corpus)
    entered, release = threading.Semaphore(0), threading.Event()

    def slow_search(image: bytes) -> list[dict[str, Any]]:
        entered.release()
        assert release.wait(60)
        return []

    app.dependency_overrides[get_selfie_search] = lambda: slow_search
    jpeg = _image((64, 64), "JPEG")
    with sec.serve_thread(app, tmp_path / "thread.log") as server, ThreadPoolExecutor(2) as pool:
        try:

            def hold() -> httpx.Response:
                with server.client() as client:
                    return _selfie(client, jpeg, "a.jpg", "image/jpeg")

            held = [pool.submit(hold) for _ in range(2)]
            assert entered.acquire(timeout=60) and entered.acquire(timeout=60)  # both slots taken
            with server.client() as client:
                busy = _selfie(client, jpeg, "b.jpg", "image/jpeg")
        finally:
            release.set()
        assert [f.result(timeout=60).status_code for f in held] == [200, 200]
        with server.client() as client:
            again = _selfie(client, jpeg, "c.jpg", "image/jpeg")
    assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
    assert "busy" in busy.json()["detail"]
    assert busy.headers["x-content-type-options"] == "nosniff"
    assert again.status_code == 200  # slots are given back
