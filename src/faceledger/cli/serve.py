"""``faceledger serve``: the portal (public search and requests, the owner's console)."""

from __future__ import annotations

import click

from faceledger.cli._common import CliState
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
    FACELEDGER_DATABASE_URL for PostgreSQL. See docs/portal.md.

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
    app = create_app(state.settings(), ledger=state.ledger())
    click.echo(f"faceledger portal on http://{host}:{port}/ (console: /console)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)


def register(main: click.Group) -> None:
    main.add_command(serve)
