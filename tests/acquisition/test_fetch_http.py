"""The HTTP layer alone (no ledger, no sockets): httpx's MockTransport answers, a fake clock
records the waits. SSRF hop checks, Retry-After, backoff, caps, and header reservations."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from faceledger.core.signals import reservation_from_headers
from faceledger.errors import FetchFailure
from faceledger.services.collection.fetch_http import Fetcher, FetchPolicy, is_public_address

PUBLIC = "http://93.184.216.34"


def _run(
    handler: Any, url: str, policy: FetchPolicy | None = None, **get: Any
) -> tuple[Any, list[float]]:
    waits: list[float] = []
    now = [1000.0]

    async def sleep(seconds: float) -> None:  # a fake clock: sleeping moves it on
        waits.append(seconds)
        now[0] += seconds

    async def main() -> Any:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), follow_redirects=False
        ) as client:
            fetcher = Fetcher(
                client, policy or FetchPolicy(backoff=1.0), sleep=sleep, clock=lambda: now[0]
            )
            return await fetcher.get(url, **get)

    return asyncio.run(main()), waits


def test_private_and_reserved_addresses_are_not_public() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1",
                    "::ffff:127.0.0.1", "fd00::1", "100.64.0.1", "0.0.0.0", "224.0.0.1"):  # fmt: skip
        assert not is_public_address(address), address
    assert is_public_address("93.184.216.34")


def test_a_redirect_to_a_private_address_is_refused_at_that_hop() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://127.0.0.1/admin"})

    with pytest.raises(FetchFailure) as caught:
        _run(handler, PUBLIC + "/photo.jpg")
    assert caught.value.reason == "ssrf-refused"
    assert seen == [PUBLIC + "/photo.jpg"]  # the private hop was never requested


def test_retry_after_is_honoured_then_backoff_doubles() -> None:
    answers = iter([
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503),
        httpx.Response(503),
        httpx.Response(200, headers={"Content-Type": "image/jpeg"}, content=b"\xff\xd8data"),
    ])  # fmt: skip
    got, waits = _run(lambda request: next(answers), PUBLIC + "/a.jpg")
    assert got.body == b"\xff\xd8data" and got.attempts == 4
    assert waits[0] == 7.0
    assert (
        1.5 <= waits[1] <= 2.0 and 3.0 <= waits[2] <= 4.0
    )  # 1 s doubled per try so far (jittered)


def test_a_retry_after_beyond_the_cap_fails_as_rate_limited() -> None:
    with pytest.raises(FetchFailure) as caught:
        _run(
            lambda request: httpx.Response(429, headers={"Retry-After": "86400"}), PUBLIC + "/a.jpg"
        )
    assert caught.value.reason == "rate-limited"


def test_timeouts_are_retried_then_fail_as_timeout() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(FetchFailure) as caught:
        _run(handler, PUBLIC + "/a.jpg", FetchPolicy(retries=2, backoff=0.0))
    assert caught.value.reason == "timeout" and caught.value.attempts == 3 and len(calls) == 3


def test_a_reserving_header_stops_before_the_body_is_read() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"X-Robots-Tag": "noimageai", "Content-Type": "image/jpeg"},
                              content=b"\xff\xd8" * 10)  # fmt: skip

    got, _ = _run(handler, PUBLIC + "/a.jpg", inspect=reservation_from_headers)
    assert got.body is None and got.stopped.code == "x-robots-tag"


def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "image/jpeg", "Content-Length": "999999999"},
                              content=b"")  # fmt: skip

    with pytest.raises(FetchFailure) as caught:
        _run(handler, PUBLIC + "/a.jpg", FetchPolicy(max_bytes=1000))
    assert caught.value.reason == "too-many-bytes"


def test_non_http_urls_are_refused() -> None:
    with pytest.raises(FetchFailure) as caught:
        _run(lambda request: httpx.Response(200), "file:///etc/passwd")
    assert caught.value.reason == "bad-url"
