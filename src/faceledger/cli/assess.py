"""``faceledger assess / explain / exposure``: per-face law decisions, their reasons, the risk.

Thin: parse, call :mod:`faceledger.services.decisions.assess` / :mod:`faceledger.services.decisions.exposure`,
print.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json, parse_date
from faceledger.cli._progress import RichProgress

_PURPOSE = click.option(
    "--purpose", default=None, help="Purpose to decide for (default: the purpose setting)."
)
_ACTION = click.option(
    "--action",
    default="extract-template",
    show_default=True,
    type=click.Choice(["extract-template", "match-optout"]),
    help="Action to decide.",
)


@click.command()
@_PURPOSE
@_ACTION
@click.option("--as-of", callback=parse_date, metavar="YYYY-MM-DD",
              help="Decide as of this date (default: today, UTC).")  # fmt: skip
@JSON_OPTION
@click.pass_obj
def assess(
    state: CliState, purpose: str | None, action: str, as_of: date | None, as_json: bool
) -> None:
    """Decide, for every detected face, whether the action is allowed for the purpose.

    Each face gets its photo's jurisdiction evidence (geotag, owner location), the processor
    settings (processor_location, processor_commercial) and the consents recorded for its
    photo's owner (faceledger consent), evaluated against every law. The decision, its
    reasons and the policy versions are recorded per face; re-running replaces them. An
    unset processor_location is treated as unknown: laws that reach processing in their
    territory stay in scope.

    \b
    Example:
      faceledger assess
      faceledger assess --purpose fairness-audit --as-of 2024-07-01 --json
    """
    from faceledger.services.decisions.assess import assess_faces

    settings = state.settings()
    report = assess_faces(
        state.ledger(), settings, purpose=purpose, action=action, on=as_of,
        progress=None if as_json else RichProgress(),
    )  # fmt: skip
    document = report.to_dict()
    if as_json:
        echo_json(document)
        return
    click.echo(
        f"assessed {document['faces']:,} faces: {document['action']} for "
        f"{document['purpose']!r} on {document['date']} ({document['mode']} mode)"
    )
    click.echo(f"  allowed: {document['allowed']:,}")
    click.echo(f"  blocked: {document['blocked']:,}")
    processor = document["processor"]
    where = processor["location"] or "unknown (processor_location not set: laws that reach "\
        "processing in their territory stay in scope)"  # fmt: skip
    click.echo(
        f"processor: {where}, {'commercial' if processor['commercial'] else 'non-commercial'}"
    )
    if document["blocked_by"]:
        click.echo("blocked by law and section:")
    for entry in document["blocked_by"]:
        click.echo(f"  {entry['law']} {entry['section']}: {entry['faces']:,} faces")
        for reason in entry["top_reasons"]:
            click.echo(f"    {reason['faces']:>6,}  {reason['reason']}")
    versions = ", ".join(f"{k} {v}" for k, v in document["policy_versions"].items())
    click.echo(f"policy versions: {versions}")
    click.echo("details for one face: faceledger explain FACE_ID")


def _when(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "-" if value is None else str(value)


@click.command()
@click.argument("face_id", type=int)
@_PURPOSE
@_ACTION
@JSON_OPTION
@click.pass_obj
def explain(state: CliState, face_id: int, purpose: str | None, action: str, as_json: bool) -> None:
    """Show why FACE_ID got its recorded decision: provenance, jurisdictions, each law.

    The stored scenario is re-evaluated with today's policies; if they would decide
    differently from what was recorded, the differences are listed. Exit 2 when the face
    does not exist or has not been assessed for the purpose.

    \b
    Example:
      faceledger explain 12
      faceledger explain 12 --purpose fairness-audit --json
    """
    from faceledger.services.decisions.explain import explain_face

    settings = state.settings()
    document = explain_face(
        state.ledger(), face_id=face_id, purpose=settings.purpose_or(purpose),
        action=action, policies=state.policies(),
    )  # fmt: skip
    if as_json:
        echo_json(document)
        return
    face, photo, recorded = document["face"], document["photo"], document["recorded"]
    click.echo(
        f"face {face['id']} (#{face['index']} in photo {photo['id']}, score {face['score']:.2f})"
    )
    click.echo(f"photo: {photo['external_id'] or '-'}  {photo['path'] or photo['page_url'] or ''}")
    owner = photo["owner_id"] or "unknown"
    if photo["owner_nickname"]:
        owner += f" ({photo['owner_nickname']})"
    click.echo(f"  owner: {owner}; owner location: {photo['owner_location'] or '-'}")
    geotag = photo["geotag"]
    click.echo(
        "  geotag: "
        + ("none" if geotag is None else
           f"{geotag['lat']}, {geotag['lon']} (accuracy {geotag['accuracy'] or '-'})")
    )  # fmt: skip
    click.echo(f"  taken {_when(photo['date_taken'])}, ingested {_when(photo['ingested'])}, "
               f"licence {photo['license'] or '-'}")  # fmt: skip
    click.echo(
        f"recorded: {recorded['decision'].upper()} on {_when(recorded['assessed_at'])} "
        f"(destroy by {_when(recorded['destroy_by'])})"
    )
    if document["changed"]:
        click.echo("TODAY'S POLICIES DECIDE DIFFERENTLY from what is recorded:")
        for line in document["differences"]:
            click.echo(f"  - {line}")
        click.echo("  run faceledger assess to record the new decision")
    else:
        click.echo("today's policies decide the same as recorded")
    click.echo("")
    click.echo(document["prose"])


@click.command()
@_PURPOSE
@_ACTION
@click.option("--turnover", type=float, metavar="EUR",
              help="Worldwide annual turnover in EUR, for turnover-based fines (GDPR).")  # fmt: skip
@JSON_OPTION
@click.pass_obj
def exposure(
    state: CliState, purpose: str | None, action: str, turnover: float | None, as_json: bool
) -> None:
    """Faces and people at risk per law, and the statutory range.

    Counted from the decisions `assess` recorded: a face is at risk under a law when its
    decision is block and the law applies (yes, likely or uncertain). People are counted as distinct photo owners plus faces
    without an owner, until faces are clustered into subjects. Not a damages prediction.

    \b
    Example:
      faceledger exposure
      faceledger exposure --turnover 250000000 --json
    """
    from faceledger.services.decisions.exposure import ledger_exposure

    settings = state.settings()
    document = ledger_exposure(
        state.ledger(), purpose=settings.purpose_or(purpose), action=action,
        turnover=turnover, policies=state.policies(),
    )  # fmt: skip
    if as_json:
        echo_json(document)
        return
    click.echo(
        f"exposure for {document['purpose']!r} ({document['action']}) as of {document['date']}: "
        f"{document['faces_blocked']:,} of {document['faces_assessed']:,} faces blocked"
    )
    for law in document["laws"]:
        click.echo(
            f"  {law['law']:<16} {law['faces']:>7,} faces, {law['subjects']:>7,} people at risk "
            f"({law['faces_violating']:,} with a violation)"
        )
        item = law["exposure"]
        if item is None:
            click.echo(f"    {law['note']}")
            continue
        click.echo(
            f"    {item['currency']} {item['low']:,.0f} - {item['high']:,.0f} "
            f"({item['units']:,} x {item['unit']}; {item['citation']})"
        )
        for note in item["assumptions"]:
            click.echo(f"      assumes: {note}")
    click.echo("assumptions:")
    for note in document["assumptions"]:
        click.echo(f"  - {note}")


def register(main: click.Group) -> None:
    """Add ``assess``, ``explain`` and ``exposure`` to the top-level command."""
    for command in (assess, explain, exposure):
        main.add_command(command)
