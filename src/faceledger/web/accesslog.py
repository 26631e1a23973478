"""The portal's access log: one line per request, with nothing in it that names a person.

Each line is ``<UTC time> <pid> <METHOD> <route> <status> <ms>ms``, e.g.::

    2026-12-02T10:15:04.123Z 4711 GET /search?owner= 200 12.4ms
    2026-12-02T10:15:04.310Z 4712 GET /requests/{receipt} 200 8.0ms

What is left out, on purpose: the client's address, cookies, headers (``Authorization``,
``X-Owner-Proof``, the user agent), bodies (a selfie, a contact), and every value a person could
be found by or a token could be replayed from. The path is the *route template* the request
matched (``/requests/{receipt}``, ``/api/v1/thumbnails/{token}``), never the values in it; a
query string keeps its parameter *names* only (``?owner=``); a path that matches no route is
logged as ``(unmatched)``. Static files are logged by their path (``/static/portal.css``), a
missing one as ``/static/{path}``.

The sink is the ``web_access_log`` setting: ``-`` (stderr, the default), a file (appended to,
created mode 0600), or ``off``. Each line is one ``write`` of under 4 KiB to a descriptor opened
for appending, so the lines of several server processes never interleave.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faceledger.errors import ConfigError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NAME = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,40}$")


class AccessLogSink:
    """Where lines go: a file descriptor opened for appending (stderr for ``-``)."""

    def __init__(self, fd: int, *, owned: bool) -> None:
        self.fd = fd
        self.owned = owned

    @classmethod
    def open(cls, where: str) -> AccessLogSink | None:
        """The sink the ``web_access_log`` setting names; ``None`` for ``off``."""
        value = where.strip()
        if value.lower() in ("off", "none", ""):
            return None
        if value == "-":
            return cls(2, owned=False)
        path = Path(value).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"setting 'web_access_log' (FACELEDGER_WEB_ACCESS_LOG): cannot open {path}: {exc.strerror}"
            ) from None
        return cls(fd, owned=True)

    def write(self, line: str) -> None:
        data = (line[:4000] + "\n").encode("utf-8", "replace")
        with contextlib.suppress(OSError):  # a full disk must not take the portal down
            os.write(self.fd, data)

    def close(self) -> None:
        if self.owned:
            os.close(self.fd)
            self.owned = False


def _templates(routes: Any) -> list[tuple[re.Pattern[str], str]]:
    """``(regex, template)`` of every path route under ``routes`` (included routers walked)."""
    found: list[tuple[re.Pattern[str], str]] = []
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included router
        if inner is not None:
            found.extend(_templates(inner.routes))
        elif hasattr(route, "path_regex") and not str(getattr(route, "path", "")).endswith(
            "{path}"
        ):
            found.append((route.path_regex, str(route.path)))
    return found


class RouteNames:
    """The route template of a request: the one the router chose (``scope["route"]``), else the
    first whose pattern matches (a request refused before routing: 429, unknown host)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._known: list[tuple[re.Pattern[str], str]] | None = None

    def template(self, scope: Scope, status: int = 200) -> str:
        path = str(scope.get("path", ""))
        if path.startswith(
            "/static/"
        ):  # a file we serve is named; anything else a client typed is not
            return path if status < 400 and len(path) <= 200 else "/static/{path}"
        chosen = getattr(scope.get("route"), "path", None)
        if isinstance(chosen, str):
            return chosen
        if self._known is None:
            self._known = _templates(getattr(self.app, "routes", []))
        for pattern, template in self._known:
            if pattern.match(path):
                return template
        return "(unmatched)"


def loggable_path(names: RouteNames, scope: Scope, status: int = 200) -> str:
    """The route template ``scope`` matches, plus its query parameter names (no values)."""
    query = scope.get("query_string", b"").decode("latin-1")
    keys = []
    for part in query.split("&") if query else []:
        key = part.partition("=")[0]
        keys.append(key if _NAME.match(key) else "?")
    return names.template(scope, status) + (
        "?" + "&".join(f"{k}=" for k in keys[:8]) if keys else ""
    )


class AccessLog:
    """ASGI middleware writing one line per HTTP request to ``sink`` (outermost: it times the
    whole answer, refusals by the rate limiter and host check included)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        sink: AccessLogSink,
        routes: Any,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.sink = sink
        self.names = RouteNames(routes)
        self.clock = clock
        self.pid = os.getpid()

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        start = self.clock()
        status = [500]

        async def sending(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = (self.clock() - start) * 1000
            method = str(scope.get("method", "?")).upper()
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            self.sink.write(
                f"{stamp} {self.pid} {method if method in _METHODS else 'OTHER'} "
                f"{loggable_path(self.names, scope, status[0])} {status[0]} {elapsed:.1f}ms"
            )
