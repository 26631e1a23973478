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
@click.option(
    "--as-of",
    "on",
    callback=parse_date,
    metavar="YYYY-MM-DD",
    help="Decide what is due on this date (default: today, UTC).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be destroyed; destroy nothing.")
@click.option("--confirm", is_flag=True,
              help="Go ahead although the sweep destroys far more than the previous one.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def sweep_command(
    state: CliState, on: date | None, dry_run: bool, confirm: bool, as_json: bool
) -> None:
    """Destroy templates whose retention clock is due, whose consent was revoked, or that
    an executed request excluded; nothing else (a face merely blocked now is kept, "held").

    Each face destroyed gets a certificate naming its cause (the destroy-by date, the
    consent or the request); a subject left without templates has its key shredded. A
    sweep that would destroy far more than the previous one (settings
    retention_confirm_faces, retention_confirm_factor) destroys nothing and exits 2 saying
    why; run it again with --confirm. Idempotent and safe from cron: a second sweep while
    one runs exits 2.

    It also forgets the requester's contact of every request confirmed or rejected
    request_contact_days (default 90) or more days ago (its key is shredded; the request
    and its audit trail stay).

    \b
    Example:
      faceledger retention sweep --dry-run
      faceledger retention sweep --as-of 2028-01-01 --json
      faceledger retention sweep --confirm
    """
    from faceledger.services.lifecycle.retention import sweep

    settings = state.settings()
    report = sweep(state.ledger(), state.vault(), on=on, dry_run=dry_run, confirm=confirm,
                   confirm_faces=settings.retention_confirm_faces,
                   confirm_factor=settings.retention_confirm_factor,
                   limit_days=settings.retention_limit_days,
                   contact_days=settings.request_contact_days)  # fmt: skip
    if as_json:
        echo_json(report.to_dict())
        return
    verb = "would destroy" if dry_run else "destroyed"
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(report.by_reason.items())) or "nothing due"
    click.echo(f"as of {report.on}: {verb} templates of {report.faces:,} faces "
               f"({report.templates:,} templates; {reasons})")  # fmt: skip
    if not dry_run and report.keys_shredded:
        click.echo(f"shredded {report.keys_shredded:,} subject keys")
    if report.contacts:
        click.echo(f"{'would forget' if dry_run else 'forgot'} the requester's contact of "
                   f"{len(report.contacts):,} closed requests (request_contact_days)")  # fmt: skip
    if report.held:
        click.echo(f"kept the templates of {report.held:,} faces that are blocked now without a due "
                   "retention clock, a revoked consent or a request: check `faceledger assess`")  # fmt: skip


def register(main: click.Group) -> None:
    """Add the ``retention`` group to the top-level command."""
    main.add_command(retention)
