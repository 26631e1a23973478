"""The HTTP side of ``faceledger fetch``: polite, bounded, SSRF-safe async GETs with retries.

Example::

    async with make_client(policy) as client:
        fetcher = Fetcher(client, policy)
        got = await fetcher.get(url, inspect=reservation_check, image=True)
        got.body, got.stopped, got.attempts

What one GET does:

- refuses a URL that is not http(s), or whose host is (or resolves to) a private, loopback,
  link-local, multicast or reserved address unless ``allow_private`` (SSRF); the address the
  connection really reached is checked again once connected (DNS rebinding);
- opens at most ``per_host`` connections to one host and waits ``delay`` seconds between the
  starts of two requests to it (politeness);
- follows at most ``max_redirects`` redirects, checking every hop like the first URL;
- retries 429, 5xx, timeouts and dropped connections ``retries`` times, with exponential
  backoff from ``backoff`` seconds, or after the server's ``Retry-After`` (capped at
  :data:`RETRY_AFTER_MAX`; the whole host waits, not just this URL);
- hands the response headers to ``inspect`` before reading any body: a reservation stops it
  there (the body is never downloaded);
- refuses a body that is not an image (Content-Type) or is over ``max_bytes`` (Content-Length,
  then while streaming) before keeping it.

Failures raise :class:`FetchFailure` with a stable ``reason`` (``http-404``, ``timeout``,
``ssrf-refused``, ``too-many-bytes``, ``bad-content-type``...).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from faceledger import __version__
from faceledger.config import Settings
from faceledger.errors import FetchFailure

RETRY_AFTER_MAX = 120.0
USER_AGENT = f"faceledger-fetch/{__version__} (honours noai, TDMRep, plus:DataMining, C2PA)"
_REDIRECTS = {301, 302, 303, 307, 308}
_IMAGE_TYPES = ("image/",)
_OPAQUE_TYPES = ("application/octet-stream", "binary/octet-stream")
_REFUSED_IMAGE_TYPES = ("image/svg+xml",)


class _Retryable(Exception):
    def __init__(self, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchPolicy:
    """The fetch settings a :class:`Fetcher` needs (picklable, testable)."""

    workers: int = 32
    per_host: int = 8
    delay: float = 0.0
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_redirects: int = 5
    max_bytes: int = 20_000_000
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            workers=settings.fetch_workers, per_host=settings.fetch_per_host,
            delay=settings.fetch_delay, timeout=settings.fetch_timeout,
            retries=settings.fetch_retries, backoff=settings.fetch_backoff,
            max_redirects=settings.fetch_max_redirects, max_bytes=settings.fetch_max_bytes,
            allow_private=settings.fetch_allow_private,
        )  # fmt: skip


@dataclass
class Fetched:
    """A finished GET: the final URL, status, headers, and the body unless ``stopped``."""

    url: str
    status: int
    headers: dict[str, list[str]]
    body: bytes | None
    attempts: int
    hops: list[str] = field(default_factory=list)
    stopped: Any = None  # what ``inspect`` returned to stop before the body


Inspect = Callable[[dict[str, list[str]]], Any]


def make_client(policy: FetchPolicy) -> httpx.AsyncClient:
    """One pooled client: no redirects (followed by hand), no proxies from the environment."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(policy.timeout, pool=None),
        limits=httpx.Limits(
            max_connections=policy.workers, max_keepalive_connections=policy.workers
        ),
        headers={"User-Agent": USER_AGENT, "Accept": "image/*"},
    )


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _Host:
    def __init__(self, per_host: int) -> None:
        self.slots = asyncio.Semaphore(per_host)
        self.lock = asyncio.Lock()
        self.not_before = 0.0


class Fetcher:
    """Bounded, polite, SSRF-checked GETs over one client (see module docs)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: FetchPolicy,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.policy = client, policy
        self._sleep, self._clock = sleep, clock
        self._hosts: dict[str, _Host] = {}
        self._resolved: dict[tuple[str, int], str | None] = {}  # None: public; else why not

    async def get(
        self, url: str, *, inspect: Inspect | None = None, image: bool = True,
        max_bytes: int | None = None,
    ) -> Fetched:  # fmt: skip
        attempt = 0
        while True:
            attempt += 1
            try:
                got = await self._follow(url, inspect, image, max_bytes or self.policy.max_bytes)
                got.attempts = attempt
                return got
            except _Retryable as exc:
                if attempt > self.policy.retries:
                    raise FetchFailure(
                        exc.reason, f"{exc} (after {attempt} tries)", attempts=attempt
                    ) from None
                wait = self.policy.backoff * (2 ** (attempt - 1)) * random.uniform(0.75, 1.0)  # noqa: S311
                if exc.retry_after is not None:
                    if exc.retry_after > RETRY_AFTER_MAX:
                        raise FetchFailure(
                            "rate-limited",
                            f"{exc}: the server asks to wait {exc.retry_after:.0f} s "
                            f"(more than {RETRY_AFTER_MAX:.0f} s)", attempts=attempt,
                        ) from None  # fmt: skip
                    wait = exc.retry_after
                    host = self._host(urlsplit(url).hostname or "")
                    host.not_before = max(host.not_before, self._clock() + wait)
                await self._sleep(wait)
            except FetchFailure as exc:
                exc.attempts = attempt
                raise

    async def _follow(
        self, url: str, inspect: Inspect | None, image: bool, max_bytes: int
    ) -> Fetched:
        hops: list[str] = []
        for _ in range(self.policy.max_redirects + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchFailure("bad-url", f"{url!r} is not an http(s) URL")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            await self._check_host(parts.hostname, port)
            host = self._host(parts.hostname)
            async with host.slots:
                await self._polite(host)
                got = await self._once(url, inspect, image, max_bytes)
            if got.status in _REDIRECTS:
                hops.append(url)
                location = got.headers.get("location", [""])[0]
                if not location:
                    raise FetchFailure("bad-redirect", f"{url} redirects nowhere (no Location)")
                url = urljoin(url, location)
                continue
            got.hops = hops
            return got
        raise FetchFailure(
            "too-many-redirects", f"more than {self.policy.max_redirects} redirects from {hops[0]}"
        )

    def _host(self, name: str) -> _Host:
        if name not in self._hosts:
            self._hosts[name] = _Host(self.policy.per_host)
        return self._hosts[name]

    async def _polite(self, host: _Host) -> None:
        if not self.policy.delay and host.not_before <= self._clock():
            return
        async with host.lock:
            wait = host.not_before - self._clock()
            if wait > 0:
                await self._sleep(wait)
            host.not_before = self._clock() + self.policy.delay

    async def _check_host(self, hostname: str, port: int) -> None:
        if self.policy.allow_private:
            return
        key = (hostname, port)
        if key not in self._resolved:
            self._resolved[key] = await self._why_not_public(hostname, port)
        if self._resolved[key] is not None:
            raise FetchFailure("ssrf-refused", str(self._resolved[key]))

    async def _why_not_public(self, hostname: str, port: int) -> str | None:
        try:
            addresses = [str(ipaddress.ip_address(hostname.strip("[]")))]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    hostname, port, type=socket.SOCK_STREAM
                )
            except OSError as exc:
                raise FetchFailure("dns-error", f"cannot resolve {hostname}: {exc}") from None
            addresses = sorted({str(info[4][0]) for info in infos})
        for address in addresses:
            if not is_public_address(address):
                return (
                    f"{hostname} is {address}, a private, loopback or reserved address; refused "
                    "(set fetch_allow_private / FACELEDGER_FETCH_ALLOW_PRIVATE=1 to allow it)"
                )
        return None

    async def _once(
        self, url: str, inspect: Inspect | None, image: bool, max_bytes: int
    ) -> Fetched:
        request = self.client.build_request("GET", url)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise _Retryable("timeout", f"{url}: timed out ({type(exc).__name__})") from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise _Retryable("connect-error", f"{url}: {type(exc).__name__}: {exc}") from None
        except httpx.HTTPError as exc:
            raise FetchFailure("http-error", f"{url}: {type(exc).__name__}: {exc}") from None
        try:
            self._check_peer(url, response)
            headers = {k.lower(): response.headers.get_list(k) for k in response.headers.keys()}  # noqa: SIM118
            status = response.status_code
            if status in _REDIRECTS:
                return Fetched(url, status, headers, None, 1)
            if status == 429 or status >= 500:
                raise _Retryable(f"http-{status}", f"{url}: HTTP {status}", _retry_after(response))
            if status != 200:
                raise FetchFailure(
                    f"http-{status}", f"{url}: HTTP {status} {response.reason_phrase}"
                )
            stopped = inspect(headers) if inspect is not None else None
            if stopped is not None:
                return Fetched(url, status, headers, None, 1, stopped=stopped)
            if image:
                _check_content_type(url, response.headers.get("content-type"))
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchFailure(
                    "too-many-bytes",
                    f"{url}: {int(length):,} bytes, over the cap of {max_bytes:,} (fetch_max_bytes)",
                )
            body = await _read_capped(response, url, max_bytes)
            return Fetched(url, status, headers, body, 1)
        finally:
            await response.aclose()

    def _check_peer(self, url: str, response: httpx.Response) -> None:
        if self.policy.allow_private:
            return
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if peer and not is_public_address(str(peer[0])):
            raise FetchFailure(
                "ssrf-refused", f"{url}: connected to {peer[0]}, a private address; refused"
            )


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    chunks, total = [], 0
    try:
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > max_bytes:
                raise FetchFailure(
                    "too-many-bytes",
                    f"{url}: body over the cap of {max_bytes:,} bytes (fetch_max_bytes)",
                )
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise _Retryable("timeout", f"{url}: timed out reading the body") from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise _Retryable("connect-error", f"{url}: connection dropped: {exc}") from None
    except httpx.DecodingError as exc:
        raise FetchFailure("bad-encoding", f"{url}: body does not decode: {exc}") from None
    return b"".join(chunks)


def _check_content_type(url: str, value: str | None) -> None:
    kind = (value or "").split(";", 1)[0].strip().lower()
    if kind in _REFUSED_IMAGE_TYPES or not (kind.startswith(_IMAGE_TYPES) or kind in _OPAQUE_TYPES):
        raise FetchFailure(
            "bad-content-type", f"{url}: Content-Type {value or '(none)'!r} is not a raster image"
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())
