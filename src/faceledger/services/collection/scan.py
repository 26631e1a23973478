"""Scan: detect faces in every ingested photo that has local bytes and no completed scan.

Example::

    report = scan_pending(ledger, settings, actor="cli")
    report.photos_done, report.faces_found

Resumable by construction. Workers only read image bytes and return plain values; the driver
is the single writer. On an engine whose workers share no disk with the driver (Ray), the
driver reads each photo's bytes and sends them as the item (``(id, path, bytes)``), never the
path alone. Each flush is one transaction that inserts a photo's faces *and* marks
the photo scanned, guarded by ``WHERE scan_status = 'pending'``; so a scan killed at any
instant (SIGKILL included) leaves every photo either fully scanned or still pending, and the
next run finishes the pending ones without duplicating a face (a unique key on
``(photo_id, face_index)`` backs this up).

The detector is the real one (CenterFace, every pass; each worker builds its own) unless the
caller injects one: ``scan_pending(..., detector=fake)``. An injected detector runs in this
process (the in-process engine, whatever ``workers`` and ``engine`` say), since it is an object
of the caller's and not something a worker process or a Ray actor could rebuild.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update

from faceledger.config import Settings, available_cores
from faceledger.core.faces import DetectorInfo, FaceDetection
from faceledger.engines.local import Engine, InProcess, make_engine
from faceledger.errors import ImageError
from faceledger.services.progress import NoProgress, Progress
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.locks import exclusive
from faceledger.store.tables import FACES, PHOTOS, SCAN_RUNS
from faceledger.store.tombstones import OWNER_KEYS, PHOTO_KEYS, tombstone_matches
from faceledger.vision.detector import Detector, MultiscaleDetector, detector_for

_PAGE = 500
_FLUSH_SECONDS = 1.0
PAUSE_ENV = "FACELEDGER_SCAN_PAUSE_AFTER"  # test hook, see _pause_hook
RESUME_ENV = "FACELEDGER_SCAN_RESUME_FIFO"  # test hook, see _pause_hook


@dataclass(frozen=True)
class DetectorConfig:
    """What a worker needs to build its detector and decode images (picklable)."""

    threshold: float
    threads: int
    max_pixels: int
    max_side: int

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectorConfig:
        return cls(
            threshold=settings.detector_threshold,
            # a Ray actor holds one CPU of its node; the driver's core count says nothing there
            threads=1
            if settings.engine == "ray"
            else max(1, available_cores() // settings.workers),
            max_pixels=settings.max_image_pixels,
            max_side=settings.detect_max_side,
        )


@dataclass(frozen=True)
class PhotoOutcome:
    """A worker's answer for one photo: faces, or the reason it could not be scanned."""

    photo_id: int
    width: int | None = None
    height: int | None = None
    faces: tuple[FaceDetection, ...] = ()
    error: str | None = None
    detail: str | None = None
    content_hash: str | None = None  # sha256 of the bytes actually read


@dataclass
class ScanReport:
    run_id: int
    detector: DetectorInfo
    photos_done: int = 0
    photos_failed: int = 0
    faces_found: int = 0
    interrupted_runs: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    tombstoned: int = 0  # pending photos a tombstone covered: excluded, not scanned
    workers_lost: int = 0  # scale-out workers that died mid-run (their items went to others)


# --- worker side (runs in worker processes; module-level for pickling) ---------------------

_worker: dict[str, Any] = {}


def init_worker(config: DetectorConfig) -> None:
    """Build this process's real detector once (the model itself loads on first use)."""
    from faceledger.vision.centerface import CenterFace

    _worker["config"] = config
    _worker["detector"] = MultiscaleDetector(
        CenterFace(threshold=config.threshold, threads=config.threads)
    )


def scan_photo(item: tuple[int, str] | tuple[int, str, bytes]) -> PhotoOutcome:
    """Detect faces in one photo, given as ``(id, path)`` (read here) or ``(id, path, bytes)``
    (read by the driver; ``path`` then only names it in messages); never raises for a bad image.
    Uses the detector :func:`init_worker` built in this process."""
    return detect_photo(item, _worker["detector"], _worker["config"])


def detect_photo(
    item: tuple[int, str] | tuple[int, str, bytes], detector: Detector, config: DetectorConfig
) -> PhotoOutcome:
    """:func:`scan_photo` with the detector given (an injected one, in the driver's process)."""
    from faceledger.vision.detector import detect_image

    photo_id, path = item[0], item[1]
    source: Path | bytes = item[2] if len(item) == 3 else Path(path)
    try:
        digest = (
            hashlib.sha256(source).hexdigest() if isinstance(source, bytes) else _sha256(source)
        )
    except OSError as exc:
        return PhotoOutcome(photo_id, error="unreadable", detail=f"{path}: {exc.strerror}")
    try:
        result = detect_image(
            source, detector, max_pixels=config.max_pixels, max_side=config.max_side
        )
    except ImageError as exc:
        detail = str(exc).replace("the uploaded image", path)
        return PhotoOutcome(photo_id, error=exc.reason, detail=detail, content_hash=digest)
    except MemoryError:
        return PhotoOutcome(photo_id, error="too-large", detail=f"{path}: out of memory decoding",
                            content_hash=digest)  # fmt: skip
    return PhotoOutcome(
        photo_id, result.width, result.height, tuple(result.faces), content_hash=digest
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def worker_detector_info() -> DetectorInfo:
    return _worker["detector"].info  # type: ignore[no-any-return]


# --- driver side ---------------------------------------------------------------------------


def count_pending(ledger: Ledger) -> int:
    with ledger.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(PHOTOS)
                .where(PHOTOS.c.scan_status == "pending", PHOTOS.c.excluded_request_id.is_(None))
            ).scalar_one()
        )


_KEYS = [PHOTOS.c[k] for k in (*PHOTO_KEYS, *OWNER_KEYS)]


def _pending(ledger: Ledger, limit: int | None, report: ScanReport) -> Iterator[tuple[int, str]]:
    """Pending photos in id order; one a tombstone covers is excluded here, never scanned."""
    last, given = 0, 0
    while True:
        with ledger.read() as conn:
            page = conn.execute(
                select(PHOTOS.c.id, PHOTOS.c.path, *_KEYS)
                .where(
                    PHOTOS.c.scan_status == "pending",
                    PHOTOS.c.id > last,
                    PHOTOS.c.excluded_request_id.is_(None),  # a tombstone is never scanned
                )  # fmt: skip
                .order_by(PHOTOS.c.id)
                .limit(_PAGE)
            ).all()
            covered = tombstone_matches(conn, [dict(row._mapping) for row in page])
        if not page:
            return
        _exclude(
            ledger,
            {int(r.id): c for r, c in zip(page, covered, strict=True) if c is not None},
            report,
        )
        for row, tomb in zip(page, covered, strict=True):
            if tomb is not None:
                continue
            if limit is not None and given >= limit:
                return
            given += 1
            yield int(row.id), str(row.path)
        last = int(page[-1].id)


def with_bytes(
    items: Iterator[tuple[int, str]],
) -> Iterator[tuple[int, str] | tuple[int, str, bytes]]:
    """``(id, path)`` -> ``(id, path, bytes)`` for workers that cannot read the driver's files.
    A file the driver cannot read goes on as ``(id, path)``: the worker finds it unreadable
    too and reports it so, as the local engines do. Lazy: only items in flight are held."""
    for photo_id, path in items:
        try:
            data = Path(path).read_bytes()
        except OSError:
            yield photo_id, path
            continue
        yield photo_id, path, data


def _exclude(
    ledger: Ledger, covered: dict[int, int], report: ScanReport, conn: Connection | None = None
) -> None:
    """Mark photos a tombstone covers as excluded by that request (never scanned)."""
    if not covered:
        return
    if conn is None:
        with ledger.begin() as own:
            _exclude(ledger, covered, report, own)
        return
    for photo_id, request_id in covered.items():
        report.tombstoned += conn.execute(
            update(PHOTOS)
            .where(PHOTOS.c.id == photo_id, PHOTOS.c.excluded_request_id.is_(None))
            .values(excluded_request_id=request_id)
        ).rowcount


_hook = {"resumed": False}


def _pause_hook(report: ScanReport) -> None:
    """Test hook: with ``FACELEDGER_SCAN_PAUSE_AFTER=N`` the scan stops for good, right after
    the flush that committed its N-th photo, and says so on stderr; a test then kills it at
    a known point instead of racing it. With ``FACELEDGER_SCAN_RESUME_FIFO`` naming a FIFO
    too, it stops once, until a test writes to that FIFO (after killing a worker node, say),
    then carries on. Unset (always, outside tests): nothing happens."""
    wanted = os.environ.get(PAUSE_ENV)
    done = report.photos_done + report.photos_failed
    if not wanted or done < int(wanted) or _hook["resumed"]:
        return
    logging.getLogger(__name__).warning(
        "scan paused after %d photos (%s)", report.photos_done, PAUSE_ENV
    )
    sys.stderr.write(
        f"faceledger: scan paused after {report.photos_done + report.photos_failed} photos\n"
    )
    sys.stderr.flush()
    fifo = os.environ.get(RESUME_ENV)
    if fifo is None:
        threading.Event().wait()  # until killed
        return
    with open(fifo, "rb") as handle:  # a FIFO: blocks until the test opens it to write
        handle.read()
    _hook["resumed"] = True
    sys.stderr.write("faceledger: scan resumed\n")
    sys.stderr.flush()


def scan_pending(
    ledger: Ledger,
    settings: Settings,
    *,
    actor: str = "cli",
    progress: Progress | None = None,
    limit: int | None = None,
    detector: Detector | None = None,
) -> ScanReport:
    """Scan every pending photo (at most ``limit``) with the real detector, or with
    ``detector`` (in this process; see the module docs)."""
    progress = progress or NoProgress()
    config = DetectorConfig.from_settings(settings)
    # for the run record: the injected detector's info, or the real one's (each worker builds its own)
    info = (detector or detector_for(settings)).info
    workers = 1 if detector is not None else settings.workers
    with exclusive(ledger, "scan"):
        interrupted = _close_stale_runs(ledger)
        total = count_pending(ledger)
        if limit is not None:
            total = min(total, limit)
        run_id = _start_run(ledger, info, workers, actor)
        report = ScanReport(run_id=run_id, detector=info, interrupted_runs=interrupted)
        started = time.monotonic()
        work: Any = scan_photo
        if detector is not None:  # the caller's object: it runs here, never in a worker
            engine: Engine = InProcess()
            work = partial(detect_photo, detector=detector, config=config)
        else:
            engine = make_engine(
                settings.workers,
                init_worker,
                (config,),
                kind=settings.engine,
                address=settings.ray_address,
            )
        status = "failed"
        try:
            buffer: list[PhotoOutcome] = []
            last_flush = time.monotonic()
            every = settings.scan_flush_photos
            with progress.task("scan", total=total, unit="photos") as tick:
                items: Iterator[Any] = _pending(ledger, limit, report)
                if not engine.shares_files:
                    items = with_bytes(items)
                for outcome in engine.map_unordered(work, items):
                    buffer.append(outcome)
                    if len(buffer) >= every or time.monotonic() - last_flush > _FLUSH_SECONDS:
                        _flush(ledger, run_id, info, buffer, report)
                        tick(len(buffer), faces=report.faces_found)
                        buffer, last_flush = [], time.monotonic()
                        _pause_hook(report)
                _flush(ledger, run_id, info, buffer, report)
                tick(len(buffer), faces=report.faces_found)
            status = "done"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            report.workers_lost = getattr(engine, "workers_lost", 0)
            engine.close()
            report.seconds = time.monotonic() - started
            _finish_run(ledger, report, status, actor)
    return report


def _close_stale_runs(ledger: Ledger) -> int:
    """Runs still marked running were killed (we hold the scan lock): mark them interrupted."""
    with ledger.begin() as conn:
        result = conn.execute(
            update(SCAN_RUNS).where(SCAN_RUNS.c.status == "running").values(status="interrupted")
        )
        return int(result.rowcount or 0)


def _start_run(ledger: Ledger, info: DetectorInfo, workers: int, actor: str) -> int:
    with ledger.begin() as conn:
        run_id = conn.execute(
            SCAN_RUNS.insert()
            .values(
                started_at=utcnow(),
                status="running",
                detector_name=info.name,
                detector_version=info.version,
                threshold=info.threshold,
                workers=workers,
                photos_done=0,
                photos_failed=0,
                faces_found=0,
            )  # fmt: skip
            .returning(SCAN_RUNS.c.id)
        ).scalar_one()
        append(
            conn,
            AuditRecord(
                name="scan.started",
                actor=actor,
                object_type="scan_run",
                object_id=str(run_id),
                payload={
                    "detector": info.name,
                    "version": info.version,
                    "threshold": info.threshold,
                    "workers": workers,
                },
            ),  # fmt: skip
        )
    return int(run_id)


def _flush(
    ledger: Ledger,
    run_id: int,
    info: DetectorInfo,
    outcomes: list[PhotoOutcome],
    report: ScanReport,
) -> None:
    if not outcomes:
        return
    now = utcnow()
    done = failed = faces = 0
    with ledger.begin() as conn:
        # the bytes read may differ from those ingested (a re-fetch): check them too
        scanned = conn.execute(
            select(PHOTOS.c.id, *_KEYS).where(PHOTOS.c.id.in_([o.photo_id for o in outcomes]))
        ).all()
        hashes = {o.photo_id: o.content_hash for o in outcomes}
        keys = [
            {**row._mapping, "content_hash": hashes.get(int(row.id)) or row.content_hash}
            for row in scanned
        ]
        covered = {
            int(row.id): c
            for row, c in zip(scanned, tombstone_matches(conn, keys), strict=True)
            if c
        }
        _exclude(ledger, covered, report, conn)
        for outcome in outcomes:
            if outcome.photo_id in covered:
                continue  # excluded above: its faces are never written
            claimed = conn.execute(
                update(PHOTOS)
                .where(PHOTOS.c.id == outcome.photo_id, PHOTOS.c.scan_status == "pending")
                .values(
                    scan_status="error" if outcome.error else "done",
                    scan_error=outcome.error,
                    scan_error_detail=outcome.detail,
                    width=outcome.width,
                    height=outcome.height,
                    scan_run_id=run_id,
                    scanned_at=now,
                    **({"content_hash": outcome.content_hash} if outcome.content_hash else {}),
                )
            ).rowcount
            if not claimed:  # already scanned by an earlier run: never duplicate its faces
                continue
            if outcome.error:
                failed += 1
                report.errors[outcome.error] = report.errors.get(outcome.error, 0) + 1
                continue
            done += 1
            faces += _insert_faces(conn, outcome, run_id, info, now)
        conn.execute(
            update(SCAN_RUNS)
            .where(SCAN_RUNS.c.id == run_id)
            .values(
                photos_done=SCAN_RUNS.c.photos_done + done,
                photos_failed=SCAN_RUNS.c.photos_failed + failed,
                faces_found=SCAN_RUNS.c.faces_found + faces,
            )
        )
    report.photos_done += done
    report.photos_failed += failed
    report.faces_found += faces


def _insert_faces(
    conn: Connection, outcome: PhotoOutcome, run_id: int, info: DetectorInfo, now: Any
) -> int:
    rows = [
        {
            "photo_id": outcome.photo_id,
            "face_index": index,
            "x1": face.box.x1,
            "y1": face.box.y1,
            "x2": face.box.x2,
            "y2": face.box.y2,
            "score": face.score,
            "landmarks": [[round(x, 2), round(y, 2)] for x, y in face.landmarks],
            "face_size": face.face_size,
            "quality": face.quality,
            "detector_name": info.name,
            "detector_version": info.version,
            "scan_run_id": run_id,
            "created_at": now,
        }  # fmt: skip
        for index, face in enumerate(outcome.faces)
    ]
    if rows:
        conn.execute(FACES.insert(), rows)
    return len(rows)


def _finish_run(ledger: Ledger, report: ScanReport, status: str, actor: str) -> None:
    with ledger.begin() as conn:
        conn.execute(
            update(SCAN_RUNS)
            .where(SCAN_RUNS.c.id == report.run_id)
            .values(status=status, finished_at=utcnow())
        )
        append(
            conn,
            AuditRecord(
                name="scan.finished",
                actor=actor,
                object_type="scan_run",
                object_id=str(report.run_id),
                payload={
                    "status": status,
                    "photos_done": report.photos_done,
                    "photos_failed": report.photos_failed,
                    "faces": report.faces_found,
                    "errors": report.errors,
                    "tombstoned": report.tombstoned,
                    "workers_lost": report.workers_lost,
                },
            ),  # fmt: skip
        )
