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

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import HTTPException, Request

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
            raise HTTPException(
                403, "the form expired or cookies are off: reload the page and try again"
            )
        expected = _public_token(request.app.state.portal.secret, cookie)
    if not token or not hmac.compare_digest(str(token), expected):
        raise HTTPException(
            403, "the form's security token is missing or wrong: reload the page and try again"
        )


class Signer:
    """Sealed, timestamped values (thumbnail links, request tokens, owner proofs): opaque
    public handles. A token is base64url(nonce || AES-256-GCM(key, [issued, value])) with the
    ``salt`` (what the token is for) as associated data, the key derived from the portal's
    secret (HKDF-SHA256): nobody can read what a token names (photo, face or subject ids,
    distances), forge one, or use one made for another purpose. Each token is different, even
    for the same value, so tokens say nothing about order or sameness either."""

    _SKEW = 60  # seconds a token may seem to come from the future (clock steps)

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"faceledger web tokens v1"
        ).derive(secret)
        self._aead = AESGCM(key)
        self._clock = clock

    def dumps(self, salt: str, value: Any) -> str:
        body = json.dumps([int(self._clock()), value], separators=(",", ":")).encode()
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, body, salt.encode())
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def loads(self, salt: str, token: str, *, max_age: int) -> Any | None:
        """The value, or ``None`` when the token is forged, for another purpose, or older than
        ``max_age`` seconds."""
        if not token or len(token) > 4096 or not _B64URL.match(token):
            return None
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body = self._aead.decrypt(sealed[:12], sealed[12:], salt.encode())
            issued, value = json.loads(body)
        except (InvalidTag, ValueError, TypeError):
            return None
        age = self._clock() - int(issued)
        if age > max_age or age < -self._SKEW:
            return None
        return value


_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


class HostCheck:
    """Whether a ``Host`` header names this portal (the ``web_trusted_hosts`` setting):
    exact names, ``*.example.org`` for subdomains, ``*`` for any. Ports are ignored."""

    def __init__(self, hosts: list[str]) -> None:
        names = [h.strip().lower().strip("[]") for h in hosts if h.strip()]
        self.any = "*" in names
        self.exact = {n for n in names if not n.startswith("*.")}
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))

    def allows(self, header: str | None) -> bool:
        if self.any:
            return True
        if not header:
            return False
        value = header.strip().lower()
        if value.startswith("["):  # [v6]:port
            name = value[1:].partition("]")[0]
        else:
            name = value.rpartition(":")[0] if value.count(":") == 1 else value
        return name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))


def relative_without_slash(path: str, query: str) -> str:
    """Where ``/a/b/`` redirects to: ``/a/b``, relative (a spoofed ``Host`` never reaches the
    ``Location``) and never ``//host`` or ``/\\host`` (which browsers read as another site)."""
    target = "/" + path.strip("/\\").replace("\\", "/")
    while "//" in target:
        target = target.replace("//", "/")
    return target + ("?" + query if query else "")
