"""``faceledger serve``: the portal (public search and requests, the owner's console)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from faceledger.cli._common import CliState
from faceledger.errors import ConfigError

if TYPE_CHECKING:
    from faceledger.config import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64),
    help="Server processes sharing the port. They share the ledger, and through it the rate "
    "limits, the anonymous audit budget, console sessions and the signing secret.",
)  # fmt: skip
@click.option(
    "--access-log", "access_log", default=None, metavar="-|FILE|off",
    help="Access log: '-' stderr (default), a file, or 'off' (setting web_access_log). No "
    "addresses, cookies, tokens or query values are written.",
)  # fmt: skip
@click.pass_obj
def serve(state: CliState, host: str, port: int, workers: int, access_log: str | None) -> None:
    """Serve the portal: "am I in this dataset?" for people, a console for the owner.

    Public pages and the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json) are
    rate-limited per client address, one limit for all --workers processes (kept in
    the ledger); the console (/console) needs a user (faceledger user add). Works on
    the SQLite ledger as is; set FACELEDGER_DATABASE_URL for PostgreSQL. Behind a
    reverse proxy, name it in web_trusted_proxies (else X-Forwarded-For is ignored)
    and the public host name in web_trusted_hosts. A port already in use is an
    error (exit 2), reported before anything is served. See docs/portal.md.

    \b
    Example:
      faceledger user add ada --role admin
      faceledger serve --port 8000
      faceledger serve --workers 4 --access-log portal-access.log
    """
    try:
        import uvicorn  # noqa: F401

        from faceledger.web import create_app
    except ImportError as exc:
        raise ConfigError(
            f"the portal needs the web extra: pip install 'faceledger[web]' ({exc.name} missing)"
        ) from None
    from faceledger.web.keys import load_secret
    from faceledger.web.serving import bind_listener, run_server, supervise

    settings = state.settings(**({"web_access_log": access_log} if access_log is not None else {}))
    if (
        host not in _WILDCARDS
        and host not in settings.web_trusted_hosts
        and "*" not in settings.web_trusted_hosts
    ):
        settings = settings.model_copy(
            update={"web_trusted_hosts": [*settings.web_trusted_hosts, host]}
        )
    ledger = state.ledger()
    if workers > 1 and ledger.read_only:
        raise ConfigError(
            "--workers needs a writable ledger (the processes share their rate limits through it)"
        )
    load_secret(settings)  # the one signing secret every worker reads, made before any starts
    # a busy port is reported here, before any "serving" line
    listener = bind_listener(host, port, workers=workers)
    where = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    processes = f", {workers} server processes" if workers > 1 else ""
    click.echo(f"faceledger portal on {where} (console: /console){processes}", err=True)
    if workers == 1:
        run_server(create_app(settings, ledger=ledger), settings, listener)
        return
    ledger.dispose()  # each worker opens its own connections
    code = supervise(settings, listener, workers)
    if code:
        raise SystemExit(code)


_WILDCARDS = ("0.0.0.0", "::", "")


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """uvicorn's options for the portal (see :func:`faceledger.web.serving.uvicorn_options`)."""
    from faceledger.web.serving import uvicorn_options as options

    return options(settings, host, port)


def register(main: click.Group) -> None:
    main.add_command(serve)
