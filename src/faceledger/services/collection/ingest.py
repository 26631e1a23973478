"""Ingest: folders and manifests -> sources, photos and rejected lines in the ledger.

Example::

    report = ingest_paths(ledger, [Path("examples/")], actor="cli")
    report.added, report.rejected

Idempotent: a source is identified by its absolute path and a photo by its key inside the
source (the manifest's photo id, else its path or URL), so re-ingesting adds nothing. Rows
are written in batches, one transaction per batch: an interrupted ingest leaves whole
batches, and re-running it completes the rest. One bad row never stops an ingest: it is
recorded with file and line, skipped and counted.

A manifest is opened and read once (:func:`faceledger.sources.manifests.open_manifest`:
format, header, row-count estimate and sha256 in the same pass), its rows normalised in
Arrow batches, and each batch written by the backend's bulk path
(:func:`faceledger.store.bulk.insert_new_rows`: ``executemany`` on SQLite, ``COPY`` on
PostgreSQL, through a staging table when keys are already there), keeping ``ON CONFLICT
DO NOTHING`` on the photo key.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select, update

from faceledger.errors import FaceledgerError, ManifestError
from faceledger.services.progress import NoProgress, Progress
from faceledger.sources.manifests import DEFAULT_BATCH, MANIFEST_SUFFIXES, open_manifest
from faceledger.sources.normalise import PHOTO_SCHEMA, UTC_US
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.bulk import insert_new_rows, refresh_statistics
from faceledger.store.ledger import utcnow
from faceledger.store.tables import PHOTOS, REJECTS, REQUESTS, SOURCES
from faceledger.store.tombstones import DONE, OWNER_KEYS, PHOTO_KEYS, tombstone_matches

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".jfif"}
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
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    roots: Iterable[Path] | None = None,
) -> IngestReport:
    """Ingest every folder and manifest in ``paths`` (see module docs).

    ``roots``: folders outside a manifest's own folder its paths may point into (default:
    the ``manifest_path_roots`` setting); anything else outside is rejected with its line.
    """
    sink: Progress = progress or NoProgress()
    report = IngestReport()
    if roots is None:
        from faceledger.config import load_settings

        roots = load_settings().manifest_path_roots
    allowed = tuple(Path(r) for r in roots)
    for path in paths:
        path = path.expanduser().resolve()
        if path.is_dir():
            report.sources.extend(_ingest_folder(ledger, path, actor, batch_size, sink, allowed))
        elif path.is_file():
            report.sources.append(
                _ingest_manifest(ledger, path, actor, batch_size, sink, roots=allowed)
            )
        else:
            raise FaceledgerError(f"{path}: no such file or folder")
    if report.added:
        with ledger.begin() as conn:
            refresh_statistics(conn, PHOTOS)  # the planner sees the photos just loaded
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
                _ingest_manifest(
                    ledger, manifest, actor, batch_size, progress, claimed=claimed, roots=roots
                )  # fmt: skip
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
    source_id = _ensure_source(
        ledger, uri=f"folder:{root}", kind="folder", fmt="folder", name=root.name
    )
    with progress.task(f"ingest {root.name}/", total=len(images), unit="files") as tick:
        for start in range(0, len(images), _FOLDER_BATCH):
            chunk = images[start : start + _FOLDER_BATCH]
            rows = [
                {"line": 0, "source_key": str(image.relative_to(root)), "path": str(image)}
                for image in chunk
            ]
            table = pa.Table.from_pylist(rows, schema=PHOTO_SCHEMA)
            added = _write_batch(ledger, source_id, table, [], report, path=root)
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
    with open_manifest(path, roots=roots) as manifest:  # ManifestError before a source row
        report = SourceReport(uri=str(path), format=manifest.format)
        source_id = _ensure_source(
            ledger, uri=f"manifest:{path}", kind="manifest", fmt=manifest.format, name=path.name
        )
        with progress.task(f"ingest {path.name}", total=manifest.total, unit="rows") as tick:
            for batch in manifest.batches(batch_size):
                table = batch.table if batch.table is not None else PHOTO_SCHEMA.empty_table()
                if claimed is not None:
                    claimed.update(p for p in table.column("path").to_pylist() if p)
                report.added += _write_batch(
                    ledger, source_id, table, batch.rejects, report, path=path
                )
                report.seen += batch.size
                tick(batch.size)
        sha256 = manifest.sha256
    _finish_source(ledger, source_id, report, actor, sha256=sha256)
    return report


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
        return int(source_id)


def _write_batch(
    ledger: Ledger, source_id: int, table: pa.Table, rejects: list[tuple[int, str]],
    report: SourceReport, *, path: Path,
) -> int:  # fmt: skip
    """One transaction: insert the batch's new photos (bulk) and its rejected lines."""
    now = utcnow()
    photos = _photo_columns(table, source_id, now)
    added = 0
    with ledger.begin() as conn:
        if photos.num_rows:
            if _tombstones_exist(conn):  # erased elsewhere: stays erased
                keys = [k for k in PHOTO_KEYS + OWNER_KEYS if k in photos.column_names]
                matches = tombstone_matches(conn, photos.select(keys).to_pylist())
                photos = photos.set_column(
                    photos.schema.get_field_index("excluded_request_id"),
                    "excluded_request_id", pa.array(matches, pa.int64()),
                )  # fmt: skip
            added, tombstoned = insert_new_rows(
                conn, PHOTOS, photos, key=["source_id", "source_key"], flag="excluded_request_id"
            )
            report.tombstoned += tombstoned
        if rejects:
            _record_rejects(ledger, conn, source_id, rejects, now)
    for line, reason in rejects:
        report.rejected += 1
        if len(report.rejects) < MAX_REJECTS_SHOWN:
            report.rejects.append(f"{path}:{line}: {reason}")
    return added


def _photo_columns(table: pa.Table, source_id: int, now: Any) -> pa.Table:
    """The normalised rows as ``photos`` columns: the source, local content hash, scan
    status (pending with local bytes, else remote) and the time of ingest."""
    n = table.num_rows
    table = table.drop_columns(["line"])
    paths = table.column("path")
    hashes: pa.Array = pa.nulls(n, pa.string())
    if paths.null_count < n:
        hashes = pa.array(
            [sha256_file(Path(p)) if p else None for p in paths.to_pylist()], pa.string()
        )
    local = pc.is_valid(paths)
    return (
        table.append_column("source_id", pa.repeat(pa.scalar(source_id, pa.int64()), n))
        .append_column("content_hash", hashes)
        .append_column("scan_status", pc.if_else(local, "pending", "remote"))
        .append_column("created_at", pa.repeat(pa.scalar(now, UTC_US), n))
        .append_column("excluded_request_id", pa.nulls(n, pa.int64()))
    )


def _tombstones_exist(conn: Connection) -> bool:
    """Whether any executed request left a tombstone (two indexed probes): without one,
    no new row can match and the per-row tombstone lookups are skipped."""
    excluded = select(PHOTOS.c.id).where(PHOTOS.c.excluded_request_id.is_not(None)).limit(1)
    if conn.execute(excluded).first() is not None:
        return True
    owners = (
        select(REQUESTS.c.id)
        .where(
            REQUESTS.c.key_type == "owner",
            REQUESTS.c.kind.in_(("optout", "erasure")),
            REQUESTS.c.status.in_(DONE),
        )  # fmt: skip
        .limit(1)
    )
    return conn.execute(owners).first() is not None


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


def _finish_source(
    ledger: Ledger, source_id: int, report: SourceReport, actor: str, *, sha256: str | None = None
) -> None:
    counts: dict[str, Any] = {"rows_seen": report.seen, "rows_added": report.added,
                              "rows_rejected": report.rejected}  # fmt: skip
    if sha256:
        counts["content_sha256"] = sha256  # of the bytes just read
    with ledger.begin() as conn:
        conn.execute(
            update(SOURCES)
            .where(SOURCES.c.id == source_id)
            .values(last_ingested_at=utcnow(), **counts)
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
