"""Secure headers, CSRF tokens and signed values.

Headers (every response): a Content-Security-Policy with no inline script at all
(``script-src 'self'``, and the portal ships no script), ``frame-ancestors 'none'``,
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, a restrictive
``Permissions-Policy`` and ``Cache-Control: no-store`` on everything but static files.

CSRF: every form carries a token. Public forms use a signed double-submit token: the browser
holds a random ``fl_csrf`` cookie (HttpOnly, SameSite=Strict) and the form carries
HMAC(secret, cookie); console forms carry the login session's own CSRF secret. The JSON API
takes no cookies for authentication (bearer tokens only), so it needs no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

CSRF_COOKIE = "fl_csrf"
SESSION_COOKIE = "fl_session"
OWNER_COOKIE = "fl_owner"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def secure_headers(path: str, headers: Any) -> None:
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    if not path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"


def public_csrf_cookie(request: Request) -> str:
    """This browser's CSRF cookie value (a new one if it has none; the middleware sets it)."""
    value = request.cookies.get(CSRF_COOKIE)
    if not value or len(value) > 128:
        value = getattr(request.state, "new_csrf_cookie", None) or secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = value
    return value


def _public_token(secret: bytes, cookie: str) -> str:
    return hmac.new(secret, b"csrf\0" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token the page's forms must carry."""
    session_csrf = getattr(request.state, "session_csrf", None)
    if session_csrf:
        return str(session_csrf)
    return _public_token(request.app.state.portal.secret, public_csrf_cookie(request))


def check_csrf(request: Request, token: str | None, *, session_csrf: str | None = None) -> None:
    """403 unless ``token`` is this browser's (or this session's) CSRF token."""
    if session_csrf is not None:
        expected = session_csrf
    else:
        cookie = request.cookies.get(CSRF_COOKIE)
        if not cookie:
            raise HTTPException(403, "the form expired or cookies are off: reload the page and try again")
        expected = _public_token(request.app.state.portal.secret, cookie)
    if not token or not hmac.compare_digest(str(token), expected):
        raise HTTPException(403, "the form's security token is missing or wrong: reload the page and try again")


class Signer:
    """Signed, timestamped values (thumbnail links, selfie matches, owner proofs)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def dumps(self, salt: str, value: Any) -> str:
        return URLSafeTimedSerializer(self._secret, salt=salt).dumps(value)

    def loads(self, salt: str, token: str, *, max_age: int) -> Any | None:
        """The value, or ``None`` when the signature is bad or older than ``max_age`` seconds."""
        if not token or len(token) > 4096:
            return None
        try:
            return URLSafeTimedSerializer(self._secret, salt=salt).loads(token, max_age=max_age)
        except (BadSignature, SignatureExpired):
            return None
