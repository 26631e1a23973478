"""The ``faceledger`` command line: parse, call one service, format. No business rules here.

Each command group lives in its own module and registers itself on :data:`main`.
"""

from __future__ import annotations

import logging
import sys

import click

from faceledger import __version__
from faceledger.cli._common import CliState
from faceledger.errors import FaceledgerError


class _Group(click.Group):
    """A group that turns faceledger's own errors into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FaceledgerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:  # disk full, read-only ledger...: one line, not a traceback
            from faceledger.cli._common import clear_error

            mapped = clear_error(exc, ctx.obj)
            if mapped is None:
                raise
            click.echo(f"error: {mapped}", err=True)
            sys.exit(mapped.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="faceledger")
@click.option(
    "--database-url", envvar=None, help="Ledger database URL (overrides FACELEDGER_DATABASE_URL)."
)
@click.option(
    "--data-dir", type=click.Path(), help="Folder for keys and caches (FACELEDGER_DATA_DIR)."
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, data_dir: str | None, verbose: bool) -> None:
    """faceledger: make face datasets lawful and answerable.

    \b
    Example:
      faceledger ingest examples/
      faceledger scan
      faceledger status
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    quiet_libraries()
    state = CliState(overrides={"database_url": database_url, "data_dir": data_dir})
    ctx.obj = state
    ctx.call_on_close(state.close)


# Libraries whose debug lines drown faceledger's own under -v (Alembic's migration chatter,
# SQLAlchemy's SQL echo, ...): they log warnings and errors only.
QUIET_LOGGERS = ("alembic", "sqlalchemy", "urllib3", "httpx", "httpcore", "asyncio", "PIL",
                 "matplotlib", "filelock", "numba", "ray", "multipart", "fsspec")  # fmt: skip


def quiet_libraries() -> None:
    """Set the loggers of :data:`QUIET_LOGGERS` to WARNING (``-v`` shows faceledger's lines)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _register() -> None:
    from faceledger.cli import (
        assess,
        audit,
        biometrics,
        consent,
        ledger,
        policy,
        release,
        report,
        request,
        retention,
        serve,
        users,
    )

    for module in (
        ledger,
        policy,
        assess,
        consent,
        biometrics,
        audit,
        report,
        release,
        request,
        retention,
        serve,
        users,
    ):
        module.register(main)


_register()


def _register_acquisition() -> None:
    """``fetch`` and ``optouts`` (issue 12), appended so the list above stays untouched."""
    from faceledger.cli import fetch

    fetch.register(main)


_register_acquisition()


def _register_claims() -> None:
    """``claim`` (issue 10: a person claims their face), appended like the one above."""
    from faceledger.cli import claim

    claim.register(main)


_register_claims()


def _register_evaluate() -> None:
    """``evaluate`` (issue 14), appended so the lists above stay untouched."""
    from faceledger.cli import evaluate

    evaluate.register(main)


_register_evaluate()


def _register_datasets() -> None:
    """``datasets`` (issue 13: which published datasets hold me?), appended likewise."""
    from faceledger.cli import datasets

    datasets.register(main)


_register_datasets()


def _register_init() -> None:
    """``init`` (issue 13 item 8: only ``ingest`` and ``init`` create a ledger), appended."""
    from faceledger.cli import init

    init.register(main)


_register_init()
