"""``faceledger consent add / revoke / list / import``: consent records.

Thin: parse, call :mod:`faceledger.services.people.consent`, print.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json, parse_date


def _echo_reassessed(reassessed: dict[str, Any]) -> None:
    if not reassessed["faces"]:
        click.echo("no assessed face is touched (faces never assessed wait for faceledger assess)")
        return
    click.echo(
        f"re-assessed {reassessed['faces']:,} decisions of the faces it may cover as of "
        f"{reassessed['date']} ({', '.join(reassessed['purposes'])}): "
        f"{reassessed['allowed']:,} allowed, {reassessed['blocked']:,} blocked"
    )


@click.group()
def consent() -> None:
    """Record, revoke, list and import consents; assess uses them at once.

    A consent belongs to the depicted person: given by the subject or their legal
    representative for the faces they claimed (--claim, see faceledger claim), or by a
    photo owner (--owner), which covers only a face claimed as the owner's own. Every change
    re-decides the already assessed faces it may cover.

    \b
    Example:
      faceledger consent add --claim 3 --given-by subject --form written --informed \
        --purpose train-face-recognition --signer "Dana Example" --signed 2026-11-30 \
        --evidence-sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      faceledger consent list --claim 3
    """


@consent.command("add")
@click.option("--claim", "claim_ids", type=int, multiple=True, metavar="ID",
              help="A claimed face it covers (repeat for several; see faceledger claim).")  # fmt: skip
@click.option("--given-by", type=click.Choice(["subject", "legal-representative", "photo-owner"]),
              help="Who gave it (default: photo-owner with --owner, else subject).")  # fmt: skip
@click.option(
    "--relationship", metavar="TEXT", help="A representative's relationship (e.g. parent)."
)
@click.option("--owner", "owner_id", metavar="NSID",
              help="A photo owner's consent: covers only the owner's own claimed face.")  # fmt: skip
@click.option("--subject", "subject_id", type=int, metavar="ID",
              help="Subject id: covers only that subject's claimed faces.")  # fmt: skip
@click.option("--form", type=click.Choice(["written", "electronic", "verbal", "none"]),
              help="How the consent was given (required unless --refusal).")  # fmt: skip
@click.option("--kind", type=click.Choice(["consent", "sale-authorization"]), default="consent",
              show_default=True, help="A consent, or a separate signed sale authorization.")  # fmt: skip
@click.option("--purchaser", metavar="NAME", help="The named purchaser (sale-authorization).")
@click.option(
    "--signer",
    metavar="NAME",
    help="Who signed (required for a subject's or representative's consent).",
)
@click.option(
    "--signed", "signed_on", callback=parse_date, metavar="YYYY-MM-DD", help="When it was signed."
)
@click.option(
    "--refusal",
    is_flag=True,
    help="Record the person's refusal for the purposes (read as an opt-out).",
)
@click.option("--purpose", "purposes", multiple=True, required=True, metavar="PURPOSE",
              help="A purpose it covers (repeat for several).")  # fmt: skip
@click.option("--informed/--not-informed", default=False, show_default=True,
              help="Whether the purpose and retention term were disclosed first.")  # fmt: skip
@click.option(
    "--granted", callback=parse_date, metavar="YYYY-MM-DD", help="When given (default: today, UTC)."
)
@click.option(
    "--expires", callback=parse_date, metavar="YYYY-MM-DD", help="When it lapses (default: never)."
)
@click.option("--evidence-uri", metavar="URI", help="Where the signed form or record is kept.")
@click.option("--evidence-sha256", metavar="HEX", help="SHA-256 of that evidence (64 hex digits).")
@click.option(
    "--force",
    is_flag=True,
    help="Record an --owner consent even if no photo of that owner is in the ledger.",
)
@JSON_OPTION
@click.pass_obj
def add(
    state: CliState, claim_ids: tuple[int, ...], given_by: str | None, relationship: str | None,
    owner_id: str | None, subject_id: int | None, form: str | None, kind: str, purchaser: str | None,
    signer: str | None, signed_on: date | None, refusal: bool, purposes: tuple[str, ...],
    informed: bool, granted: date | None, expires: date | None, evidence_uri: str | None,
    evidence_sha256: str | None, force: bool, as_json: bool,
) -> None:  # fmt: skip
    """Record one consent (or refusal) and print its receipt (give it to the person).

    Name what it covers: --claim (the person's claimed faces; given by the subject or a
    legal representative, with --signer, --signed and --evidence-sha256 of the signed form),
    --subject, or --owner (a photo owner's consent: it counts only for a face claimed as the
    owner's own, never for anyone else in the photo). Whether a consent satisfies a law is
    decided by assess: BIPA, for example, needs a written (electronic from 2 Aug 2024),
    informed release naming the purpose, from the subject or their legally authorized
    representative. Exit 2 when a value is invalid, or when --owner names an owner with no
    photo in the ledger (a typo; --force records it anyway).

    \b
    Example:
      faceledger consent add --claim 3 --given-by subject --form written --informed \\
        --purpose train-face-recognition --signer "Dana Example" --signed 2026-11-30 \\
        --evidence-uri s3://consents/0001.pdf \\
        --evidence-sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      faceledger consent add --claim 4 --given-by legal-representative --relationship parent \\
        --purpose train-face-recognition --refusal
    """
    from faceledger.services.people.consent import add_consent

    if form is None and not refusal:
        raise click.UsageError("say how the consent was given: --form (or record a --refusal)")
    change = add_consent(
        state.ledger(), owner_id=owner_id, subject_id=subject_id, claim_ids=claim_ids,
        given_by=given_by, relationship=relationship, kind=kind, purchaser=purchaser,
        signer=signer, signed_on=signed_on, refusal=refusal, form=form or "none", purposes=purposes,
        informed=informed, granted=granted, expires=expires, evidence_uri=evidence_uri,
        evidence_sha256=evidence_sha256, policies=state.policies(), require_known_owner=not force,
    )  # fmt: skip
    record, reassessed = change.consent.to_dict(), change.reassessed.to_dict()
    if as_json:
        echo_json({"consent": record, "reassessed": reassessed})
        return
    click.echo(f"recorded consent {record['id']}; receipt: {record['receipt']}")
    _echo_reassessed(reassessed)


@consent.command("revoke")
@click.argument("consent_id_or_receipt", metavar="ID_OR_RECEIPT")
@click.option(
    "--on",
    callback=parse_date,
    metavar="YYYY-MM-DD",
    help="Revoked from this date (default: today, UTC).",
)
@JSON_OPTION
@click.pass_obj
def revoke(state: CliState, consent_id_or_receipt: str, on: date | None, as_json: bool) -> None:
    """Revoke a consent by id or receipt; the faces it covered are re-decided at once.

    The earliest revocation date wins. Exit 2 when no consent has that id or receipt.
    Templates already extracted are not destroyed by this command.

    \b
    Example:
      faceledger consent revoke 12
      faceledger consent revoke Jx3f...receipt --on 2025-06-01
    """
    from faceledger.services.people.consent import revoke_consent

    change = revoke_consent(state.ledger(), consent_id_or_receipt, on=on, policies=state.policies())
    record, reassessed = change.consent.to_dict(), change.reassessed.to_dict()
    if as_json:
        echo_json({"consent": record, "changed": change.changed, "reassessed": reassessed})
        return
    if not change.changed:
        click.echo(f"consent {record['id']} was already revoked on {record['revoked']}")
        return
    click.echo(f"revoked consent {record['id']} from {record['revoked']}")
    _echo_reassessed(reassessed)


@consent.command("list")
@click.option("--owner", "owner_id", metavar="NSID", help="Only this owner's consents.")
@click.option(
    "--subject", "subject_id", type=int, metavar="ID", help="Only this subject's consents."
)
@click.option(
    "--claim", "claim_id", type=int, metavar="ID", help="Only the consents on this claim."
)
@JSON_OPTION
@click.pass_obj
def list_(
    state: CliState,
    owner_id: str | None,
    subject_id: int | None,
    claim_id: int | None,
    as_json: bool,
) -> None:
    """List recorded consents with their status today (active, pending, expired, revoked,
    refused) and who gave them.

    \b
    Example:
      faceledger consent list
      faceledger consent list --claim 3 --json
    """
    from faceledger.services.people.consent import list_consents

    records = [
        r.to_dict()
        for r in list_consents(
            state.ledger(), owner_id=owner_id, subject_id=subject_id, claim_id=claim_id
        )
    ]
    if as_json:
        echo_json({"consents": records})
        return
    if not records:
        click.echo("no consents recorded")
        return
    for r in records:
        if r["given_by"] == "photo-owner":
            who = f"photo owner {r['owner_id']} (own face only)"
        else:
            covers = (f"claims {', '.join(map(str, r['claim_ids']))}" if r["claim_ids"]
                      else f"subject {r['subject_id']}")  # fmt: skip
            rel = f" ({r['relationship']})" if r["relationship"] else ""
            who = f"{r['given_by']}{rel} for {covers}"
        if r["kind"] != "consent":
            who += f", {r['kind']} to {r['purchaser']}"
        click.echo(
            f"{r['id']:>6}  {r['status']:<8} {who}  {r['form']}"
            f"{' informed' if r['informed'] else ' NOT informed'}  {', '.join(r['purposes'])}  "
            f"granted {r['granted']}, expires {r['expires'] or '-'}, revoked {r['revoked'] or '-'}"
        )
    click.echo(f"{len(records):,} consents")


@consent.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@JSON_OPTION
@click.pass_obj
def import_(state: CliState, file: Path, as_json: bool) -> None:
    """Add the consents in a CSV or JSON Lines FILE.

    Columns: owner_id, subject_id, claims (claim ids), form, purposes (';'-separated in CSV,
    lists in JSON Lines), informed, granted, expires, revoked, evidence_uri, evidence_sha256,
    given_by, relationship, kind, purchaser, signer, signed_on. A row with owner_id and no
    given_by is a photo-owner consent. Bad rows are reported with file and line, skipped and
    counted; rows already recorded are skipped.

    \b
    Example:
      faceledger consent import consents.csv
      faceledger consent import consents.jsonl --json
    """
    from faceledger.services.people.consent import import_consents

    report = import_consents(state.ledger(), file, policies=state.policies())
    if as_json:
        echo_json(report.to_dict())
        return
    for reject in report.rejects:
        click.echo(f"  rejected {reject}", err=True)
    click.echo(
        f"imported {report.added:,} consents from {file.name}: {report.seen:,} rows, "
        f"{report.duplicates:,} already recorded, {report.rejected:,} rejected"
    )
    _echo_reassessed(report.reassessed.to_dict())


def register(main: click.Group) -> None:
    """Add the ``consent`` group to the top-level command."""
    main.add_command(consent)
