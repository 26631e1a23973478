"""``faceledger release create / list / diff`` and ``faceledger consumer add / list / notified``.

Thin: parse, call :mod:`faceledger.services.lifecycle.releases`, print.
"""

from __future__ import annotations

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json
from faceledger.core.law.model import DISCLOSURE_BASES

_BASES = list(DISCLOSURE_BASES)


@click.group("release")
def release() -> None:
    """Freeze what a purpose allows into immutable, versioned releases.

    \b
    Example:
      faceledger release create faces-2025 --purpose fairness-audit
      faceledger release list
      faceledger release diff faces-2025@v1 faces-2025@v2
    """


@release.command("create")
@click.argument("name")
@click.option(
    "--purpose", required=True, help="The purpose the release is for (its decisions must allow it)."
)
@click.option("--with-features", is_flag=True,
              help="Add each face's DiF measures (decrypted, audited), where its decision allows.")  # fmt: skip
@click.option("--images", type=click.Choice(["none", "original", "redacted"]), default="none", show_default=True,
              help="none: download URLs only; original: copy the image of each photo whose faces are all "
                   "allowed; redacted: also photos with blocked faces, those faces pixelated.")  # fmt: skip
@click.option("--disclosure-basis", type=click.Choice(_BASES), metavar="|".join(_BASES),
              help="The basis the faces are disclosed on, where a law asks for one (MHMDA "
                   "19.373.030(1)(b), BIPA 15(d), GDPR Art. 9): recorded on the version and audited.")  # fmt: skip
@click.option(
    "--allow-empty", is_flag=True, help="Cut a version even when no face or photo may be released."
)
@JSON_OPTION
@click.pass_obj
def create(
    state: CliState, name: str, purpose: str, with_features: bool, images: str,
    disclosure_basis: str | None, allow_empty: bool, as_json: bool,
) -> None:  # fmt: skip
    """Cut the next version of release NAME: Parquet + CSV manifest and a Croissant card.

    A face goes in when its decision for (PURPOSE, extract-template) is allow and the law
    engine allows releasing it; a photo only with all of its faces. Versions are never
    overwritten: creating again makes the next number, and creating again with nothing
    changed is refused (exit 2). Written under <data_dir>/releases/NAME/vN/.

    The faces left out are counted per reason, law and section, with what would supply what
    is missing. Some laws allow a disclosure only on a stated basis (MHMDA, BIPA, CUBI,
    GDPR): give it with --disclosure-basis (consent counts only with the consents the law
    needs, e.g. MHMDA's separate consent to share). When no face and no photo may be
    released, nothing is cut and the command exits 2 with the reasons, unless --allow-empty.

    With --images the photos travel too, under vN/images/, listed in images.parquet/.csv
    with each image's sha256 and its source's. --images redacted pixelates every face not
    allowed for PURPOSE (allowed faces untouched) and so also releases photos with blocked
    faces; a photo whose licence forbids derivatives (ND), or grants none (All Rights
    Reserved, unknown), is not redacted: it is left out, with the reason counted.

    \b
    Example:
      faceledger release create faces-2025 --purpose train-face-recognition
      faceledger release create faces-2025 --purpose train-face-recognition --with-features --json
      faceledger release create faces-2025 --purpose fairness-audit --images redacted
      faceledger release create faces-2025 --purpose train-face-recognition --disclosure-basis consent
    """
    from faceledger.errors import ReleaseEmpty
    from faceledger.services.lifecycle.releases import create_release

    try:
        version = create_release(
            state.ledger(), state.vault(), state.settings(), name=name, purpose=purpose,
            with_features=with_features, images=images, disclosure_basis=disclosure_basis,
            allow_empty=allow_empty,
        )  # fmt: skip
    except ReleaseEmpty as exc:
        if as_json:
            echo_json({"error": str(exc).splitlines()[0], "withheld": exc.withheld.to_dict()})
        raise
    if as_json:
        echo_json(version.to_dict())
        return
    basis = f" (disclosure basis: {version.disclosure_basis})" if version.disclosure_basis else ""
    click.echo(
        f"{version.ref}: {version.photos:,} photos, {version.faces:,} faces{basis} -> {version.path}"
    )
    for line in version.withheld.lines() if version.withheld is not None else []:
        click.echo(line)
    if version.images is not None:
        counts = version.images
        click.echo(f"images ({counts['mode']}): {counts['images']:,} written, {counts['redacted_faces']:,} faces "
                   f"redacted, {counts['without_image']:,} photos without an image (licence)")  # fmt: skip
        for reason, n in counts["left_out"].items():
            click.echo(f"  left out: {n:,} photos: {reason}")
    click.echo(f"manifest sha256 {version.manifest_sha256}")


@release.command("list")
@JSON_OPTION
@click.pass_obj
def list_(state: CliState, as_json: bool) -> None:
    """List every version of every release.

    \b
    Example:
      faceledger release list
      faceledger release list --json
    """
    from faceledger.services.lifecycle.release_versions import list_releases

    versions = list_releases(state.ledger())
    if as_json:
        echo_json({"versions": [v.to_dict() for v in versions]})
        return
    if not versions:
        click.echo("no releases")
    for v in versions:
        parent = f" (from v{v.parent})" if v.parent else ""
        parent += f" [basis: {v.disclosure_basis}]" if v.disclosure_basis else ""
        click.echo(f"{v.ref:<28} {v.purpose:<24} {v.photos:>8,} photos {v.faces:>8,} faces  "
                   f"{v.created_at:%Y-%m-%d}  {v.reason}{parent}")  # fmt: skip


@release.command("diff")
@click.argument("a", metavar="A@vN")
@click.argument("b", metavar="B@vM")
@JSON_OPTION
@click.pass_obj
def diff(state: CliState, a: str, b: str, as_json: bool) -> None:
    """Faces and photos added and removed from one release version to another.

    \b
    Example:
      faceledger release diff faces-2025@v1 faces-2025@v2
    """
    from faceledger.services.lifecycle.release_versions import diff_releases

    document = diff_releases(state.ledger(), a, b)
    if as_json:
        echo_json(document)
        return
    for kind in ("photos", "faces"):
        part = document[kind]
        click.echo(f"{kind}: +{len(part['added']):,} -{len(part['removed']):,} ={part['kept']:,}")
        if part["removed"]:
            click.echo(f"  removed ids: {', '.join(map(str, part['removed'][:20]))}"
                       + (" ..." if len(part["removed"]) > 20 else ""))  # fmt: skip


@click.group("consumer")
def consumer() -> None:
    """Register who received which release version (a disclosure).

    \b
    Example:
      faceledger consumer add partner-lab --release faces-2025@v1 --contact dpo@lab.example
      faceledger consumer list
    """


@consumer.command("add")
@click.argument("name")
@click.option("--release", "ref", required=True, metavar="NAME@vN", help="The version it received.")
@click.option(
    "--contact", help="Who to tell when faces must be removed (kept out of the audit log)."
)
@JSON_OPTION
@click.pass_obj
def consumer_add(state: CliState, name: str, ref: str, contact: str | None, as_json: bool) -> None:
    """Register consumer NAME as having received release version NAME@vN.

    \b
    Example:
      faceledger consumer add partner-lab --release faces-2025@v1
    """
    from faceledger.services.lifecycle.release_consumers import add_consumer

    record = add_consumer(state.ledger(), name=name, ref=ref, contact=contact)
    if as_json:
        echo_json(record)
        return
    click.echo(f"consumer {record['id']} ({record['name']}) received {record['release']}")


@consumer.command("list")
@JSON_OPTION
@click.pass_obj
def consumer_list(state: CliState, as_json: bool) -> None:
    """List consumers, the version each received, and notices owed to them.

    \b
    Example:
      faceledger consumer list --json
    """
    from faceledger.services.lifecycle.release_consumers import list_consumers

    rows = list_consumers(state.ledger())
    if as_json:
        echo_json({"consumers": rows})
        return
    if not rows:
        click.echo("no consumers registered")
    for r in rows:
        due = f"  NOTICE DUE ({r['notices_due']})" if r["notices_due"] else ""
        click.echo(
            f"{r['id']:>5}  {r['name']:<24} {r['release']:<28} {r['registered_at']:%Y-%m-%d}{due}"
        )


@consumer.command("notified")
@click.argument("consumer_id", type=int)
@click.pass_obj
def consumer_notified(state: CliState, consumer_id: int) -> None:
    """Record that consumer CONSUMER_ID was told of every notice it was owed.

    \b
    Example:
      faceledger consumer notified 3
    """
    from faceledger.services.lifecycle.release_consumers import mark_notified

    count = mark_notified(state.ledger(), consumer_id=consumer_id)
    click.echo(f"consumer {consumer_id}: {count} notices marked as sent")


def register(main: click.Group) -> None:
    """Add the ``release`` and ``consumer`` groups to the top-level command."""
    main.add_command(release)
    main.add_command(consumer)
