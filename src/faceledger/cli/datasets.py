"""``faceledger datasets import / lookup / list``: which published face datasets hold whom."""

from __future__ import annotations

from pathlib import Path

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json


@click.group()
def datasets() -> None:
    """Published face datasets (DiveFace, MegaFace, ...): which of them list whose photos.

    \b
    Example:
      faceledger datasets import DiveFace Group1_Female_subset.txt --licence "non-commercial research"
      faceledger datasets lookup --owner 100016927@N02 --json
      faceledger datasets list
    """


@datasets.command("import")
@click.argument("name")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))  # fmt: skip
@click.option("--citation", help="How the dataset is cited (authors, title, venue, year).")
@click.option(
    "--licence", "--license", "licence", help="The licence or terms the dataset is published under."
)
@click.option(
    "--optout-url", help="Where its maintainer takes removal requests (https:// or mailto:)."
)
@click.option(
    "--labels",
    help="Annotation kinds every listed face carries, comma-separated (e.g. gender,age).",
)
@JSON_OPTION
@click.pass_obj
def import_command(state: CliState, name: str, files: tuple[Path, ...], citation: str | None,
                   licence: str | None, optout_url: str | None, labels: str | None,
                   as_json: bool) -> None:  # fmt: skip
    """Import the membership list of the published face dataset NAME from FILES.

    FILES are MegaFace / DiveFace identity lists (one
    NSID_identity_K/PHOTOID_FACE.jpg a line; DiveFace's GroupN_Male/Female files carry
    gender and ethnic-group labels), or CSV/TSV files with owner_id, photo_id, optional
    face_index and labels columns. Only the kinds of label are kept, never their values.
    Re-importing adds nothing; malformed lines are reported as file:line and skipped.

    \b
    Example:
      faceledger datasets import DiveFace data/diveface/Group*_subset.txt \\
          --citation "Morales et al., SensitiveNets, IEEE TPAMI 2020" \\
          --licence "non-commercial research only" --optout-url https://github.com/BiDAlab/DiveFace
      faceledger datasets import MyList members.csv --json
    """
    from faceledger.services.decisions.datasets import import_dataset

    kinds = [k for k in (labels or "").split(",") if k.strip()]
    report = import_dataset(state.ledger(), name, list(files), citation=citation, licence=licence,
                            optout_url=optout_url, labels=kinds)  # fmt: skip
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(
        f"{report.dataset}: {report.seen:,} entries in {len(report.files)} file(s), {report.added:,} new, "
        f"{report.rejected:,} rejected; labels: {', '.join(report.labels) or 'none'}"
    )
    for reject in report.rejects:
        click.echo(f"  rejected {reject}", err=True)
    if report.rejected > len(report.rejects):
        click.echo(
            f"  ... and {report.rejected - len(report.rejects):,} more rejected lines", err=True
        )
    if report.ignored_columns:
        click.echo(f"  ignored columns: {', '.join(report.ignored_columns)}")


@datasets.command("lookup")
@click.option("--owner", help="Exact Flickr account id (NSID), e.g. 100016927@N02.")
@click.option("--photo", "photos", multiple=True, help="Exact Flickr photo id (repeatable).")
@JSON_OPTION
@click.pass_obj
def lookup_command(
    state: CliState, owner: str | None, photos: tuple[str, ...], as_json: bool
) -> None:
    """Which imported datasets list this account's photos (or these photos), and what they
    annotated (label kinds, never values).

    \b
    Example:
      faceledger datasets lookup --owner 100016927@N02
      faceledger datasets lookup --owner 100016927@N02 --photo 9469948405 --json
    """
    from faceledger.errors import DatasetError
    from faceledger.services.decisions.datasets import datasets_holding

    if owner is None and not photos:
        raise DatasetError("give --owner NSID and/or --photo ID")
    found = datasets_holding(
        state.ledger(), owner_id=owner, photo_ids=list(photos) if photos else None
    )
    if as_json:
        echo_json({"datasets": [d.to_dict() for d in found]})
        return
    if not found:
        click.echo("no imported dataset lists these photos")
        return
    for d in found:
        click.echo(f"{d.name}: {d.photos:,} photos, {d.faces:,} faces; labels: {', '.join(d.labels) or 'none'}"
                   + (" (sensitive: special-category data)" if d.sensitive else ""))  # fmt: skip
        if d.optout_url:
            click.echo(f"  opt out: {d.optout_url}")


@datasets.command("list")
@JSON_OPTION
@click.pass_obj
def list_command(state: CliState, as_json: bool) -> None:
    """Every imported dataset with its licence, label kinds and how many entries it lists.

    \b
    Example:
      faceledger datasets list --json
    """
    from faceledger.services.decisions.datasets import list_datasets

    found = list_datasets(state.ledger())
    if as_json:
        echo_json({"datasets": found})
        return
    if not found:
        click.echo("no dataset imported (see faceledger datasets import --help)")
        return
    for d in found:
        click.echo(f"{d['name']}: {d['faces']:,} faces, {d['photos']:,} photos, {d['owners']:,} accounts; "
                   f"labels: {', '.join(d['labels']) or 'none'}; licence: {d['licence'] or 'unknown'}")  # fmt: skip


def register(main: click.Group) -> None:
    main.add_command(datasets)
