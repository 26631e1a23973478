"""Error answers that help the caller and leak nothing: JSON ``{"detail": ...}`` under
``/api``, a small page elsewhere. Validation errors name the field; faceledger's own errors
become 4xx with their message; anything unexpected is a 500 with an incident id only (the
traceback goes to the server log, never to the client)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from faceledger.errors import (
    Conflict,
    FaceledgerError,
    Forbidden,
    ImageError,
    KeyShredded,
    LoginRequired,
    NotFound,
    TamperedCiphertext,
    Unavailable,
)
from faceledger.web.security import secure_headers

log = logging.getLogger("faceledger.web")

#: The HTTP answer for each kind of faceledger error (``errors.py``), most specific first;
#: anything else a service refuses is the caller's to fix (400).
STATUS_BY_KIND: tuple[tuple[type[FaceledgerError], int], ...] = (
    (Unavailable, 503),
    (Forbidden, 403),
    (ImageError, 422),
    (NotFound, 404),
    (Conflict, 409),
)


def status_for(exc: FaceledgerError) -> int:
    """The HTTP status of a faceledger error, by its kind in ``errors.py``."""
    return next((status for kind, status in STATUS_BY_KIND if isinstance(exc, kind)), 400)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "request"


def answer(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    portal = request.app.state.portal
    response: Response = portal.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message},
        status_code=status, headers=headers,
    )  # fmt: skip
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such page"
        elif exc.status_code == 405:
            detail = "this method is not allowed here"
        return answer(request, exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{_field(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()[:5]
        ]
        return answer(request, 422, "invalid request: " + "; ".join(problems))

    @app.exception_handler(FaceledgerError)
    async def _ours(request: Request, exc: FaceledgerError) -> Response:
        if isinstance(exc, KeyShredded | TamperedCiphertext):  # internal ids in the message
            incident = secrets.token_hex(6)
            log.error("incident %s on %s %s: %s", incident, request.method, request.url.path, exc)
            return answer(
                request,
                503,
                f"the search could not be completed; try again later (incident {incident})",
            )
        status = status_for(exc)
        if status >= 500:
            log.error("service unavailable: %s", exc)
            return answer(request, status, "the ledger is unavailable; try again later")
        return answer(request, status, str(exc))

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/console/login", status_code=303)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        incident = secrets.token_hex(6)
        log.error("incident %s on %s %s", incident, request.method, request.url.path, exc_info=exc)
        response = answer(request, 500, f"something went wrong on our side (incident {incident})")
        secure_headers(request.url.path, response.headers)  # this answer skips the middleware
        return response


__all__ = ["HTTPException", "answer", "install", "status_for"]
