"""Fetch on Ray: actors download, the driver writes (``engine = "ray"``; see docs/scale.md).

Example (what :func:`~faceledger.services.collection.fetch.fetch_pending` does)::

    RayRun(ledger, settings, store, report, retry=False, limit=None).main(tick, started)

Steps 2-5 of :mod:`faceledger.services.collection.fetch` run on Ray actors across the
cluster's nodes (:func:`fetch_batch`): the driver reads the ledger, applies the opt-out lists,
hands each actor batches of URLs of *its* hosts (a host stays on one actor, see
:class:`~faceledger.engines.ray_engine.KeyedBatches`, so the per-host limits of
:class:`~faceledger.services.collection.fetch_http.Fetcher` hold cluster-wide) and gets back
outcomes and bytes; it alone writes the content store, the journal and the ledger. A batch
lost with its node is fetched again by another actor; nothing of it was written.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from faceledger.config import Settings
from faceledger.services.collection.content_store import ContentStore
from faceledger.services.collection.fetch import (
    _FLUSH_SECONDS,
    _PAGE,
    FetchReport,
    Outcome,
    WorkerConfig,
    _check_body,
    _download,
    _flush,
    _journal,
    _Pages,
    _PauseHook,
    _store_body,
    _tick,
)
from faceledger.services.collection.fetch_http import Fetcher, make_client
from faceledger.services.collection.tdmrep import TdmrepCache, origin_of
from faceledger.store import Ledger

_PER_HOST_BATCHES = 2  # batches of one host in flight (both on the host's actor)
RemoteItem = tuple[int, str, str | None, dict[str, Any] | None]  # id, url, prev, TDMRep entry
_actor: dict[str, Any] = {}  # one Ray actor's state (module-level: it lives in the actor)


class _MemoryTdmrep(TdmrepCache):
    """TDMRep entries in memory only: on an actor, the driver keeps the cache files."""

    def _load(self, origin: str) -> dict[str, Any] | None:
        return None

    def _store(self, origin: str, entry: dict[str, Any]) -> None:
        return None


def init_fetch_worker(config: WorkerConfig) -> None:
    """Runs once in each actor: remember the config (the HTTP client starts on first use,
    inside the actor's event loop)."""
    _actor.clear()
    _actor["config"] = config
    _actor["token"] = uuid.uuid4().hex


async def close_fetch_worker() -> None:
    """Close this actor's HTTP client (in-process use; an actor's process simply ends)."""
    fetcher = _actor.pop("fetcher", None)
    if fetcher is not None:
        await fetcher.client.aclose()


async def fetch_batch(
    items: list[RemoteItem],
) -> tuple[list[tuple[Outcome, bytes | None]], dict[str, dict[str, Any]], tuple[str, int]]:
    """On a Ray actor: steps 2-5 for a batch of URLs of one host. Returns their outcomes, each
    with the checked bytes to keep (or None), the TDMRep entries the actor holds for origins
    the driver did not send (for the driver's cache) and (actor, well-known files requested
    so far). Writes nothing outside the actor."""
    config: WorkerConfig = _actor["config"]
    if "fetcher" not in _actor:  # one client, fetcher and TDMRep memory per actor, all batches
        _actor["fetcher"] = Fetcher(make_client(config.policy), config.policy)
        _actor["tdmrep"] = _MemoryTdmrep(
            _actor["fetcher"], Path(), ttl_hours=config.tdmrep_ttl, mirror=config.mirror
        )
        _actor["slots"] = asyncio.Semaphore(config.policy.workers)
    tdmrep: TdmrepCache = _actor["tdmrep"]
    for _, url, _, entry in items:
        if entry is not None:  # the driver's cached entry: no request for it here
            tdmrep.seed(origin_of(url), entry)

    async def one(item: RemoteItem) -> tuple[Outcome, bytes | None]:
        photo_id, url, prev, _ = item
        async with _actor["slots"]:
            outcome, body = await _download(_actor["fetcher"], tdmrep, config, photo_id, url, prev)
            if body is None:
                return outcome, None
            checked = await asyncio.to_thread(_check_body, outcome, url, body, config.max_pixels)
            return checked, body if checked.kind == "fetched" else None

    results = await asyncio.gather(*(one(item) for item in items))
    read = {
        origin: entry
        for origin in {origin_of(item[1]) for item in items if item[3] is None}
        if (entry := tdmrep.held(origin)) is not None and entry["state"] != "unreachable"
    }
    return list(results), read, (_actor["token"], tdmrep.reads)


class RayRun:
    """One run on Ray (see the module docs): a synchronous driver loop around
    :meth:`~faceledger.engines.ray_engine.RayEngine.map_keyed`, keyed by host."""

    def __init__(
        self, ledger: Ledger, settings: Settings, store: ContentStore, report: FetchReport,
        *, retry: bool, limit: int | None,
    ) -> None:  # fmt: skip
        self.ledger, self.settings, self.store, self.report = ledger, settings, store, report
        self.pages = _Pages(ledger, retry, limit)
        self.config = WorkerConfig.from_settings(settings)
        self.pause = _PauseHook()
        self.listed: list[Outcome] = []
        self.known: dict[str, dict[str, Any] | None] = {}  # origin -> TDMRep entry to seed
        # the driver's TDMRep cache, for reading and writing its files only (never fetches)
        self.cache = TdmrepCache(
            cast(Fetcher, None), settings.data_dir / "cache" / "tdmrep",
            ttl_hours=settings.fetch_tdmrep_ttl,
        )  # fmt: skip

    def _items(self) -> Iterator[tuple[str, RemoteItem]]:
        while (page := self.pages.next_page()) is not None:
            for row, listed in page:
                if listed is not None:  # decided by the ledger: a rerun decides it again
                    self.listed.append(listed)
                    continue
                url = str(row.download_url)
                yield self.config.host_of(url), (int(row.id), url, row.fetch_status,
                                                 self._seed(origin_of(url)))  # fmt: skip

    def _seed(self, origin: str) -> dict[str, Any] | None:
        if origin not in self.known:
            self.known[origin] = self.cache.stored(origin)
        return self.known[origin]

    def main(self, tick: Any, started: float) -> None:
        from faceledger.engines.ray_engine import RayEngine

        policy = self.config.policy
        engine = RayEngine(
            self.settings.workers, init_fetch_worker, (self.config,),
            address=self.settings.ray_address, asynchronous=True,
        )  # fmt: skip
        batch = max(2, 2 * policy.per_host)  # enough to keep a host's connections busy
        per_actor = max(2, -(-2 * policy.workers // batch))  # about 2 x fetch_workers queued
        buffer: list[Outcome] = []
        reads_by_actor: dict[str, int] = {}
        last = time.monotonic()
        try:
            results = engine.map_keyed(
                fetch_batch, self._items(), batch=batch, per_key=_PER_HOST_BATCHES,
                per_actor=per_actor, lookahead=max(_PAGE, 4 * batch * per_actor * engine.workers),
            )  # fmt: skip
            batch_result: tuple[list[tuple[Outcome, bytes | None]], dict[str, Any], tuple[str, int]]
            for batch_result in results:
                outcomes, read, (actor, reads) = batch_result
                reads_by_actor[actor] = max(reads, reads_by_actor.get(actor, 0))
                self.report.tdmrep_reads = sum(reads_by_actor.values())
                for origin, entry in read.items():
                    if self.known.get(origin) is None:
                        self.cache.save(origin, entry)  # the driver writes the cache files
                        self.known[origin] = entry
                for outcome, body in outcomes:
                    if body is not None:
                        buffer.append(_store_body(self.store, outcome, body))
                    else:
                        _journal(self.store, outcome)
                        buffer.append(outcome)
                buffer += self.listed
                self.listed.clear()
                self.report.workers_lost = engine.workers_lost
                while len(buffer) >= self.pause.room(self.report) or (
                    buffer and time.monotonic() - last >= _FLUSH_SECONDS
                ):
                    last = self._commit(buffer, tick, started)
            buffer += self.listed
            while buffer:
                self._commit(buffer, tick, started)
        finally:
            self.report.workers_lost = engine.workers_lost
            engine.close()

    def _commit(self, buffer: list[Outcome], tick: Any, started: float) -> float:
        """Commit the first outcomes of ``buffer`` (as many as the pause hook allows)."""
        chunk = buffer[: self.pause.room(self.report)]
        del buffer[: len(chunk)]
        _flush(self.ledger, chunk, self.report)
        _tick(tick, len(chunk), self.report, started)
        self.pause(self.report)
        return time.monotonic()
