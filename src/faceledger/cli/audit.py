"""Commands on the audit log: verify, export, checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from faceledger.cli._common import CliState, echo_json


def _checkpoints(state: CliState) -> Path:
    from faceledger.services.oversight.audit import checkpoints_path

    return checkpoints_path(state.settings())


@click.group()
def audit() -> None:
    """The tamper-evident audit log.

    \b
    Example:
      faceledger audit verify
      faceledger audit export --out audit.jsonl
    """


@audit.command()
@click.option("--file", "export_file", type=click.Path(exists=True, path_type=Path),
              help="Verify an exported JSON Lines file instead of the ledger.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def verify(state: CliState, export_file: Path | None, as_json: bool) -> None:
    """Check the whole hash chain; name the first bad row. Exit 1 if it does not hold.

    Finds any edit, deletion, insertion or reordering of past rows, and checks that every
    recorded checkpoint (taken automatically, or by faceledger audit checkpoint) is still a
    prefix of the chain: a log emptied or cut back before its newest checkpoint fails. A
    malformed checkpoints file exits 1 naming its line.

    \b
    Example:
      faceledger audit verify
      faceledger audit verify --file audit.jsonl
    """
    from faceledger.services.oversight.audit import verify_audit, verify_export

    if export_file is not None:
        result = verify_export(export_file)
    else:
        result = verify_audit(state.ledger(), checkpoints=_checkpoints(state))
    if as_json:
        echo_json(result)
    elif result["ok"]:
        click.echo(
            f"audit chain verifies: {result['rows_checked']:,} rows, head {result['head'] or '-'}"
            + (
                f", {result['checkpoints_checked']} checkpoints hold"
                if result.get("checkpoints_checked")
                else ""
            )
        )
    else:
        if result["first_bad_position"] is not None:
            click.echo(
                f"audit chain BROKEN at row {result['first_bad_position']:,} "
                f"(id {result['first_bad_id']}): {result['problem']}",
                err=True,
            )
        for problem in result.get("checkpoint_problems", []):
            click.echo(f"audit chain BROKEN: {problem}", err=True)
    if not result["ok"]:
        sys.exit(1)


@audit.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: stdout).",
)
@click.pass_obj
def export(state: CliState, out: Path | None) -> None:
    """Write the audit log as JSON Lines, one event a line, with its hashes.

    \b
    Example:
      faceledger audit export --out audit.jsonl
    """
    from faceledger.services.oversight.audit import export_audit

    if out is None:
        export_audit(state.ledger(), sys.stdout)
        return
    with out.open("w", encoding="utf-8") as handle:
        count = export_audit(state.ledger(), handle)
    click.echo(f"wrote {count:,} audit events to {out}")


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def checkpoint(state: CliState, as_json: bool) -> None:
    """Record the chain's current head (rows, last id, hash) to keep elsewhere.

    Appended to the audit_checkpoint_file setting (default
    <data_dir>/audit-checkpoints.jsonl) after checking the previous checkpoint still holds.
    Checkpoints are also taken automatically, at the end of every command that writes and
    every audit_checkpoint_every events. Keep the file where the database's writers cannot
    change it. Verification then also detects rows being cut off or the whole chain being
    recomputed.

    \b
    Example:
      faceledger audit checkpoint
    """
    from faceledger.services.oversight.audit import record_checkpoint

    point = record_checkpoint(state.ledger(), _checkpoints(state))
    assert point is not None  # only_if_new is off: always a point
    if as_json:
        echo_json(point)
        return
    click.echo(
        f"checkpoint: {point['rows']:,} rows, last id {point['last_id']}, head {point['head']}"
    )


def register(main: click.Group) -> None:
    main.add_command(audit)
