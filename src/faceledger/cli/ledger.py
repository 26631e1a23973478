"""Commands over the ledger's photos and faces: ingest, scan, detect, status."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from faceledger.cli._common import CliState, echo_json
from faceledger.cli._progress import RichProgress


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def ingest(state: CliState, paths: tuple[Path, ...], as_json: bool) -> None:
    """Add photos with their provenance to the ledger.

    PATHS are folders of images (searched recursively; manifests inside them are read
    too) and manifests: YFCC100M's 25-column TSV as-is, or CSV / TSV / JSON Lines /
    Parquet with provenance columns (photo_id, path or url, owner_id, license, ...).
    Re-ingesting a source adds nothing new. Bad rows are reported with file and line,
    skipped and counted.

    \b
    Example:
      faceledger ingest examples/
      faceledger ingest yfcc100m_dataset.tsv.bz2 photos.parquet
    """
    from faceledger.services.collection.ingest import ingest_paths

    report = ingest_paths(
        state.ledger(create=True), list(paths), progress=None if as_json else RichProgress()
    )
    if as_json:
        echo_json(
            {
                "seen": report.seen,
                "added": report.added,
                "rejected": report.rejected,
                "sources": [vars(s) | {"duplicates": s.duplicates} for s in report.sources],
            }
        )
        return
    for source in report.sources:
        if source.note:
            click.echo(f"  {source.uri}: {source.note}")
            continue
        click.echo(
            f"  {source.uri} [{source.format}]: {source.seen:,} rows, {source.added:,} new, "
            f"{source.duplicates:,} already in the ledger, {source.rejected:,} rejected"
        )
        for reject in source.rejects:
            click.echo(f"    rejected {reject}", err=True)
        if source.rejected > len(source.rejects):
            click.echo(
                f"    ... {source.rejected - len(source.rejects):,} more: faceledger status --errors",
                err=True,
            )
    click.echo(
        f"ingested {report.added:,} new photos ({report.rejected:,} rows rejected) into {state.ledger().url}"
    )


@click.command()
@click.option("--workers", type=int, help="Worker processes (default: cores; FACELEDGER_WORKERS).")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    help="How to spread the work (FACELEDGER_ENGINE).",
)
@click.option(
    "--threshold", type=float, help="Detector confidence threshold (FACELEDGER_DETECTOR_THRESHOLD)."
)
@click.option("--limit", type=int, help="Scan at most this many photos, then stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
@click.pass_obj
def scan(
    state: CliState, workers: int | None, engine: str | None, threshold: float | None,
    limit: int | None, as_json: bool,
) -> None:  # fmt: skip
    """Find the faces in every ingested photo not scanned yet.

    Stores boxes, 5 landmarks, scores, face size and a sharpness measure. No biometric
    template is computed. Safe to interrupt at any point (even kill -9): run it again and it
    finishes what is left, with no photo skipped and no face duplicated. Failures are
    recorded on the photo; see them with `faceledger status --errors`. Exit 2 before any
    ingest ("nothing ingested").

    \b
    Example:
      faceledger scan --workers 2
      faceledger scan --engine ray --workers 8
    """
    from faceledger.services.collection.ledger_init import ensure_ingested
    from faceledger.services.collection.scan import scan_pending

    settings = state.settings(workers=workers, engine=engine, detector_threshold=threshold)
    ensure_ingested(state.ledger())
    progress = None if as_json else RichProgress()
    report = scan_pending(state.ledger(), settings, progress=progress, limit=limit)
    rate = (report.photos_done + report.photos_failed) / report.seconds if report.seconds else 0.0
    summary = {
        "run_id": report.run_id,
        "detector": f"{report.detector.name} {report.detector.version}",
        "threshold": report.detector.threshold,
        "photos_scanned": report.photos_done,
        "photos_failed": report.photos_failed,
        "faces_found": report.faces_found,
        "errors_by_reason": report.errors,
        "interrupted_runs_resumed": report.interrupted_runs,
        "seconds": round(report.seconds, 2),
        "photos_per_second": round(rate, 2),
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"scan run {report.run_id}: {report.photos_done:,} photos scanned, "
        f"{report.faces_found:,} faces found, {report.photos_failed:,} failed "
        f"({rate:.1f} photos/s, {settings.workers} workers, engine {settings.engine})"
    )
    if report.errors:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.errors.items()))
        click.echo(f"  failures by reason: {reasons} (faceledger status --errors)")


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--threshold", type=float, help="Detector confidence threshold.")
@click.option("--json", "as_json", is_flag=True, help="Print the stable JSON document.")
@click.pass_obj
def detect(
    state: CliState, images: tuple[Path, ...], threshold: float | None, as_json: bool
) -> None:
    """Detect faces in image files without touching the ledger.

    Same detector and threshold as `scan`. Boxes are [x1, y1, x2, y2] in the pixels of
    the image as displayed (EXIF orientation applied). An unreadable image gets an entry
    with "error" instead of stopping the run.

    \b
    Example:
      faceledger detect group.jpg portrait.png --json
    """
    from faceledger.services.collection.detect import detect_files

    document = detect_files(list(images), state.settings(detector_threshold=threshold))
    if as_json:
        echo_json(document)
        return
    for entry in document["images"]:
        if "error" in entry:
            click.echo(f"{entry['path']}: error: {entry['error']}")
            continue
        click.echo(
            f"{entry['path']} ({entry['width']}x{entry['height']}): {len(entry['faces'])} faces"
        )
        for face in entry["faces"]:
            box = ", ".join(f"{v:.0f}" for v in face["box"])
            click.echo(f"  [{box}] score {face['score']:.2f}")


@click.command()
@click.option("--errors", "show_errors", is_flag=True, help="List failed photos and rejected rows.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(state: CliState, show_errors: bool, as_json: bool) -> None:
    """Show photos, faces and errors per source.

    \b
    Example:
      faceledger status
      faceledger status --errors --json
    """
    from faceledger.services.collection.status import ledger_errors, ledger_status

    ledger = state.ledger()
    document = ledger_errors(ledger) if show_errors else ledger_status(ledger)
    if as_json:
        echo_json(document)
        return
    if show_errors:
        _print_errors(document)
        return
    totals = document["totals"]
    click.echo(f"ledger: {document['ledger']}")
    for s in document["sources"]:
        click.echo(
            f"  {s['uri']} [{s['format']}]: {s['photos']:,} photos ({s['scanned']:,} scanned, "
            f"{s['pending']:,} pending, {s['metadata_only']:,} metadata-only, {s['errors']:,} errors), "
            f"{s['faces']:,} faces, {s['rejected_rows']:,} rejected rows"
        )
    click.echo(
        f"total: {totals['photos']:,} photos, {totals['faces']:,} faces, {totals['errors']:,} scan errors, "
        f"{totals['pending']:,} pending, {totals['rejected_rows']:,} rejected rows in {totals['sources']} sources"
    )
    _print_acquisition(document.get("acquisition"))


def _print_acquisition(acq: dict | None) -> None:  # type: ignore[type-arg]
    """The ``fetch`` outcomes (issue 12): fetched, reserved by signal, failed by reason."""
    if not acq or not (acq["fetched"] or acq["reserved"] or acq["failed"] or acq["not_fetched"]):
        return
    click.echo(
        f"fetch: {acq['fetched']:,} fetched, {acq['reserved']:,} reserved by an opt-out, "
        f"{acq['failed']:,} failed, {acq['not_fetched']:,} not fetched yet"
    )
    for label, key in (("reserved", "reserved_by_signal"), ("failed", "failed_by_reason")):
        if acq[key]:
            click.echo(f"  {label}: " + ", ".join(f"{k}: {v}" for k, v in acq[key].items()))


def _print_errors(document: dict) -> None:  # type: ignore[type-arg]
    if not any(
        document.get(k) for k in ("scan_errors", "rejected_rows", "reserved", "fetch_failures")
    ):
        click.echo("no errors")
    for entry in document["scan_errors"]:
        click.echo(f"{entry['path']}: {entry['reason']}: {entry['detail']}")
    for entry in document["rejected_rows"]:
        click.echo(f"{entry['file']}:{entry['line']}: {entry['reason']}")
    for entry in document.get("reserved", []):
        click.echo(f"{entry['url']}: reserved: {entry['signal']}: {entry['evidence']}")
    for entry in document.get("fetch_failures", []):
        click.echo(f"{entry['url']}: fetch failed: {entry['reason']}: {entry['detail']}")
    sys.stdout.flush()


def register(main: click.Group) -> None:
    for command in (ingest, scan, detect, status):
        main.add_command(command)
