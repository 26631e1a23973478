"""``faceledger user``: console users of the portal and their API tokens."""

from __future__ import annotations

import click

from faceledger.cli._common import CliState, echo_json


@click.group()
def user() -> None:
    """Console users of the portal (roles: admin, reviewer).

    \b
    Example:
      faceledger user add ada --role admin
      faceledger user list
      faceledger user rotate ada      # new token, older ones revoked
      faceledger user revoke ada      # disable: tokens and sessions end
    """


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "reviewer"]), required=True,
              help="admin: everything; reviewer: read, verify, confirm and reject requests.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
@click.pass_obj
def add(state: CliState, name: str, role: str, as_json: bool) -> None:
    """Add a console user and print their API token, once (only its hash is kept).

    The token is both the API bearer token and the login secret of the console.

    \b
    Example:
      faceledger user add ada --role admin
    """
    from faceledger.services.portal.users import add_user

    account, token = add_user(state.ledger(), name, role=role)
    if as_json:
        echo_json({"id": account.id, "name": account.name, "role": account.role, "token": token})
        return
    click.echo(f"user {account.name} ({account.role}) added; token, shown only now:")
    click.echo(token)


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
@click.pass_obj
def list_(state: CliState, as_json: bool) -> None:
    """List active console users (never their tokens).

    \b
    Example:
      faceledger user list --json
    """
    from faceledger.services.portal.users import list_users

    users = list_users(state.ledger())
    if as_json:
        echo_json([{"id": u.id, "name": u.name, "role": u.role} for u in users])
        return
    for u in users:
        click.echo(f"{u.id}\t{u.name}\t{u.role}")


@user.command("revoke")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
@click.pass_obj
def revoke(state: CliState, name: str, as_json: bool) -> None:
    """Disable a console user: all their tokens stop working and their sessions end, at once
    (also in a running portal: every request checks the ledger).

    \b
    Example:
      faceledger user revoke ada
    """
    from faceledger.services.portal.users import revoke_user

    done = revoke_user(state.ledger(), name)
    if as_json:
        echo_json({"name": name, **done})
        return
    click.echo(f"user {name} disabled: {done['tokens_revoked']} token(s) revoked, "
               f"{done['sessions_ended']} session(s) ended")  # fmt: skip


@user.command("rotate")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
@click.pass_obj
def rotate(state: CliState, name: str, as_json: bool) -> None:
    """Give a console user a new token and revoke their older ones (and end their sessions);
    the new token is printed once.

    \b
    Example:
      faceledger user rotate ada
    """
    from faceledger.services.portal.users import rotate_token

    account, token = rotate_token(state.ledger(), name)
    if as_json:
        echo_json({"id": account.id, "name": account.name, "role": account.role, "token": token})
        return
    click.echo(f"user {account.name}: older tokens revoked; new token, shown only now:")
    click.echo(token)


def register(main: click.Group) -> None:
    main.add_command(user)
