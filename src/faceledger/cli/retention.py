"""``faceledger retention sweep``: destroy what is due. Thin: parse, call, print."""

from __future__ import annotations

from datetime import date

import click

from faceledger.cli._common import CliState, echo_json, parse_date


@click.group("retention")
def retention() -> None:
    """Destroy biometric templates when the law says they must go.

    \b
    Example:
      faceledger retention sweep --dry-run
      faceledger retention sweep --json
    """



@retention.command("sweep")
@click.option("--as-of", "on", callback=parse_date, metavar="YYYY-MM-DD", help="Decide what is due on this date (default: today, UTC).")
@click.option("--dry-run", is_flag=True, help="Show what would be destroyed; destroy nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def sweep_command(state: CliState, on: date | None, dry_run: bool, as_json: bool) -> None:
    """Destroy templates past their destroy-by date or no longer allowed (revoked consent).

    Each face destroyed gets a certificate; a subject left without templates has its key
    shredded. Idempotent and safe from cron: a second sweep while one runs exits 2.

    \b
    Example:
      faceledger retention sweep --dry-run
      faceledger retention sweep --as-of 2028-01-01 --json
    """
    from faceledger.services.retention import sweep

    report = sweep(state.ledger(), state.vault(), on=on, dry_run=dry_run)
    if as_json:
        echo_json(report.to_dict())
        return
    verb = "would destroy" if dry_run else "destroyed"
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(report.by_reason.items())) or "nothing due"
    click.echo(f"as of {report.on}: {verb} templates of {report.faces:,} faces "
               f"({report.templates:,} templates; {reasons})")  # fmt: skip
    if not dry_run and report.keys_shredded:
        click.echo(f"shredded {report.keys_shredded:,} subject keys")


def register(main: click.Group) -> None:
    """Add the ``retention`` group to the top-level command."""
    main.add_command(retention)
