"""The portal's outermost layer, around every request (a plain ASGI middleware: no extra task,
stream or copy of the body per request, which a ``BaseHTTPMiddleware`` costs).

In order: an unknown ``Host`` gets 400; a path with a trailing slash a 307 to the path without
it; outside ``/static/`` the client's rate limit is spent (``web.ratelimit``: 429 with
``Retry-After`` past it, 503 when the limiter cannot be read: fail closed). Then the app runs;
afterwards the data keys cached during the request are dropped, a new CSRF cookie is set if
the request made one, and the security headers go on every response, refusals included.

Example::

    app = Guard(fastapi_app, portal=portal, hosts=HostCheck(["portal.example"]), secure_cookie=True)
"""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faceledger.web import errors
from faceledger.web.deps import Portal
from faceledger.web.security import CSRF_COOKIE, HostCheck, relative_without_slash, secure_headers


class Guard:
    """Host check, slash redirect, rate limit and response headers (see the module)."""

    def __init__(
        self, app: ASGIApp, *, portal: Portal, hosts: HostCheck, secure_cookie: bool
    ) -> None:
        self.app = app
        self.portal = portal
        self.hosts = hosts
        self.secure_cookie = secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        refusal = await self._refusal(scope, path)
        if refusal is not None:
            secure_headers(path, refusal.headers)
            await refusal(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # what the app's Request.state writes into

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                new_cookie = state.get("new_csrf_cookie")
                if new_cookie and not Request(scope).cookies.get(CSRF_COOKIE):
                    headers.append("set-cookie", self._csrf_cookie(new_cookie))
                secure_headers(path, headers)
            await send(message)

        try:
            await self.app(scope, receive, send_guarded)
        finally:
            self.portal.forget_keys()

    async def _refusal(self, scope: Scope, path: str) -> Response | None:
        """The answer that stops this request here, or None to let it through."""
        request = Request(scope)
        if not self.hosts.allows(request.headers.get("host")):
            return errors.answer(
                request, 400, "unknown host: this portal does not answer for that name"
            )
        if path != "/" and path.endswith("/") and not path.startswith("/static/"):
            query = scope.get("query_string", b"").decode("latin-1")
            return RedirectResponse(relative_without_slash(path, query), status_code=307)
        if path.startswith("/static/"):
            return None
        client = scope["client"][0] if scope.get("client") else "unknown"
        try:  # a shared limiter is a ledger round trip: off the event loop
            allowed = await run_in_threadpool(self.portal.limiter.allow, client)
        except SQLAlchemyError:  # cannot tell whether the client is over its limit: refuse
            return errors.answer(
                request, 503, "the portal is busy: try again in a moment", {"Retry-After": "1"}
            )
        if not allowed:
            return errors.answer(
                request, 429, "too many requests: slow down and try again in a minute",
                {"Retry-After": str(self.portal.limiter.retry_after())},
            )  # fmt: skip
        return None

    def _csrf_cookie(self, value: str) -> str:
        cookie = Response()
        cookie.set_cookie(
            CSRF_COOKIE, value, httponly=True, samesite="strict", secure=self.secure_cookie,
            path="/",
        )  # fmt: skip
        return str(cookie.headers["set-cookie"])
