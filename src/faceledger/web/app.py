"""``create_app(settings)``: the portal as a FastAPI application.

Example::

    app = create_app(load_settings(database_url="sqlite:///ledger.db"))
    # tests: create_app(settings, ledger=ledger, verifier=LocalProfileVerifier(path))

Routes: public pages (``/``, ``/search``, ``/selfie``, ``/requests``...), the owner's console
(``/console``), and the JSON API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``).
The interactive docs pages are off: they load scripts from a CDN.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from faceledger import __version__
from faceledger.api import FaceLedger
from faceledger.config import Settings
from faceledger.services.people.verification import LocalProfileVerifier, ProfileVerifier
from faceledger.store import Ledger, open_ledger
from faceledger.web import errors
from faceledger.web.deps import Portal, flush_unaudited_logins
from faceledger.web.guard import Guard
from faceledger.web.keys import load_secret
from faceledger.web.ratelimit import TokenBucket, portal_limits
from faceledger.web.security import HostCheck, Signer, csrf_token
from faceledger.web.selfie import SelfieGate

HERE = Path(__file__).resolve().parent
API_DESCRIPTION = """\
Ask whether your photos are in this dataset, which releases hold them and who received
them; file an opt-out or erasure request and follow it. Console endpoints
(`/api/v1/console/...`) need `Authorization: Bearer flt_...` (`faceledger user add`).
Public endpoints are rate-limited per client address (429 with `Retry-After`).
"""


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["csrf_token"] = csrf_token
    templates.env.globals["version"] = __version__
    return templates


def create_app(
    settings: Settings, *, ledger: Ledger | None = None, verifier: ProfileVerifier | None = None,
    limiter: TokenBucket | None = None,
) -> FastAPI:  # fmt: skip
    """The portal over ``settings.database_url`` (or the given ``ledger``)."""
    from faceledger.web import (
        api_console,
        api_public,
        api_requests,
        pages_console,
        pages_public,
        pages_requests,
    )

    profiles = settings.web_flickr_profiles or Path(settings.data_dir) / "flickr_profiles.json"
    secret = load_secret(settings)
    ledger = ledger or open_ledger(settings.database_url)
    # in the ledger, shared by every server process (issue 15.3); in memory on a read-only one
    shared_limiter, audit_budget = portal_limits(settings, ledger, secret)
    portal = Portal(
        app=FaceLedger(settings, ledger=ledger, actor="portal"),
        secret=secret,
        verifier=verifier or LocalProfileVerifier(profiles),
        limiter=limiter or shared_limiter,
        templates=_templates(),
        signer=Signer(secret),
        selfie_gate=SelfieGate(settings.web_selfie_concurrency),
        audit_budget=audit_budget,
    )

    @asynccontextmanager
    async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
        # the threads that run ledger calls and sync routes: a few, not anyio's 40 (issue 15.3)
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        yield
        flush_unaudited_logins(portal, force=True)  # the last hour's count is not lost

    app = FastAPI(
        title="faceledger portal", version=__version__, description=API_DESCRIPTION,
        docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json",
        redirect_slashes=False, lifespan=_lifespan,
    )  # fmt: skip
    app.state.portal = portal
    errors.install(app)

    app.add_middleware(
        Guard, portal=portal, hosts=HostCheck(settings.web_trusted_hosts),
        secure_cookie=settings.web_cookie_secure,
    )  # fmt: skip
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    from faceledger.web import api_review, pages_review  # request review (requests helper)

    for module in (api_public, api_requests, api_console, api_review, pages_public, pages_requests,
                   pages_console, pages_review):  # fmt: skip
        app.include_router(module.router)
    # the face view (issue 13 item 12)
    from faceledger.web.pages_faces import router as faces_router

    app.include_router(faces_router)
    return app
