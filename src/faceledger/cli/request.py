"""``faceledger request new / list / show / verify / execute / confirm / reject``.

Thin: parse, call :mod:`faceledger.services.requests`, print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json

_ID = click.argument("request_id", metavar="ID_OR_RECEIPT")


def _echo(record: Any, as_json: bool) -> None:
    document = record.to_dict()
    if as_json:
        echo_json(document)
        return
    key = document["key_value"] or f"selfie ({document['matched_faces']} faces matched)"
    scope = f" of {document['owner_scope']}" if document["owner_scope"] else ""
    click.echo(f"request {document['id']}: {document['kind']} by {document['key_type']} {key}{scope}")
    click.echo(f"  status {document['status']}; received {document['received_at'][:10]}; "
               f"{document['law'].upper()} deadline {document['deadline']}"
               + (f" ({document['days_left']} days left)" if document["days_left"] is not None else "")
               + (" OVERDUE" if document["overdue"] else ""))  # fmt: skip
    if document["reject_reason"]:
        click.echo(f"  rejected: {document['reject_reason']}")
    result = document["result"] or {}
    for name in ("photos_excluded", "faces_excluded", "templates_destroyed", "keys_shredded",
                 "versions_cut", "notices_due"):  # fmt: skip
        if name in result:
            click.echo(f"  {name.replace('_', ' ')}: {result[name]}")
    for notice in result.get("notices", []):
        click.echo(f"  tell {notice['consumer']} (received {notice['release']}@v{notice['version']}), "
                   f"replaced by {notice['replaced_by'] or '-'}")  # fmt: skip


@click.group("request")
def request() -> None:
    """File and follow opt-out, erasure and access requests from people.

    \b
    Example:
      faceledger request new --kind erasure --owner 70000001@N01 --law gdpr
      faceledger request verify 1 && faceledger request execute 1
      faceledger request list
    """


@request.command("new")
@click.option("--kind", required=True, type=click.Choice(["optout", "erasure", "access"]), help="What the person asks for.")
@click.option("--owner", metavar="NSID", help="A photo owner id or username (with --tag: whose tag).")
@click.option("--photo", metavar="ID", help="A photo's id at its source (e.g. the Flickr id).")
@click.option("--url", help="A photo's download or page URL.")
@click.option("--tag", help="One of the owner's own tags (a photographer's bulk request; needs --owner).")
@click.option("--selfie", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The requester's selfie: matched now, its template discarded at once.")  # fmt: skip
@click.option("--consent-given", is_flag=True, help="Record the requester's match-optout consent with the request.")
@click.option("--consent", metavar="ID_OR_RECEIPT", help="An existing consent covering match-optout.")
@click.option("--law", help="The law the request is answered under (default: the earliest deadline).")
@JSON_OPTION
@click.pass_obj
def new(
    state: CliState, kind: str, owner: str | None, photo: str | None, url: str | None,
    tag: str | None, selfie: Path | None, consent_given: bool, consent: str | None,
    law: str | None, as_json: bool,
) -> None:  # fmt: skip
    """File a request and print its receipt (an unguessable id for the requester).

    Name exactly one key: --owner, --photo, --url, --tag (with --owner) or --selfie (with
    --consent-given or --consent). Exit 2 when the key or consent is missing.

    \b
    Example:
      faceledger request new --kind erasure --owner 70000001@N01
      faceledger request new --kind optout --tag holiday --owner 70000001@N01 --law cpra
      faceledger request new --kind erasure --selfie me.jpg --consent-given --json
    """
    from faceledger.services.requests import RequestError, new_request

    keys = {"photo": photo, "url": url, "tag": tag, "face": selfie}
    given = [k for k, v in keys.items() if v is not None]
    if not given and owner:
        given, keys["owner"] = ["owner"], owner
    if len(given) != 1:
        raise RequestError("name exactly one of --owner, --photo, --url, --tag (with --owner) or --selfie")
    key_type = given[0]
    value = None if key_type == "face" else str(keys[key_type])
    record = new_request(
        state.ledger(), state.settings(), state.vault() if selfie else None, kind=kind,
        key_type=key_type, value=value, owner=owner if key_type == "tag" else None, law=law,
        selfie=selfie, consent=consent, consent_given=consent_given,
    )  # fmt: skip
    if as_json:
        echo_json(record.to_dict())
        return
    click.echo(f"filed request {record.id}; receipt: {record.receipt}")
    _echo(record, False)


@request.command("list")
@click.option("--status", type=click.Choice(["received", "verified", "executed", "confirmed", "rejected"]))
@JSON_OPTION
@click.pass_obj
def list_(state: CliState, status: str | None, as_json: bool) -> None:
    """List requests with their status and deadline.

    \b
    Example:
      faceledger request list --status received
    """
    from faceledger.services.requests import list_requests

    records = [r.to_dict() for r in list_requests(state.ledger(), status=status)]
    if as_json:
        echo_json({"requests": records})
        return
    if not records:
        click.echo("no requests")
    for r in records:
        late = " OVERDUE" if r["overdue"] else ""
        click.echo(f"{r['id']:>5}  {r['kind']:<8} {r['key_type']:<6} {r['status']:<10} "
                   f"{r['law']:<5} due {r['deadline']}{late}")  # fmt: skip


@request.command("show")
@_ID
@JSON_OPTION
@click.pass_obj
def show(state: CliState, request_id: str, as_json: bool) -> None:
    """Show one request: lifecycle, deadline and outcome.

    \b
    Example:
      faceledger request show 3
    """
    from faceledger.services.requests import get_request

    _echo(get_request(state.ledger(), request_id), as_json)


@request.command("verify")
@_ID
@JSON_OPTION
@click.pass_obj
def verify(state: CliState, request_id: str, as_json: bool) -> None:
    """Mark a received request verified (the requester proved who they are).

    \b
    Example:
      faceledger request verify 3
    """
    from faceledger.services.requests import verify_request

    _echo(verify_request(state.ledger(), request_id), as_json)


@request.command("execute")
@_ID
@JSON_OPTION
@click.pass_obj
def execute(state: CliState, request_id: str, as_json: bool) -> None:
    """Carry out a verified request.

    Opt-out and erasure: exclude the photos and faces (tombstones), destroy their templates,
    cut new release versions without them and record the notices owed to consumers; erasure
    also shreds the matched people's keys. Access: record what is held and where it went.

    \b
    Example:
      faceledger request execute 3 --json
    """
    from faceledger.services.requests import execute_request

    _echo(execute_request(state.ledger(), state.vault(), state.settings(), request_id), as_json)


@request.command("confirm")
@_ID
@JSON_OPTION
@click.pass_obj
def confirm(state: CliState, request_id: str, as_json: bool) -> None:
    """Mark an executed request confirmed (the requester was told).

    \b
    Example:
      faceledger request confirm 3
    """
    from faceledger.services.requests import confirm_request

    _echo(confirm_request(state.ledger(), request_id), as_json)


@request.command("reject")
@_ID
@click.option("--reason", required=True, help="Why, as told to the requester.")
@JSON_OPTION
@click.pass_obj
def reject(state: CliState, request_id: str, reason: str, as_json: bool) -> None:
    """Reject a received or verified request, with a reason.

    \b
    Example:
      faceledger request reject 3 --reason "identity could not be verified"
    """
    from faceledger.services.requests import reject_request

    _echo(reject_request(state.ledger(), request_id, reason=reason), as_json)


def register(main: click.Group) -> None:
    """Add the ``request`` group to the top-level command."""
    main.add_command(request)
