"""Fetch: download the bytes of URL-only photos, honouring machine-readable opt-outs.

Example::

    report = fetch_pending(ledger, settings, actor="cli")
    report.fetched, report.reserved, report.failed, report.reasons

For every photo with a download URL, no bytes and no earlier outcome (``--retry`` adds the
failed ones and those reserved only because a signal was unreachable), in this order:

1. an imported opt-out list that covers its URL, domain or owner reserves it, unrequested;
2. its origin's ``/.well-known/tdmrep.json`` (cached per origin) may reserve it, unrequested;
3. GET (see :mod:`faceledger.services.collection.fetch_http`): ``X-Robots-Tag`` / ``tdm-reservation``
   headers reserve it before any body is read;
4. XMP ``plus:DataMining`` and C2PA training-mining in the bytes reserve it;
5. the bytes must decode with the scan's safe decoder (a decompression bomb is refused);
6. they are stored once under their sha256 (:mod:`faceledger.services.collection.content_store`) and
   the photo gets ``path``, ``content_hash`` and ``scan_status = 'pending'``.

A reserved photo keeps its metadata and no bytes; its ``scan_status`` is ``reserved`` so it is
never scanned. Signals that cannot be read reserve (see :mod:`faceledger.core.signals`).

Resumable: each outcome is journalled (one appended line) beside the content store before
the ledger commits it (batched); a run killed at any point (SIGKILL included) commits the
journal first next time, so nothing is downloaded twice and nothing is lost. A second run on
the same ledger fetches nothing new. One ``fetch.run`` audit event per run holds the counts.

With ``engine = "ray"`` steps 2-5 run on Ray actors across the cluster's nodes and this
process alone writes the content store, the journal and the ledger: see
:mod:`faceledger.services.collection.fetch_ray` and docs/scale.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select, update

from faceledger.config import Settings, available_cores
from faceledger.core.signals import reservation_from_bytes, reservation_from_headers
from faceledger.errors import FetchFailure, ImageError
from faceledger.services.collection.content_store import ContentStore
from faceledger.services.collection.fetch_http import Fetcher, FetchPolicy, make_client
from faceledger.services.collection.tdmrep import TdmrepCache
from faceledger.services.people.optouts import listed_reservations
from faceledger.services.progress import NoProgress, Progress
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.locks import exclusive
from faceledger.store.tables import PHOTOS

_PAGE = 500
_FLUSH_EVERY = 64
_FLUSH_SECONDS = 1.0
_VALIDATE_SIDE = 32  # validate by decoding every byte, at JPEG draft scale (1/2..1/8): fast
PAUSE_ENV = "FACELEDGER_FETCH_PAUSE_AFTER"  # test hook, see _PauseHook
RESUME_ENV = "FACELEDGER_FETCH_RESUME_FIFO"  # test hook, see _PauseHook


@dataclass
class Outcome:
    """What fetching one photo decided (journalled, then committed)."""

    photo_id: int
    kind: str  # fetched | reserved | failed
    prev: str | None = None  # the photo's fetch_status when this run picked it
    sha256: str | None = None
    path: str | None = None
    size: int = 0
    new_file: bool = False
    reservation: dict[str, Any] | None = None
    reason: str | None = None
    detail: str | None = None
    attempts: int = 0


@dataclass
class FetchReport:
    fetched: int = 0
    reserved: int = 0
    failed: int = 0
    skipped: int = 0
    recovered: int = 0
    remaining: int = 0
    bytes: int = 0
    files_stored: int = 0
    deduplicated: int = 0
    tdmrep_reads: int = 0
    seconds: float = 0.0
    engine: str = "local"
    workers_lost: int = 0  # Ray actors lost mid-run (their batches were fetched again)
    reserved_by_signal: dict[str, int] = field(default_factory=dict)
    failed_by_reason: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``fetch --json`` document (stable keys; add, never rename)."""
        done = self.fetched + self.reserved + self.failed
        return {
            "fetched": self.fetched, "reserved": self.reserved, "failed": self.failed,
            "skipped": self.skipped,
            "reasons": dict(sorted({**self.reserved_by_signal, **self.failed_by_reason}.items())),
            "reserved_by_signal": dict(sorted(self.reserved_by_signal.items())),
            "failed_by_reason": dict(sorted(self.failed_by_reason.items())),
            "recovered": self.recovered, "remaining": self.remaining, "bytes": self.bytes,
            "files_stored": self.files_stored, "deduplicated": self.deduplicated,
            "tdmrep_reads": self.tdmrep_reads, "seconds": round(self.seconds, 3),
            "engine": self.engine, "workers_lost": self.workers_lost,
            "photos_per_second": round(done / self.seconds, 2) if self.seconds else 0.0,
            "mb_per_second": round(self.bytes / 1e6 / self.seconds, 2) if self.seconds else 0.0,
        }  # fmt: skip


@dataclass(frozen=True)
class WorkerConfig:
    """What fetching needs outside the ledger (picklable: it travels to Ray actors)."""

    policy: FetchPolicy
    mirrors: tuple[tuple[str, str], ...] = ()  # longest prefix first
    max_pixels: int = 0
    tdmrep_ttl: float = 24.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            policy=FetchPolicy.from_settings(settings),
            mirrors=tuple(sorted(settings.fetch_mirrors.items(), key=lambda kv: -len(kv[0]))),
            max_pixels=settings.max_image_pixels, tdmrep_ttl=settings.fetch_tdmrep_ttl,
        )  # fmt: skip

    def mirror(self, url: str) -> str:
        for prefix, replacement in self.mirrors:
            if url.startswith(prefix):
                return replacement + url[len(prefix) :]
        return url

    def host_of(self, url: str) -> str:
        """The politeness key: the host the GET really goes to (after the mirror)."""
        return (urlsplit(self.mirror(url)).hostname or "").lower()


def _candidates(retry: bool) -> Any:
    status: Any = PHOTOS.c.fetch_status.is_(None)
    if retry:
        status = or_(
            status,
            PHOTOS.c.fetch_status == "failed",
            and_(PHOTOS.c.fetch_status == "reserved", PHOTOS.c.reservation.like("%-unreachable")),
        )
    return and_(
        PHOTOS.c.download_url.is_not(None), PHOTOS.c.path.is_(None),
        PHOTOS.c.excluded_request_id.is_(None), status,
    )  # fmt: skip


def count_fetchable(ledger: Ledger, *, retry: bool = False) -> int:
    with ledger.read() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(PHOTOS).where(_candidates(retry))
            ).scalar_one()
        )


def fetch_pending(
    ledger: Ledger,
    settings: Settings,
    *,
    actor: str = "cli",
    progress: Progress | None = None,
    limit: int | None = None,
    retry: bool = False,
) -> FetchReport:
    """Fetch every fetchable photo (at most ``limit``); see the module docs."""
    progress = progress or NoProgress()
    with exclusive(ledger, "fetch"):
        store = ContentStore(settings.data_dir / "images")
        store.open()
        report = FetchReport()
        report.recovered = _recover(ledger, store, report)
        store.journal_open()
        with ledger.read() as conn:
            with_url = conn.execute(
                select(func.count()).select_from(PHOTOS).where(PHOTOS.c.download_url.is_not(None))
            ).scalar_one()
        total = count_fetchable(ledger, retry=retry)
        report.skipped = int(with_url) - total
        todo = total if limit is None else min(total, limit)
        started, completed = time.monotonic(), False
        try:
            report.engine = settings.engine
            with progress.task("fetch", total=todo, unit="photos") as tick:
                if settings.engine == "ray":
                    from faceledger.services.collection.fetch_ray import RayRun

                    RayRun(ledger, settings, store, report, retry=retry, limit=limit).main(
                        tick, started
                    )
                else:
                    run = _Run(ledger, settings, store, report, retry=retry, limit=limit)
                    asyncio.run(run.main(tick, started))
            completed = True
        finally:
            store.journal_close(remove=completed)  # all committed: the journal has done its job
            report.seconds = time.monotonic() - started
            report.remaining = count_fetchable(ledger, retry=retry)
            with ledger.begin() as conn:
                append(conn, AuditRecord(
                    name="fetch.run", actor=actor, object_type="fetch_run",
                    payload={k: v for k, v in report.to_dict().items()
                             if k not in ("photos_per_second", "mb_per_second")},
                ))  # fmt: skip
    return report


def _recover(ledger: Ledger, store: ContentStore, report: FetchReport) -> int:
    """Commit what a killed run journalled but never committed."""
    outcomes, stale = [], store.journal_files()
    for entry in store.journal_entries():
        try:
            outcome = Outcome(**entry)
        except TypeError:
            continue
        if outcome.kind == "fetched" and not (
            outcome.sha256 and store.holds(outcome.sha256, outcome.size)
        ):
            continue  # the file is gone: fetch it again
        outcome.new_file = False
        outcomes.append(outcome)
    applied = 0
    for start in range(0, len(outcomes), _PAGE):
        applied += _flush(ledger, outcomes[start : start + _PAGE], report)
    for path in stale:
        path.unlink(missing_ok=True)
    return applied


def _flush(ledger: Ledger, outcomes: list[Outcome], report: FetchReport) -> int:
    """One transaction: apply each outcome if the photo is still as this run found it."""
    if not outcomes:
        return 0
    now = utcnow()
    applied = 0
    counts: list[Outcome] = []
    with ledger.begin() as conn:
        for o in outcomes:
            guard = and_(
                PHOTOS.c.id == o.photo_id, PHOTOS.c.path.is_(None),
                PHOTOS.c.fetch_status.is_not_distinct_from(o.prev),
            )  # fmt: skip
            values: dict[str, Any] = {
                "fetch_status": o.kind,
                "fetch_attempts": o.attempts,
                "fetched_at": now,
            }
            if o.kind == "fetched":
                values |= {"path": o.path, "content_hash": o.sha256, "scan_status": "pending",
                           "fetch_error": None, "fetch_error_detail": None,
                           "reservation": None, "reservation_evidence": None}  # fmt: skip
            elif o.kind == "reserved":
                reservation = o.reservation or {}
                values |= {"scan_status": "reserved", "reservation": str(reservation.get("code")),
                           "reservation_evidence": reservation, "fetch_error": None,
                           "fetch_error_detail": None}  # fmt: skip
            else:
                values |= {"fetch_error": o.reason, "fetch_error_detail": (o.detail or "")[:2000]}
            if conn.execute(update(PHOTOS).where(guard).values(**values)).rowcount:
                applied += 1
                counts.append(o)
    for o in counts:
        if o.kind == "fetched":
            report.fetched += 1
            report.bytes += o.size
            report.files_stored += int(o.new_file)
            report.deduplicated += int(not o.new_file)
        elif o.kind == "reserved":
            report.reserved += 1
            code = str((o.reservation or {}).get("code"))
            report.reserved_by_signal[code] = report.reserved_by_signal.get(code, 0) + 1
        else:
            report.failed += 1
            report.failed_by_reason[str(o.reason)] = (
                report.failed_by_reason.get(str(o.reason), 0) + 1
            )
    return applied


class _PauseHook:
    """Test hook: with ``FACELEDGER_FETCH_PAUSE_AFTER=N`` the fetch stops right after the
    flush that committed its N-th photo (flushes are cut to land on N exactly) and says so
    on stderr; with ``FACELEDGER_FETCH_RESUME_FIFO`` it carries on once a test writes to
    that FIFO (after killing a Ray node, say), else it waits to be killed. Unset (always,
    outside tests): nothing happens."""

    def __init__(self) -> None:
        self.after = int(os.environ.get(PAUSE_ENV) or 0)
        self.fifo = os.environ.get(RESUME_ENV)
        self.spent = not self.after

    def room(self, report: FetchReport) -> int:
        """How many outcomes the next flush may hold."""
        if self.spent:
            return _FLUSH_EVERY
        return max(1, min(_FLUSH_EVERY, self.after - _committed(report)))

    def __call__(self, report: FetchReport) -> None:
        if self.spent or _committed(report) < self.after:
            return
        self.spent = True
        sys.stderr.write(f"faceledger: fetch paused after {_committed(report)} photos\n")
        sys.stderr.flush()
        if self.fifo is None:
            while True:
                time.sleep(3600)  # until killed
        with open(self.fifo, "rb") as handle:  # a FIFO: blocks until the test opens it to write
            handle.read()
        sys.stderr.write("faceledger: fetch resumed\n")
        sys.stderr.flush()


def _committed(report: FetchReport) -> int:
    return report.fetched + report.reserved + report.failed


def _tick(tick: Any, count: int, report: FetchReport, started: float) -> None:
    elapsed = max(time.monotonic() - started, 1e-6)
    r = report
    extra = {"lost": r.workers_lost} if r.workers_lost else {}
    tick(count, reserved=r.reserved, failed=r.failed, MB=round(r.bytes / 1e6, 1),
         **{"MB/s": round(r.bytes / 1e6 / elapsed, 1)}, **extra)  # fmt: skip


def _journal(store: ContentStore, outcome: Outcome) -> None:
    entry = asdict(outcome)
    del entry["photo_id"]
    store.journal_write(outcome.photo_id, entry)  # one appended line


def _store_body(store: ContentStore, outcome: Outcome, body: bytes) -> Outcome:
    """Checked bytes into the content store under their sha256, then the journal line."""
    digest = hashlib.sha256(body).hexdigest()
    path, new = store.put(body, digest)
    kept = replace(outcome, kind="fetched", sha256=digest, path=str(path), size=len(body),
                   new_file=new)  # fmt: skip
    _journal(store, kept)  # bytes first, then the journal, then (batched) the ledger
    return kept


async def _download(
    fetcher: Fetcher, tdmrep: TdmrepCache, config: WorkerConfig, photo_id: int, url: str,
    prev: str | None,
) -> tuple[Outcome, bytes | None]:  # fmt: skip
    """Steps 2-3: TDMRep, then the GET (headers checked before the body). A final outcome
    (reserved, failed) with no bytes, or a provisional ``fetched`` one with the body."""
    try:
        reservation = await tdmrep.reservation_for(url)
        if reservation is not None:
            return Outcome(
                photo_id, "reserved", prev, reservation=reservation.to_dict() | {"url": url}
            ), None
        got = await fetcher.get(config.mirror(url), inspect=reservation_from_headers)
        if got.stopped is not None:
            return Outcome(photo_id, "reserved", prev, attempts=got.attempts,
                           reservation=got.stopped.to_dict() | {"url": url}), None  # fmt: skip
        return Outcome(photo_id, "fetched", prev, attempts=got.attempts), got.body or b""
    except FetchFailure as exc:
        return Outcome(
            photo_id, "failed", prev, reason=exc.reason, detail=str(exc), attempts=exc.attempts
        ), None


def _check_body(outcome: Outcome, url: str, body: bytes, max_pixels: int) -> Outcome:
    """Steps 4-5 (CPU; run in a thread): embedded signals, then the safe decode. The outcome
    unchanged when the bytes may be kept, else the reservation or failure."""
    from faceledger.vision.images import load_image

    reservation = reservation_from_bytes(body)
    if reservation is not None:
        return replace(outcome, kind="reserved", reservation=reservation.to_dict() | {"url": url})
    try:
        load_image(body, max_pixels=max_pixels, max_side=_VALIDATE_SIDE)
    except ImageError as exc:
        detail = f"{url}: {exc}".replace("the uploaded image", "the body")
        return replace(outcome, kind="failed", reason=exc.reason, detail=detail)
    except MemoryError:
        return replace(outcome, kind="failed", reason="too-large", detail=f"{url}: out of memory")
    return outcome


class _Run:
    """One local run's async machinery: a producer, ``fetch_workers`` fetchers, one writer."""

    def __init__(
        self, ledger: Ledger, settings: Settings, store: ContentStore, report: FetchReport,
        *, retry: bool, limit: int | None,
    ) -> None:  # fmt: skip
        self.ledger, self.settings, self.store, self.report = ledger, settings, store, report
        self.retry, self.limit = retry, limit
        self.config = WorkerConfig.from_settings(settings)
        self.policy = self.config.policy
        self.pause = _PauseHook()
        self.pool = ThreadPoolExecutor(
            max_workers=min(8, available_cores() + 1), thread_name_prefix="fetch"
        )

    async def main(self, tick: Any, started: float) -> None:
        items: asyncio.Queue[tuple[int, str, str | None] | None] = asyncio.Queue(
            maxsize=self.policy.workers * 4
        )
        outcomes: asyncio.Queue[Outcome | None] = asyncio.Queue()
        async with make_client(self.policy) as client:
            self.fetcher = Fetcher(client, self.policy)
            self.tdmrep = TdmrepCache(
                self.fetcher, self.settings.data_dir / "cache" / "tdmrep",
                ttl_hours=self.settings.fetch_tdmrep_ttl, mirror=self.config.mirror,
            )  # fmt: skip
            workers = [
                asyncio.create_task(self._worker(items, outcomes))
                for _ in range(self.policy.workers)
            ]
            writer = asyncio.create_task(self._writer(outcomes, tick, started))
            try:
                await self._produce(items, outcomes)
                for _ in workers:
                    await items.put(None)
                await asyncio.gather(*workers)
                await outcomes.put(None)
                await writer
            finally:
                for task in (*workers, writer):
                    task.cancel()
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.report.tdmrep_reads = self.tdmrep.reads

    async def _produce(self, items: asyncio.Queue[Any], outcomes: asyncio.Queue[Any]) -> None:
        rows = _Pages(self.ledger, self.retry, self.limit)
        while (page := await asyncio.to_thread(rows.next_page)) is not None:
            for row, listed in page:
                if listed is not None:
                    await outcomes.put(listed)
                else:
                    await items.put((int(row.id), str(row.download_url), row.fetch_status))

    async def _worker(self, items: asyncio.Queue[Any], outcomes: asyncio.Queue[Any]) -> None:
        while (item := await items.get()) is not None:
            photo_id, url, prev = item
            outcome = await self._fetch_one(photo_id, url, prev)
            if outcome.kind != "fetched":  # a fetched outcome was journalled beside its bytes
                _journal(self.store, outcome)
            await outcomes.put(outcome)

    async def _fetch_one(self, photo_id: int, url: str, prev: str | None) -> Outcome:
        outcome, body = await _download(self.fetcher, self.tdmrep, self.config, photo_id, url, prev)
        if body is None:
            return outcome
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self._keep, outcome, url, body)

    def _keep(self, outcome: Outcome, url: str, body: bytes) -> Outcome:
        """Embedded signals, safe decode, the content store, the journal (runs in a thread)."""
        checked = _check_body(outcome, url, body, self.settings.max_image_pixels)
        return checked if checked.kind != "fetched" else _store_body(self.store, checked, body)

    async def _writer(self, outcomes: asyncio.Queue[Any], tick: Any, started: float) -> None:
        buffer: list[Outcome] = []
        last = time.monotonic()
        while True:
            outcome = await outcomes.get()
            if outcome is not None:
                buffer.append(outcome)
            if buffer and (
                outcome is None
                or len(buffer) >= self.pause.room(self.report)
                or time.monotonic() - last >= _FLUSH_SECONDS
            ):
                await asyncio.to_thread(_flush, self.ledger, buffer, self.report)
                _tick(tick, len(buffer), self.report, started)
                buffer, last = [], time.monotonic()
                self.pause(self.report)  # blocks the loop: a true pause
            if outcome is None:
                return


class _Pages:
    """The fetchable photos, a page at a time in id order (at most ``limit``); each row with
    the ``reserved`` outcome an imported opt-out list gives it, or None."""

    def __init__(self, ledger: Ledger, retry: bool, limit: int | None) -> None:
        self.ledger, self.retry, self.limit = ledger, retry, limit
        self.last, self.given = 0, 0

    def next_page(self) -> list[tuple[Any, Outcome | None]] | None:
        if self.limit is not None and self.given >= self.limit:
            return None
        with self.ledger.read() as conn:
            page = conn.execute(
                select(PHOTOS.c.id, PHOTOS.c.download_url, PHOTOS.c.page_url, PHOTOS.c.owner_id,
                       PHOTOS.c.fetch_status)
                .where(_candidates(self.retry), PHOTOS.c.id > self.last)
                .order_by(PHOTOS.c.id).limit(_PAGE)
            ).all()  # fmt: skip
            listed = listed_reservations(conn, page) if page else {}
        if not page:
            return None
        self.last = int(page[-1].id)
        if self.limit is not None:
            page = page[: self.limit - self.given]
        self.given += len(page)
        return [
            (row, Outcome(int(row.id), "reserved", prev=row.fetch_status,
                          reservation=listed[row.id].to_dict()) if row.id in listed else None)
            for row in page
        ]  # fmt: skip
