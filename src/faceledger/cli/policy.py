"""``faceledger policy ...``: evaluate a scenario against the laws, list and show the laws.

Thin: parse arguments, call :class:`~faceledger.services.decisions.policy.PolicyService`, print.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json

if TYPE_CHECKING:
    from faceledger.services.decisions.policy import PolicyService


def _service(ctx: click.Context, policy_dir: str | None) -> PolicyService:
    from faceledger.services.decisions.policy import PolicyService

    state: CliState = ctx.obj
    folder = Path(policy_dir) if policy_dir else state.settings().policy_dir
    return PolicyService(policy_dir=folder)


_POLICY_DIR = click.option(
    "--policy-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Extra folder of policy YAML files that add to or override the shipped laws "
    "(default: the policy_dir setting).",
)


@click.group("policy")
def policy_group() -> None:
    """Decide, law by law, what may be done with a face.

    \b
    Example:
      faceledger policy list
      faceledger policy show us-il-bipa
      faceledger policy evaluate scenario.json --json
    """


@policy_group.command("evaluate")
@click.argument("scenario", type=click.Path(dir_okay=False))
@JSON_OPTION
@_POLICY_DIR
@click.pass_context
def evaluate_command(
    ctx: click.Context, scenario: str, as_json: bool, policy_dir: str | None
) -> None:
    """Evaluate SCENARIO.json: may this action happen, which laws reach it, and why.

    Exit 2 with a message naming the field when the scenario is invalid.

    \b
    Example:
      faceledger policy evaluate scenario.json
      faceledger policy evaluate scenario.json --json --policy-dir my-laws/
    """
    service = _service(ctx, policy_dir)
    decision = service.evaluate_file(Path(scenario))
    if as_json:
        echo_json(decision.to_dict())
    else:
        click.echo(service.render(decision))


@policy_group.command("list")
@JSON_OPTION
@_POLICY_DIR
@click.pass_context
def list_command(ctx: click.Context, as_json: bool, policy_dir: str | None) -> None:
    """List the laws loaded (shipped plus --policy-dir).

    \b
    Example:
      faceledger policy list
      faceledger policy list --json
    """
    from faceledger.services.decisions.policy import policy_summary

    service = _service(ctx, policy_dir)
    rows = [policy_summary(p) for p in service.policies]
    if as_json:
        echo_json({"policies": rows})
        return
    for row in rows:
        suit = "private suit" if row["private_right_of_action"] else "no private suit"
        click.echo(
            f"{row['id']:<16} {row['short_name']:<20} from {row['in_force_from']}  "
            f"consent: {row['consent']:<15} {suit}"
        )


@policy_group.command("show")
@click.argument("law_id")
@JSON_OPTION
@_POLICY_DIR
@click.pass_context
def show_command(ctx: click.Context, law_id: str, as_json: bool, policy_dir: str | None) -> None:
    """Show one law's rules with their citations and confidence tags.

    \b
    Example:
      faceledger policy show us-il-bipa
      faceledger policy show eu-gdpr --json
    """
    import yaml

    from faceledger.services.decisions.policy import policy_document

    service = _service(ctx, policy_dir)
    document = policy_document(service.get(law_id))
    if as_json:
        echo_json(document)
    else:
        click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=96))


@policy_group.command("publish")
@click.option("--out", type=click.Path(file_okay=False), default="policy", show_default=True,
              help="Folder to write retention-policy.md and retention-policy.html into.")  # fmt: skip
@_POLICY_DIR
@click.pass_context
def publish_command(ctx: click.Context, out: str, policy_dir: str | None) -> None:
    """Write the public retention-and-destruction policy (BIPA 15(a)), Markdown and HTML.

    Generated from the laws loaded (shipped plus --policy-dir) and the request deadlines.
    The publication is recorded in the ledger (audit event policy.publish); assess passes
    its earliest date to the law engine, since BIPA 15(a) wants the schedule published
    before possession.

    \b
    Example:
      faceledger policy publish --out site/
    """
    from faceledger.services.decisions.policy_publish import publish_policy

    state: CliState = ctx.obj
    service = _service(ctx, policy_dir)
    for path in publish_policy(service.policies, state.settings(), out=Path(out),
                               ledger=state.ledger()):  # fmt: skip
        click.echo(f"wrote {path}")


def register(main: click.Group) -> None:
    """Add the ``policy`` group to the top-level command."""
    main.add_command(policy_group)
