"""``faceledger claim add / list / revoke / challenge``: a person claims a detected face.

Thin: parse, build the evidence through a verifier, call :mod:`faceledger.services.people.claims`,
print.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json, parse_date

EVIDENCE_KINDS = ("attestation", "signed-form", "owner-profile-code")


def _verifier(state: CliState) -> Any:
    from faceledger.services.people.verification import LocalProfileVerifier, LocalVerifier
    from faceledger.web.keys import load_secret

    settings = state.settings()
    profiles = settings.web_flickr_profiles or Path(settings.data_dir) / "flickr_profiles.json"
    return LocalVerifier(load_secret(settings), profiles=LocalProfileVerifier(Path(profiles)))


def _owner_of_face(state: CliState, face_id: int) -> str:
    from faceledger.services.people.claims import face_owner

    owner = face_owner(state.ledger(), face_id)
    if not owner:
        raise click.UsageError(
            f"face {face_id}'s photo has no owner id: owner-profile-code cannot apply"
        )
    return owner


def _echo_claim(record: dict[str, Any]) -> None:
    who = record["by"] + (f" ({record['relationship']})" if record["relationship"] else "")
    owner = ""
    if record["is_photo_owner"]:
        owner = ", the photo owner's own face" + ("" if record["owner_verified"] else " (NOT proven: "
                                                  "owner consents will not count for it)")  # fmt: skip
    evidence = record["evidence"]
    click.echo(
        f"{record['id']:>6}  {record['status']:<8} face {record['face_id']} (photo "
        f"{record['photo_id']}) by {who}{owner}; evidence {evidence.get('kind')}"
        f"{' verified' if evidence.get('verified') else ' not verified'}"
    )


@click.group()
def claim() -> None:
    """Claim a detected face as your own (or your child's), without any biometrics.

    A claim points at a face the scan found and says "this is me" (--by subject) or "this is
    the person I represent" (--by legal-representative --relationship parent). Consents given
    by that person then name the claim (faceledger consent add --claim ID). Every change
    re-decides the face at once.

    \b
    Example:
      faceledger claim add --photo ex-0003 --face-index 0 --by subject --evidence-file form.pdf \\
        --signer "Dana Example" --signed 2026-11-30
      faceledger claim list --photo ex-0003
    """


@claim.command("add")
@click.option(
    "--face",
    "face_id",
    type=int,
    metavar="ID",
    help="The face's id (faceledger explain, claim list).",
)
@click.option(
    "--photo", metavar="PHOTO", help="Or: the photo's external id (e.g. ex-0003) or ledger id ..."
)
@click.option(
    "--face-index",
    type=int,
    default=None,
    metavar="N",
    help="... and the face's number in it (0-based).",
)
@click.option("--by", "by", required=True, type=click.Choice(["subject", "legal-representative"]),
              help="Who claims: the depicted person, or their legal representative.")  # fmt: skip
@click.option(
    "--relationship", metavar="TEXT", help="A representative's relationship (parent, guardian)."
)
@click.option(
    "--minor/--adult",
    "minor",
    default=None,
    help="Whether the depicted person is a minor (default: unknown).",
)
@click.option(
    "--age", type=click.IntRange(0, 150), metavar="N", help="The depicted person's age in years."
)
@click.option(
    "--owner-self",
    is_flag=True,
    help="It is the photo owner's own face (needs owner-profile-code evidence).",
)
@click.option("--evidence-kind", type=click.Choice(EVIDENCE_KINDS), default=None,
              help="signed-form with --evidence-file; owner-profile-code with --nonce; else attestation.")  # fmt: skip
@click.option("--evidence-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The signed form (hashed; the file is not copied).")  # fmt: skip
@click.option("--signer", metavar="NAME", help="Who signed the form.")
@click.option(
    "--signed", callback=parse_date, metavar="YYYY-MM-DD", help="When the form was signed."
)
@click.option(
    "--nonce",
    metavar="NONCE",
    help="owner-profile-code: the nonce from faceledger claim challenge.",
)
@click.option(
    "--statement",
    metavar="TEXT",
    help="attestation: what the person stated (default: 'this is me').",
)
@JSON_OPTION
@click.pass_obj
def add(
    state: CliState, face_id: int | None, photo: str | None, face_index: int | None, by: str,
    relationship: str | None, minor: bool | None, age: int | None, owner_self: bool,
    evidence_kind: str | None, evidence_file: Path | None, signer: str | None,
    signed: date | None, nonce: str | None, statement: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Record a claim of one face and print its receipt (give it to the person).

    Name the face by --face ID, or by --photo and --face-index. No template is computed.
    The evidence is recorded with the claim: a signed form (its SHA-256, signer and date), an
    owner-profile-code proof (the code from `claim challenge` placed in the owner's profile),
    or a bare attestation, which is recorded as not verified. --owner-self makes the photo
    owner's own consents count for this face only with a verified owner-profile-code proof.
    Exit 2 when a value is invalid or the face does not exist.

    \b
    Example:
      faceledger claim add --face 12 --by subject --evidence-file release.pdf \\
        --signer "Dana Example" --signed 2026-11-30
      faceledger claim add --photo ex-0003 --face-index 1 --by legal-representative \\
        --relationship parent --minor --statement "this is my daughter"
      faceledger claim add --face 40 --by subject --owner-self --nonce Zx81... --json
    """
    from faceledger.services.people.claims import add_claim, face_for

    if face_id is None:
        if photo is None or face_index is None:
            raise click.UsageError("name the face: --face ID, or --photo PHOTO --face-index N")
        face_id = face_for(state.ledger(), photo=photo, index=face_index)
    kind = evidence_kind or (
        "signed-form" if evidence_file else "owner-profile-code" if nonce else "attestation"
    )
    verifier = _verifier(state) if kind == "owner-profile-code" else None
    from faceledger.services.people.verification import LocalVerifier

    local = verifier or LocalVerifier(b"")
    if kind == "signed-form":
        if evidence_file is None:
            raise click.UsageError(
                "signed-form evidence needs --evidence-file (and --signer, --signed)"
            )
        evidence = local.signed_form(data=evidence_file.read_bytes(), name=evidence_file.name,
                                     signer=signer, signed=signed)  # fmt: skip
    elif kind == "owner-profile-code":
        if nonce is None:
            raise click.UsageError(
                "owner-profile-code evidence needs --nonce (see faceledger claim challenge)"
            )
        evidence = local.owner_profile_code(owner_id=_owner_of_face(state, face_id), nonce=nonce)
    else:
        default = "this is me" if by == "subject" else "this is the person I represent"
        evidence = local.attestation(statement=statement or default)

    record = add_claim(
        state.ledger(), face_id=face_id, by=by, relationship=relationship, is_photo_owner=owner_self,
        evidence=evidence, actor="cli", minor=minor, age=age,
        policies=state.policies(),
    ).to_dict()  # fmt: skip
    if as_json:
        echo_json({"claim": record})
        return
    click.echo(
        f"recorded claim {record['id']} of face {record['face_id']}; receipt: {record['receipt']}"
    )
    if not record["evidence"]["verified"]:
        click.echo("  evidence not verified: the claim is recorded; consents on it still need "
                   "the signer's evidence")  # fmt: skip
    if record["is_photo_owner"] and not record["owner_verified"]:
        click.echo(
            "  owner control NOT proven: the photo owner's consents do not count for this face"
        )
    reassessed = record["reassessed"]
    if reassessed["faces"]:
        click.echo(f"re-assessed the face as of {reassessed['date']}: {reassessed['allowed']} allowed, "
                   f"{reassessed['blocked']} blocked")  # fmt: skip
    click.echo(f"next: faceledger consent add --claim {record['id']} --given-by {by} ...")


@claim.command("challenge")
@click.option(
    "--owner", "owner_id", required=True, metavar="NSID", help="The photo owner account to prove."
)
@click.pass_obj
def challenge(state: CliState, owner_id: str) -> None:
    """Print a nonce and the code to put in the owner's profile (for --owner-self claims).

    The profile text is read from the web_flickr_profiles file (a local verifier); a real
    provider reads the account page instead.

    \b
    Example:
      faceledger claim challenge --owner 70000003@N01
    """
    from faceledger.services.people.verification import new_challenge
    from faceledger.web.keys import load_secret

    nonce, code = new_challenge(load_secret(state.settings()), owner_id.strip())
    click.echo(f"nonce: {nonce}")
    click.echo(
        f"code:  {code}   (put it in the profile of {owner_id.strip()}, then claim add --nonce)"
    )


@claim.command("list")
@click.option("--face", "face_id", type=int, metavar="ID", help="Only this face's claims.")
@click.option(
    "--photo",
    "photo",
    metavar="PHOTO",
    help="Only the claims on this photo (external or ledger id).",
)
@click.option(
    "--status", type=click.Choice(["active", "revoked"]), help="Only claims with this status."
)
@JSON_OPTION
@click.pass_obj
def list_(
    state: CliState, face_id: int | None, photo: str | None, status: str | None, as_json: bool
) -> None:
    """List recorded claims (oldest first).

    \b
    Example:
      faceledger claim list
      faceledger claim list --face 12 --json
    """
    from faceledger.services.people.claims import list_claims, photo_id_for

    photo_id = photo_id_for(state.ledger(), photo) if photo is not None else None
    records = [c.to_dict() for c in list_claims(state.ledger(), face_id=face_id, photo_id=photo_id,
                                               status=status)]  # fmt: skip
    if as_json:
        echo_json({"claims": records})
        return
    if not records:
        click.echo("no claims recorded")
        return
    for record in records:
        _echo_claim(record)
    click.echo(f"{len(records):,} claims")


@claim.command("revoke")
@click.argument("claim_id_or_receipt", metavar="ID_OR_RECEIPT")
@JSON_OPTION
@click.pass_obj
def revoke(state: CliState, claim_id_or_receipt: str, as_json: bool) -> None:
    """Withdraw a claim by id or receipt; its face is re-decided at once (it re-blocks).

    Consents that named the claim no longer cover the face. Exit 2 when no claim matches.

    \b
    Example:
      faceledger claim revoke 3
    """
    from faceledger.services.people.claims import revoke_claim

    record = revoke_claim(
        state.ledger(), claim_id_or_receipt, actor="cli",
        policies=state.policies(),
    ).to_dict()  # fmt: skip
    if as_json:
        echo_json({"claim": record})
        return
    click.echo(f"claim {record['id']} of face {record['face_id']} is revoked")
    reassessed = record.get("reassessed") or {}
    if reassessed.get("faces"):
        click.echo(f"re-assessed the face as of {reassessed['date']}: {reassessed['allowed']} allowed, "
                   f"{reassessed['blocked']} blocked")  # fmt: skip


def register(main: click.Group) -> None:
    """Add the ``claim`` group to the top-level command."""
    main.add_command(claim)
