"""Commands on biometric templates: extract, search, compare, subjects."""

from __future__ import annotations

from pathlib import Path

import click

from faceledger.cli._common import CliState, echo_json
from faceledger.cli._progress import RichProgress


@click.command()
@click.option("--purpose", help="The purpose whose decisions gate extraction (setting: purpose).")
@click.option("--workers", type=int, help="Worker processes (default: cores).")
@click.option("--limit", type=int, help="Extract at most this many faces, then stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def extract(
    state: CliState, purpose: str | None, workers: int | None, limit: int | None, as_json: bool
) -> None:
    """Compute templates (embedding, landmarks, DiF measures) where the law allows it.

    Only faces whose recorded decision (faceledger assess) for the purpose is `allow` get
    templates; every other face is counted by the reason it was refused. Templates are
    encrypted under a per-subject key; faces are clustered into subjects.

    \b
    Example:
      faceledger assess --purpose train-face-recognition
      faceledger extract --purpose train-face-recognition
    """
    from faceledger.services.biometrics.extract import extract_templates

    settings = state.settings(workers=workers)
    purpose = settings.purpose_or(purpose)
    report = extract_templates(
        state.ledger(), state.vault(), settings, purpose=purpose, limit=limit,
        progress=None if as_json else RichProgress(),
    )  # fmt: skip
    summary = {
        "purpose": purpose,
        "extracted": report.extracted,
        "already_extracted": report.already,
        "new_subjects": report.new_subjects,
        "refused_faces": report.refused_faces,
        "refused": dict(report.refused.most_common()),
        "failed": dict(report.failed),
        "seconds": round(report.seconds, 2),
        "embedder": report.embedder,
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"extracted templates for {report.extracted:,} faces ({report.new_subjects:,} new subjects; "
        f"{report.already:,} had templates already) for purpose '{purpose}' "
        f"with embedder {report.embedder['setting']} ({report.embedder['version']})"
    )
    if report.refused_faces:
        click.echo(
            f"refused {report.refused_faces:,} faces; why (a face may be blocked by several laws):"
        )
        for reason, count in report.refused.most_common(12):
            click.echo(f"  {count:6,}  {reason}")
    for reason, count in report.failed.items():
        click.echo(f"  failed {count:,}: {reason}")


@click.command()
@click.option("--face", "selfie", required=True, type=click.Path(exists=True, path_type=Path),
              help="A photo of the person searching (their largest face is used).")  # fmt: skip
@click.option("--consent-given", is_flag=True,
              help="The person searching consented to a template of their face being made for "
              "this search (purpose match-optout); it is discarded afterwards.")  # fmt: skip
@click.option(
    "--top",
    type=click.IntRange(1, 10),
    default=5,
    show_default=True,
    help="At most this many matches.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def search(state: CliState, selfie: Path, consent_given: bool, top: int, as_json: bool) -> None:
    """Find a person's faces in the ledger by a selfie ("am I in this dataset?").

    Returns faces within the match threshold, nearest first, and says what was searched:
    how many faces were compared (stored templates, and templates computed in memory where
    a match-optout decision allows it, never stored) and how many could not be compared and
    why. The selfie's template is made under purpose match-optout, never stored, and
    discarded after the query; the audit log records both, and the search.

    \b
    Example:
      faceledger search --face me.jpg --consent-given
    """
    from faceledger.services.biometrics.matching import search_selfie

    answer = search_selfie(
        state.ledger(), state.vault(), state.settings(), selfie, consent_given=consent_given, k=top
    )
    if as_json:
        echo_json(answer.to_dict())
        return
    document, results = answer.to_dict(), answer.matches
    click.echo(f"compared {document['compared']:,} of {document['faces']:,} faces "
               f"({document['compared_stored']:,} stored templates, {document['compared_transient']:,} "
               f"computed in memory and discarded; embedder {document['embedder']['setting']})")  # fmt: skip
    for reason, count in sorted(document["not_compared_by_reason"].items()):
        click.echo(f"  not compared: {count:,} {reason}")
    if document["not_compared"]:
        click.echo(f"  {document['identifier_search']}")
    if not results:
        click.echo(f"no compared face matches this selfie (threshold {document['threshold']})")
    for match in results:
        click.echo(
            f"distance {match['distance']:.3f}  face {match['face_id']}  subject {match['subject_id']}  "
            f"photo {match['photo']}  {match['page_url'] or ''}"
        )


@click.command()
@click.argument("image_a", type=click.Path(exists=True, path_type=Path))
@click.argument("image_b", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the stable JSON document.")
@click.pass_obj
def compare(state: CliState, image_a: Path, image_b: Path, as_json: bool) -> None:
    """Are the largest faces of two images the same person?

    Uses the same detector as scan and the embedder extract uses (setting embedder, named in
    the output); touches no ledger and stores nothing. Exits 3 when an image has no face.

    \b
    Example:
      faceledger compare a.jpg b.jpg --json
    """
    from faceledger.services.biometrics.matching import compare_files

    document = compare_files(image_a, image_b, state.settings())
    if as_json:
        echo_json(document)
        return
    verdict = "same person" if document["same_person"] else "different people"
    click.echo(
        f"{verdict}: distance {document['distance']:.3f} (threshold {document['threshold']}, "
        f"embedder {document['embedder']['setting']})"
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def subjects(state: CliState, as_json: bool) -> None:
    """List the people found: subjects with their faces, photos and owner links.

    \b
    Example:
      faceledger subjects --json
    """
    from faceledger.services.biometrics.subjects import list_subjects

    rows = list_subjects(state.ledger())
    if as_json:
        echo_json({"subjects": rows})
        return
    for row in rows:
        owner = f"owner {row['owner_id']}" if row["owner_id"] else "no owner link"
        click.echo(
            f"subject {row['id']} [{row['status']}]: {row['faces']} faces in {row['photos']} photos; "
            f"{owner}{' (' + row['owner_link'] + ')' if row['owner_link'] else ''}"
        )


@click.group()
def index() -> None:
    """The template search index: its state, and rebuilding it from the templates.

    The ledger lists which embeddings are searchable (ids only, never a vector) and a
    generation that every extract, erasure, retention sweep and quarantine moves in its own
    transaction; each process searches its own decrypted copy and brings it up to date
    before every search.

    \b
    Example:
      faceledger index status --json
      faceledger index rebuild
    """


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def index_status_command(state: CliState, as_json: bool) -> None:
    """Generation, epoch and entries per embedder version, and whether they agree with the
    stored templates (exit 1 if not: run `faceledger index rebuild`).

    \b
    Example:
      faceledger index status
    """
    from faceledger.services.biometrics.template_index import index_status

    document = index_status(state.ledger())
    if as_json:
        echo_json(document)
    else:
        for row in document["versions"]:
            click.echo(f"{row['model_version']}: {row['entries']:,} entries, generation {row['generation']:,}, "
                       f"epoch {row['epoch']}; {row['missing']:,} missing, {row['stale']:,} stale")  # fmt: skip
        if not document["versions"]:
            click.echo("no template has been indexed yet")
        click.echo(
            "consistent with the templates"
            if document["consistent"]
            else "NOT consistent: run faceledger index rebuild"
        )
    if not document["consistent"]:
        raise SystemExit(1)


@index.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def index_rebuild_command(state: CliState, as_json: bool) -> None:
    """Recompute the index entries from the stored templates; every running process
    (portal included) rebuilds its in-memory copy before its next search. Audited.

    \b
    Example:
      faceledger index rebuild --json
    """
    from faceledger.services.biometrics.template_index import rebuild_index

    before = rebuild_index(state.ledger())
    document = {
        "entries": before.searchable,
        "missing_before": len(before.missing),
        "stale_before": len(before.stale),
    }
    if as_json:
        echo_json(document)
        return
    click.echo(f"index rebuilt: {before.searchable:,} searchable embeddings "
               f"({len(before.missing):,} were missing, {len(before.stale):,} stale)")  # fmt: skip


def register(main: click.Group) -> None:
    for command in (extract, search, compare, subjects):
        main.add_command(command)
    main.add_command(index)
