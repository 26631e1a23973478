"""``faceledger request new / list / show / verify / execute / confirm / reject``.

Thin: parse, call :mod:`faceledger.services.lifecycle.requests`, print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json, parse_date

_ID = click.argument("request_id", metavar="ID_OR_RECEIPT")


def _echo(record: Any, as_json: bool) -> None:
    document = record.to_dict()
    if as_json:
        echo_json(document)
        return
    key = document["key_value"] or f"selfie ({document['matched_faces']} faces matched)"
    scope = f" of {document['owner_scope']}" if document["owner_scope"] else ""
    click.echo(
        f"request {document['id']}: {document['kind']} by {document['key_type']} {key}{scope}"
        f" (covers {document['covers'] or '?'})"
    )
    kinds = [f"{e['kind']}{'' if e['verified'] else ' (unverified)'}" for e in document["evidence"]]
    click.echo(
        f"  evidence: {', '.join(kinds) or 'none'}; contact: {'on file' if document['has_contact'] else 'none'}"
    )
    if document["faces"]:
        click.echo(
            "  faces: "
            + ", ".join(f"{n} {status}" for status, n in sorted(document["faces"].items()))
        )
    click.echo(f"  status {document['status']}; received {document['received_at'][:10]}; "
               f"{document['law'].upper()} deadline {document['deadline']}"
               + (f" ({document['days_left']} days left)" if document["days_left"] is not None else "")
               + (" OVERDUE" if document["overdue"] else ""))  # fmt: skip
    if document["extended_at"]:
        click.echo(
            f"  deadline extended from {document['deadline_original']}: {document['extension_reason']}"
        )
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
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["optout", "erasure", "access"]),
    help="What the person asks for.",
)
@click.option(
    "--owner", metavar="NSID", help="A photo owner id or username (with --tag: whose tag)."
)
@click.option("--photo", metavar="ID", help="A photo's id at its source (e.g. the Flickr id).")
@click.option("--url", help="A photo's download or page URL.")
@click.option(
    "--tag", help="One of the owner's own tags (a photographer's bulk request; needs --owner)."
)
@click.option("--selfie", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The requester's selfie: matched now, its template discarded at once.")  # fmt: skip
@click.option(
    "--consent-given",
    is_flag=True,
    help="Record the requester's match-optout consent with the request.",
)
@click.option(
    "--consent", metavar="ID_OR_RECEIPT", help="An existing consent covering match-optout."
)
@click.option("--claim", "claims", multiple=True, metavar="ID_OR_RECEIPT",
              help="A claim of a face by the requester (faceledger claim add); repeat for several faces.")  # fmt: skip
@click.option(
    "--contact", help="How to reach the requester (stored encrypted; shown to reviewers only)."
)
@click.option(
    "--law", help="The law the request is answered under (default: the earliest deadline)."
)
@JSON_OPTION
@click.pass_obj
def new(
    state: CliState, kind: str, owner: str | None, photo: str | None, url: str | None,
    tag: str | None, selfie: Path | None, consent_given: bool, consent: str | None,
    claims: tuple[str, ...], contact: str | None, law: str | None, as_json: bool,
) -> None:  # fmt: skip
    """File a request and print its receipt (an unguessable id for the requester).

    Name exactly one key: --owner, --photo, --url, --tag (with --owner), --claim (faces the
    person claimed) or --selfie (with --consent-given or --consent). Exit 2 when the key or
    consent is missing. A request for whole photos (--owner, --tag, --photo, --url) is
    verified only with verified ownership evidence; a selfie's matched faces each wait for a
    reviewer (faceledger request faces).

    \b
    Example:
      faceledger request new --kind erasure --owner 70000001@N01 --contact ada@example.org
      faceledger request new --kind optout --tag holiday --owner 70000001@N01 --law cpra
      faceledger request new --kind optout --claim 4
      faceledger request new --kind erasure --selfie me.jpg --consent-given --json
    """
    from faceledger.services.lifecycle.request_intake import Intake, file_request

    intake = Intake(
        kind=kind, law=law, contact=contact, owner=owner, photo=photo, url=url, tag=tag,
        claims=claims, selfie=selfie, consent=consent, consent_given=consent_given,
    )  # fmt: skip
    record = file_request(state.ledger(), state.settings(), state.vault, intake)
    if as_json:
        echo_json(record.to_dict())
        return
    click.echo(f"filed request {record.id}; receipt: {record.receipt}")
    _echo(record, False)


@request.command("list")
@click.option(
    "--status", type=click.Choice(["received", "verified", "executed", "confirmed", "rejected"])
)
@click.option(
    "--overdue", is_flag=True, help="Only open requests past their (possibly extended) deadline."
)
@JSON_OPTION
@click.pass_obj
def list_(state: CliState, status: str | None, overdue: bool, as_json: bool) -> None:
    """List requests with their status and deadline (overdue ones marked OVERDUE).

    \b
    Example:
      faceledger request list --status received
      faceledger request list --overdue --json
    """
    from faceledger.services.lifecycle.requests import list_requests

    records = [r.to_dict() for r in list_requests(state.ledger(), status=status, overdue=overdue)]
    if as_json:
        echo_json({"requests": records})
        return
    if not records:
        click.echo("no overdue requests" if overdue else "no requests")
    for r in records:
        late = (" OVERDUE" if r["overdue"] else "") + (" (extended)" if r["extended_at"] else "")
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
    from faceledger.services.lifecycle.requests import get_request

    _echo(get_request(state.ledger(), request_id), as_json)


@request.command("verify")
@_ID
@click.option("--form", "form", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A signed form the reviewer checked (hashed; with --signer, --signed, --owner).")  # fmt: skip
@click.option("--signer", help="Who signed the form.")
@click.option(
    "--signed",
    "signed_on",
    callback=parse_date,
    metavar="YYYY-MM-DD",
    help="When the form was signed.",
)
@click.option(
    "--owner",
    "owner_id",
    metavar="NSID",
    help="The account the signed form shows the requester owns.",
)
@JSON_OPTION
@click.pass_obj
def verify(
    state: CliState, request_id: str, form: Path | None, signer: str | None, signed_on: Any,
    owner_id: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Mark a received request verified: its evidence shows who is asking.

    A request for whole photos (account, tag, photo) needs verified ownership evidence: the
    portal's profile-code check, or a signed form given here. A face request needs an active
    claim or a selfie match (each matched face is then confirmed or rejected by a reviewer).
    Exit 2, naming what is missing, otherwise.

    \b
    Example:
      faceledger request verify 3
      faceledger request verify 4 --form release.pdf --signer "A. Person" --signed 2026-11-30 --owner 70000001@N01
    """
    from faceledger.errors import RequestError
    from faceledger.services.lifecycle.requests import verify_request

    evidence = None
    if form is not None:
        if not owner_id:
            raise RequestError(
                "a signed form proves ownership of an account: name it (--owner NSID)"
            )
        from faceledger.services.people.verification import IdentityEvidence, LocalVerifier

        checked = LocalVerifier(b"").signed_form(data=form.read_bytes(), name=form.name, signer=signer,
                                                 signed=signed_on)  # fmt: skip
        if not checked.verified:
            raise RequestError("a signed form needs its signer (--signer) and date (--signed)")
        evidence = IdentityEvidence(checked.kind, True, {**checked.detail, "owner_id": owner_id.strip()},
                                    checked.verified_at)  # fmt: skip
    elif signer or signed_on or owner_id:
        raise RequestError(
            "--signer, --signed and --owner describe a signed form: give it with --form FILE"
        )
    _echo(verify_request(state.ledger(), request_id, evidence=evidence), as_json)


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
    from faceledger.services.lifecycle.requests import execute_request

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
    from faceledger.services.lifecycle.requests import confirm_request

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
    from faceledger.services.lifecycle.requests import reject_request

    _echo(reject_request(state.ledger(), request_id, reason=reason), as_json)


_FACE = click.argument("face_id", type=int, metavar="FACE")


def _echo_faces(faces: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        echo_json({"faces": faces})
        return
    if not faces:
        click.echo("this request covers no single faces")
    for f in faces:
        distance = (
            f"distance {f['distance']:.3f}"
            if f["distance"] is not None
            else f"claim {f['claim_id']}"
        )
        decided = f" by {f['decided_by']}" if f["decided_by"] else ""
        click.echo(f"face {f['face_id']:>6}  {f['status']:<9} {distance}  photo {f['photo'] or f['photo_id']}  "
                   f"box {[round(v) for v in f['box']]}{decided}" + (f"  ({f['reason']})" if f["reason"] else ""))  # fmt: skip


@request.command("faces")
@_ID
@JSON_OPTION
@click.pass_obj
def faces(state: CliState, request_id: str, as_json: bool) -> None:
    """List the faces a request covers, each with its review status.

    A selfie match is pending until a reviewer confirms it (the requester, or their child)
    or rejects it (a look-alike); a claimed face rests on the person's claim. Execute acts
    only on confirmed and claimed faces.

    \b
    Example:
      faceledger request faces 3
    """
    from faceledger.services.lifecycle.requests import get_request, review_faces

    _echo_faces(review_faces(state.ledger(), get_request(state.ledger(), request_id).id), as_json)


@request.command("confirm-face")
@_ID
@_FACE
@JSON_OPTION
@click.pass_obj
def confirm_face(state: CliState, request_id: str, face_id: int, as_json: bool) -> None:
    """Confirm that a matched face is the requester's (or their child's): it will be acted on.

    \b
    Example:
      faceledger request confirm-face 3 41
    """
    from faceledger.services.lifecycle.requests import decide_face, get_request

    record = get_request(state.ledger(), request_id)
    _echo_faces(
        [decide_face(state.ledger(), record.id, face_id, confirm=True, actor="cli")], as_json
    )


@request.command("reject-face")
@_ID
@_FACE
@click.option(
    "--reason", required=True, help="Why it is not the requester's face (kept with the request)."
)
@JSON_OPTION
@click.pass_obj
def reject_face(state: CliState, request_id: str, face_id: int, reason: str, as_json: bool) -> None:
    """Reject a matched face (a look-alike): the request never touches it.

    \b
    Example:
      faceledger request reject-face 3 42 --reason "not me: my daughter"
    """
    from faceledger.services.lifecycle.requests import decide_face, get_request

    record = get_request(state.ledger(), request_id)
    _echo_faces(
        [
            decide_face(
                state.ledger(), record.id, face_id, confirm=False, reason=reason, actor="cli"
            )
        ],
        as_json,
    )


@request.command("extend")
@_ID
@click.option("--reason", required=True, help="Why more time is needed (told to the requester).")
@click.option("--until", callback=parse_date, metavar="YYYY-MM-DD",
              help="The new deadline (default: the furthest the law allows).")  # fmt: skip
@JSON_OPTION
@click.pass_obj
def extend(state: CliState, request_id: str, reason: str, until: Any, as_json: bool) -> None:
    """Extend an open request's deadline, with a reason (GDPR Art. 12(3)).

    At most by the law's extension (request_extensions: GDPR two further months, CPRA 45
    days), decided within the original term; audited (request.extended).

    \b
    Example:
      faceledger request extend 3 --reason "800 photos to check across 3 releases"
    """
    from faceledger.services.lifecycle.requests import extend_deadline, get_request

    ledger = state.ledger()
    record = get_request(ledger, request_id)
    extend_deadline(ledger, state.settings(), record.id, reason=reason, until=until, actor="cli")
    _echo(get_request(ledger, record.id), as_json)


@request.command("contact")
@_ID
@click.pass_obj
def contact(state: CliState, request_id: str) -> None:
    """Print the requester's contact (decrypted; the read is audited, never the contact).

    \b
    Example:
      faceledger request contact 3
    """
    from faceledger.services.lifecycle.requests import get_request, read_contact

    record = get_request(state.ledger(), request_id)
    found = read_contact(state.ledger(), state.vault(), record.id, actor="cli")
    click.echo(found if found is not None else "no contact on file")


def register(main: click.Group) -> None:
    """Add the ``request`` group to the top-level command."""
    main.add_command(request)
