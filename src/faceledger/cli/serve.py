"""``faceledger serve``: the portal (public search and requests, the owner's console)."""

from __future__ import annotations

from typing import Any

import click

from faceledger.cli._common import CliState
from faceledger.config import Settings
from faceledger.errors import ConfigError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.pass_obj
def serve(state: CliState, host: str, port: int) -> None:
    """Serve the portal: "am I in this dataset?" for people, a console for the owner.

    Public pages and the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json) are
    rate-limited per client address; the console (/console) needs a user
    (faceledger user add). Works on the SQLite ledger as is; set
    FACELEDGER_DATABASE_URL for PostgreSQL. Behind a reverse proxy, name it in
    web_trusted_proxies (else X-Forwarded-For is ignored) and the public host
    name in web_trusted_hosts. See docs/portal.md.

    \b
    Example:
      faceledger user add ada --role admin
      faceledger serve --port 8000
    """
    try:
        import uvicorn

        from faceledger.web import create_app
    except ImportError as exc:
        raise ConfigError(f"the portal needs the web extra: pip install 'faceledger[web]' ({exc.name} missing)") from None
    settings = state.settings()
    if host not in _WILDCARDS and host not in settings.web_trusted_hosts and "*" not in settings.web_trusted_hosts:
        settings = settings.model_copy(update={"web_trusted_hosts": [*settings.web_trusted_hosts, host]})
    app = create_app(settings, ledger=state.ledger())
    click.echo(f"faceledger portal on http://{host}:{port}/ (console: /console)", err=True)
    uvicorn.run(app, **uvicorn_options(settings, host, port))


_WILDCARDS = ("0.0.0.0", "::", "")


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """How the portal is served: forwarded headers are believed only from the proxies named in
    ``web_trusted_proxies`` (none by default; uvicorn alone would trust loopback), no server
    header, no access log (it would hold client addresses and search queries)."""
    proxies = [p.strip() for p in settings.web_trusted_proxies if p.strip()]
    return {
        "host": host, "port": port, "log_level": "warning", "access_log": False,
        "server_header": False, "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(proxies) if proxies else "",
    }  # fmt: skip


def register(main: click.Group) -> None:
    main.add_command(serve)
