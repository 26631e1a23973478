"""``faceledger init``: create an empty ledger on purpose (the only command besides
``ingest`` that creates one)."""

from __future__ import annotations

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json


@click.command()
@JSON_OPTION
@click.pass_obj
def init(state: CliState, as_json: bool) -> None:
    """Create an empty ledger at the configured database URL, or migrate an existing one.

    Every other command except `ingest` refuses a missing ledger (exit 2, "no ledger at
    ..."), so that a typo in --database-url never creates an empty database. Use init before
    commands that need a ledger before any photo is ingested (user add, datasets import, evaluate).

    \b
    Example:
      faceledger init
      faceledger --database-url postgresql+psycopg://faceledger@db:5432/faceledger init
    """
    from faceledger.services.collection.ledger_init import init_ledger

    result, _ = init_ledger(
        state.settings().database_url, opener=lambda _url: state.ledger(create=True)
    )
    if as_json:
        echo_json(result.to_dict())
        return
    what = "created" if result.created else "already there"
    click.echo(f"ledger {what}: {result.url} (schema {result.schema})")


def register(main: click.Group) -> None:
    main.add_command(init)
