"""What routes depend on: the :class:`Portal` (settings, ledger, vault, verifier, signer) and
the authenticated console user. Tests replace any of these with ``app.dependency_overrides``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates

from faceledger.api import FaceLedger
from faceledger.config import Settings
from faceledger.core.law import Policy
from faceledger.errors import LoginRequired
from faceledger.services.people.verification import ProfileVerifier
from faceledger.services.portal.users import User, authenticate_token, require, session_user
from faceledger.store import Ledger
from faceledger.store.vault import KeyVault
from faceledger.web.ratelimit import AuditBudget, TokenBucket
from faceledger.web.security import SESSION_COOKIE, Signer
from faceledger.web.selfie import SelfieGate

#: A selfie search: the image's bytes -> the matches, or (the portal's) the whole answer
#: (``SelfieAnswer.to_dict()``: matches plus what was compared and what could not be).
SelfieSearch = Callable[[bytes], list[dict[str, Any]] | dict[str, Any]]


@dataclass
class Portal:
    """Everything the app holds for its lifetime (one per ``create_app``): the deployment's
    :class:`faceledger.FaceLedger` (settings, ledger, vault, laws) and the web's own parts."""

    app: FaceLedger
    secret: bytes
    verifier: ProfileVerifier
    limiter: TokenBucket
    templates: Jinja2Templates
    signer: Signer
    selfie_gate: SelfieGate = field(default_factory=lambda: SelfieGate(1))
    audit_budget: AuditBudget = field(default_factory=lambda: AuditBudget(1000))
    # thumbnails decode a photo each: on threads of their own, never on the few shared ones
    # (``web_threads``) that answer the searches by identifier (threads start on first use)
    thumbnails: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="thumbnail")
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def ledger(self) -> Ledger:
        return self.app.ledger

    def vault(self) -> KeyVault:
        with self._lock:
            return self.app.vault

    @property
    def policies(self) -> list[Policy]:
        """The deployment's one law set (shipped plus ``policy_dir``), as the CLI has it."""
        return self.app.policies

    def forget_keys(self) -> None:
        """Drop the data keys cached during a request (after each one): the portal holds no
        key between requests, and a shred elsewhere reaches it at once (the vault also checks
        its shred generation on every use)."""
        vault = self.app.opened_vault
        if vault is not None:
            vault.forget()


def flush_unaudited_logins(portal: Portal, *, force: bool = False) -> None:
    """Write the count of refused logins that went unaudited one by one, once their hour is
    over (or now, with ``force``: the app is stopping)."""
    from datetime import UTC, datetime

    from faceledger.services.portal.users import record_unaudited_logins

    pending = portal.audit_budget.pop_unaudited(force=force)
    if pending is not None:
        count, hour = pending
        record_unaudited_logins(portal.ledger, count, hour=datetime.fromtimestamp(hour * 3600, UTC))


# The dependencies that only look something up are ``async def``: FastAPI runs a plain ``def``
# dependency on a worker thread, a hop per dependency per request (measured: bench/portal.py).


async def get_portal(request: Request) -> Portal:
    return request.app.state.portal  # type: ignore[no-any-return]


async def get_ledger(portal: Portal = Depends(get_portal)) -> Ledger:
    return portal.ledger


async def get_selfie_search(portal: Portal = Depends(get_portal)) -> SelfieSearch:
    """The selfie search the portal runs: the matching service, results capped and audited."""
    from faceledger.services.biometrics.matching import search_selfie

    settings = portal.settings.model_copy(
        update={
            "max_image_pixels": min(
                portal.settings.max_image_pixels, portal.settings.web_selfie_max_raw_pixels
            )
        }
    )

    def run(image: bytes) -> dict[str, Any]:
        return search_selfie(
            portal.ledger, portal.vault(), settings, image, consent_given=True,
            actor="portal", k=settings.web_selfie_results,
        ).to_dict()  # fmt: skip

    return run


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def api_user(request: Request, ledger: Ledger = Depends(get_ledger)) -> User:
    """The console user of an API request (``Authorization: Bearer flt_...``); 401 if none."""
    token = _bearer(request)
    user = authenticate_token(ledger, token) if token else None
    if user is None:
        raise HTTPException(
            401, "a console API token is required (Authorization: Bearer flt_...)",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    return user


def api_may(action: str) -> Callable[..., Awaitable[User]]:
    """The console API user, if their role allows ``action`` (``services.users.require``)."""

    async def check(user: User = Depends(api_user)) -> User:
        return require(user, action)

    return check


def page_user(request: Request, ledger: Ledger = Depends(get_ledger)) -> User:
    """The console user of a page (session cookie); redirects to the login page if none."""
    found = session_user(ledger, request.cookies.get(SESSION_COOKIE, ""))
    if found is None:
        raise LoginRequired()
    user, csrf = found
    request.state.session_csrf = csrf
    request.state.user = user
    return user


def page_may(action: str) -> Callable[..., Awaitable[User]]:
    """The console page user, if their role allows ``action`` (``services.users.require``)."""

    async def check(user: User = Depends(page_user)) -> User:
        return require(user, action)

    return check
