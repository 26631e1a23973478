"""Ingest: folders and manifests -> sources, photos and rejected lines in the ledger.

Example::

    report = ingest_paths(ledger, [Path("examples/")], actor="cli")
    report.added, report.rejected

Idempotent: a source is identified by its absolute path and a photo by its key inside the
source (the manifest's photo id, else its path or URL), so re-ingesting adds nothing. Rows
are written in batches, one transaction per batch: an interrupted ingest leaves whole
batches, and re-running it completes the rest. One bad row never stops an ingest: it is
recorded with file and line, skipped and counted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from faceledger.errors import FaceledgerError, ManifestError
from faceledger.services.progress import NoProgress, Progress
from faceledger.sources.manifests import MANIFEST_SUFFIXES, read_manifest
from faceledger.sources.rows import Batch
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.schema import IngestReject, Photo, Source
from faceledger.store.tombstones import tombstone_matches

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".jfif"}
PHOTOS = Photo.__table__
SOURCES = Source.__table__
REJECTS = IngestReject.__table__
MAX_REJECTS_SHOWN = 20
_FOLDER_BATCH = 2_000


@dataclass
class SourceReport:
    """What one source contributed."""

    uri: str
    format: str
    seen: int = 0
    added: int = 0
    rejected: int = 0
    rejects: list[str] = field(default_factory=list)  # "file:line: reason", first few
    note: str | None = None
    tombstoned: int = 0  # added, but covered by an executed request's tombstone (excluded)

    @property
    def duplicates(self) -> int:
        return self.seen - self.added - self.rejected


@dataclass
class IngestReport:
    sources: list[SourceReport] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(s.added for s in self.sources)

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.sources)

    @property
    def seen(self) -> int:
        return sum(s.seen for s in self.sources)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_paths(
    ledger: Ledger,
    paths: Iterable[Path],
    *,
    actor: str = "cli",
    batch_size: int = 20_000,
    progress: Progress | None = None,
    roots: Iterable[Path] | None = None,
) -> IngestReport:
    """Ingest every folder and manifest in ``paths`` (see module docs).

    ``roots``: folders outside a manifest's own folder its paths may point into (default:
    the ``manifest_path_roots`` setting); anything else outside is rejected with its line.
    """
    progress = progress or NoProgress()
    report = IngestReport()
    if roots is None:
        from faceledger.config import load_settings

        roots = load_settings().manifest_path_roots
    allowed = tuple(Path(r) for r in roots)
    for path in paths:
        path = path.expanduser().resolve()
        if path.is_dir():
            report.sources.extend(_ingest_folder(ledger, path, actor, batch_size, progress, allowed))
        elif path.is_file():
            report.sources.append(
                _ingest_manifest(ledger, path, actor, batch_size, progress, roots=allowed)
            )
        else:
            raise FaceledgerError(f"{path}: no such file or folder")
    return report


def _ingest_folder(
    ledger: Ledger, root: Path, actor: str, batch_size: int, progress: Progress,
    roots: tuple[Path, ...],
) -> list[SourceReport]:  # fmt: skip
    manifests, images = _walk(root)
    outside = [p for p in manifests + images if not p.is_relative_to(root)]  # symlinks out
    manifests = [p for p in manifests if p not in outside]
    images = [p for p in images if p not in outside]
    reports: list[SourceReport] = []
    claimed: set[str] = set()  # local files a manifest already gave provenance to
    for manifest in manifests:
        try:
            reports.append(
                _ingest_manifest(ledger, manifest, actor, batch_size, progress, claimed=claimed,
                                 roots=roots)  # fmt: skip
            )
        except ManifestError as exc:
            if "not a photo manifest" not in str(exc):
                raise
            reports.append(SourceReport(uri=str(manifest), format="-", note=f"skipped: {exc}"))
    loose = [image for image in images if str(image) not in claimed]
    if loose or outside or not reports:
        reports.append(_ingest_loose_images(ledger, root, loose, actor, progress, outside))
    return reports


def _walk(root: Path) -> tuple[list[Path], list[Path]]:
    manifests: list[Path] = []
    images: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder, name).resolve()  # a symlink out is caught by the caller
            suffix = Path(name).suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                images.append(path)
            elif suffix in MANIFEST_SUFFIXES or (
                suffix in (".gz", ".bz2") and Path(name).with_suffix("").suffix in MANIFEST_SUFFIXES
            ):
                manifests.append(path)
    return manifests, images


def _ingest_loose_images(
    ledger: Ledger, root: Path, images: list[Path], actor: str, progress: Progress,
    outside: list[Path],
) -> SourceReport:  # fmt: skip
    report = SourceReport(uri=str(root), format="folder")
    report.seen = report.rejected = len(outside)
    report.rejects.extend(
        f"{p}: a symlink to a file outside {root}: skipped" for p in outside[:MAX_REJECTS_SHOWN]
    )
    source_id = _ensure_source(ledger, uri=f"folder:{root}", kind="folder", fmt="folder", name=root.name)
    with progress.task(f"ingest {root.name}/", total=len(images), unit="files") as tick:
        for start in range(0, len(images), _FOLDER_BATCH):
            chunk = images[start : start + _FOLDER_BATCH]
            rows = []
            for image in chunk:
                rows.append(
                    (0, {"source_key": str(image.relative_to(root)), "path": str(image)})
                )
            added = _write_batch(ledger, source_id, Batch(rows=rows), report, path=root)
            report.seen += len(chunk)
            report.added += added
            tick(len(chunk))
    _finish_source(ledger, source_id, report, actor)
    return report


def _ingest_manifest(
    ledger: Ledger,
    path: Path,
    actor: str,
    batch_size: int,
    progress: Progress,
    *,
    claimed: set[str] | None = None,
    roots: tuple[Path, ...] = (),
) -> SourceReport:
    batches = read_manifest(path, batch_size=batch_size, roots=roots)
    first = next(batches, None)  # raises ManifestError before a source row is created
    from faceledger.sources.manifests import manifest_format

    fmt = manifest_format(path)
    report = SourceReport(uri=str(path), format=fmt)
    source_id = _ensure_source(
        ledger, uri=f"manifest:{path}", kind="manifest", fmt=fmt, name=path.name,
        sha256=sha256_file(path),
    )
    total = _estimate_lines(path)
    with progress.task(f"ingest {path.name}", total=total, unit="rows") as tick:
        for batch in _chain(first, batches):
            if claimed is not None:
                claimed.update(row["path"] for _, row in batch.rows if row.get("path"))
            report.added += _write_batch(ledger, source_id, batch, report, path=path)
            done = len(batch.rows) + len(batch.rejects)
            report.seen += done
            tick(done)
    _finish_source(ledger, source_id, report, actor)
    return report


def _chain(first: Batch | None, rest: Iterator[Batch]) -> Iterator[Batch]:
    if first is not None:
        yield first
    yield from rest


def _estimate_lines(path: Path) -> int | None:
    """Rows in a text manifest, estimated from the first 1 MiB (for the ETA only)."""
    if path.suffix.lower() in (".parquet", ".gz", ".bz2"):
        return None
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
    lines = head.count(b"\n")
    if not lines:
        return None
    return int(path.stat().st_size / (len(head) / lines))


def _ensure_source(
    ledger: Ledger, *, uri: str, kind: str, fmt: str, name: str, sha256: str | None = None
) -> int:
    with ledger.begin() as conn:
        stmt = ledger.insert_ignoring_conflicts(SOURCES, ["uri"]).values(
            uri=uri, kind=kind, format=fmt, name=name, content_sha256=sha256,
            created_at=utcnow(), rows_seen=0, rows_added=0, rows_rejected=0,
        )  # fmt: skip
        conn.execute(stmt)
        source_id = conn.execute(select(SOURCES.c.id).where(SOURCES.c.uri == uri)).scalar_one()
        if sha256:
            conn.execute(update(SOURCES).where(SOURCES.c.id == source_id).values(content_sha256=sha256))
        return int(source_id)


def _write_batch(ledger: Ledger, source_id: int, batch: Batch, report: SourceReport, *, path: Path) -> int:
    """One transaction: insert the batch's new photos and its rejected lines."""
    now = utcnow()
    values: list[dict[str, Any]] = []
    for _line, row in batch.rows:
        local = row.get("path")
        values.append(
            {
                **_photo_defaults(),
                **row,
                "source_id": source_id,
                "content_hash": sha256_file(Path(local)) if local else None,
                "scan_status": "pending" if local else "remote",
                "created_at": now,
            }
        )
    added = 0
    with ledger.begin() as conn:
        if values:
            for value, request_id in zip(values, tombstone_matches(conn, values), strict=True):
                value["excluded_request_id"] = request_id  # erased elsewhere: stays erased
            stmt = ledger.insert_ignoring_conflicts(PHOTOS, ["source_id", "source_key"])
            inserted = conn.execute(stmt.returning(PHOTOS.c.id, PHOTOS.c.excluded_request_id), values).all()
            added = len(inserted)
            report.tombstoned += sum(1 for row in inserted if row.excluded_request_id is not None)
        if batch.rejects:
            _record_rejects(ledger, conn, source_id, batch.rejects, now)
    for line, reason in batch.rejects:
        report.rejected += 1
        if len(report.rejects) < MAX_REJECTS_SHOWN:
            report.rejects.append(f"{path}:{line}: {reason}")
    return added


def _record_rejects(
    ledger: Ledger, conn: Connection, source_id: int, rejects: list[tuple[int, str]], now: Any
) -> None:
    stmt = ledger.insert_ignoring_conflicts(REJECTS, ["source_id", "line"])
    conn.execute(
        stmt,
        [
            {"source_id": source_id, "line": line, "reason": reason, "created_at": now}
            for line, reason in rejects
        ],
    )


_PHOTO_FIELDS = [c.name for c in PHOTOS.columns if c.name not in ("id",)]


def _photo_defaults() -> dict[str, Any]:
    return dict.fromkeys(_PHOTO_FIELDS)


def _finish_source(ledger: Ledger, source_id: int, report: SourceReport, actor: str) -> None:
    with ledger.begin() as conn:
        conn.execute(
            update(SOURCES)
            .where(SOURCES.c.id == source_id)
            .values(
                last_ingested_at=utcnow(),
                rows_seen=report.seen,
                rows_added=report.added,
                rows_rejected=report.rejected,
            )
        )
        append(
            conn,
            AuditRecord(
                name="ingest.source",
                actor=actor,
                object_type="source",
                object_id=str(source_id),
                payload={
                    "uri": report.uri,
                    "format": report.format,
                    "seen": report.seen,
                    "added": report.added,
                    "rejected": report.rejected,
                    "tombstoned": report.tombstoned,
                },
            ),
        )
