"""``faceledger fetch`` and ``faceledger optouts import``: acquire bytes, honour opt-outs."""

from __future__ import annotations

from pathlib import Path

import click

from faceledger.cli._common import JSON_OPTION, CliState, echo_json
from faceledger.cli._progress import RichProgress


@click.command()
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    help="Concurrent downloads (FACELEDGER_FETCH_WORKERS).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    help="Where the downloads run: this process, or Ray actors across a cluster (FACELEDGER_ENGINE).",
)
@click.option(
    "--actors",
    type=click.IntRange(1, 1024),
    help="Ray actors for --engine ray, each with --workers downloads (FACELEDGER_WORKERS).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), help="Fetch at most this many photos, then stop."
)
@click.option(
    "--retry",
    is_flag=True,
    help="Also retry failed photos and those reserved only because a signal was unreachable.",
)
@JSON_OPTION
@click.pass_obj
def fetch(
    state: CliState, workers: int | None, engine: str | None, actors: int | None,
    limit: int | None, retry: bool, as_json: bool,
) -> None:  # fmt: skip
    """Download the bytes of URL-only photos, honouring machine-readable opt-outs.

    Every photo with a download URL and no bytes yet is checked against imported opt-out
    lists, its origin's /.well-known/tdmrep.json, the X-Robots-Tag (noai, noimageai) and
    tdm-reservation headers, and the XMP plus:DataMining and C2PA training-mining metadata in
    its bytes. A reserved photo keeps its metadata, no bytes, and is never scanned; a signal
    that cannot be read reserves it. Other bytes are validated with the scan's decoder and
    stored once under their sha256 in <data_dir>/images/; the photo is then ready to scan.
    Safe to kill at any point (even kill -9): run it again and nothing is fetched twice.
    Private and loopback addresses are refused unless fetch_allow_private is set.
    With --engine ray the downloads run on Ray actors (each host on one actor, so the
    per-host limits hold cluster-wide); this process still writes the store and the ledger.

    \b
    Example:
      faceledger fetch --workers 64
      faceledger fetch --limit 1000 --json
      faceledger fetch --engine ray --actors 16   # FACELEDGER_RAY_ADDRESS=head:6379
      FACELEDGER_FETCH_ALLOW_PRIVATE=1 faceledger fetch   # an intranet mirror
    """
    from faceledger.services.collection.fetch import fetch_pending

    settings = state.settings(fetch_workers=workers, engine=engine, workers=actors)
    report = fetch_pending(
        state.ledger(),
        settings,
        progress=None if as_json else RichProgress(),
        limit=limit,
        retry=retry,
    )
    document = report.to_dict()
    if as_json:
        echo_json(document)
        return
    click.echo(
        f"fetched {report.fetched:,} photos ({report.bytes / 1e6:,.1f} MB, "
        f"{report.deduplicated:,} identical to bytes already stored), {report.reserved:,} reserved "
        f"by an opt-out, {report.failed:,} failed, {report.skipped:,} already done "
        f"({document['photos_per_second']:.1f} photos/s, {document['mb_per_second']:.1f} MB/s)"
    )
    if report.workers_lost:
        click.echo(
            f"  {report.workers_lost:,} Ray workers lost; their photos were fetched by others"
        )
    if report.recovered:
        click.echo(f"  committed {report.recovered:,} photos an interrupted run had finished")
    if report.reserved_by_signal:
        click.echo(
            "  reserved by signal: "
            + ", ".join(f"{k}: {v}" for k, v in document["reserved_by_signal"].items())
        )
    if report.failed_by_reason:
        click.echo(
            "  failed by reason: "
            + ", ".join(f"{k}: {v}" for k, v in document["failed_by_reason"].items())
        )
    if report.remaining:
        click.echo(f"  {report.remaining:,} photos left to fetch: run faceledger fetch again")


@click.group()
def optouts() -> None:
    """Opt-out lists: URLs, domains and owner ids whose photos must not be mined.

    \b
    Example:
      faceledger optouts import do-not-train.json
    """


@optouts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@JSON_OPTION
@click.pass_obj
def import_command(state: CliState, file: Path, as_json: bool) -> None:
    """Import an opt-out list and reserve the not-yet-fetched photos it covers.

    FILE is a plain list (one URL, domain or owner id a line; `url:`, `domain:`, `owner:`
    prefixes allowed), a CSV/TSV with url, domain or owner columns, or JSON / JSON Lines
    (a list, or {"urls": [...]}, with optional "optOut" flags: Spawning's Do-Not-Train
    shape). A domain covers its subdomains. Re-importing adds nothing new.

    \b
    Example:
      faceledger optouts import do-not-train.json
      faceledger optouts import owners.txt --json
    """
    from faceledger.services.people.optouts import import_optouts

    report = import_optouts(state.ledger(), file)
    if as_json:
        echo_json(report.to_dict())
        return
    kinds = ", ".join(f"{v:,} {k}s" for k, v in sorted(report.by_kind.items())) or "no entries"
    click.echo(
        f"{file.name}: {report.seen:,} entries ({kinds}), {report.added:,} new, "
        f"{report.rejected:,} rejected; {report.reserved:,} photos reserved"
    )
    for reject in report.rejects:
        click.echo(f"  rejected {reject}", err=True)
    if report.already_held:
        click.echo(
            f"  {report.already_held:,} listed photos already have bytes in the ledger: "
            "remove them with faceledger request"
        )


def register(main: click.Group) -> None:
    main.add_command(fetch)
    main.add_command(optouts)
