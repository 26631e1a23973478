"""Local engines: in-process and a pool of worker processes.

Example::

    engine = make_engine(workers=2, initializer=load_model, initargs=(cfg,))
    for result in engine.map_unordered(work_on, items):
        ...
    engine.close()

Workers are started with ``spawn`` so no database connection or model session is copied from
the driver; each worker runs ``initializer`` once (load the model), then takes items. A worker
ends as soon as its driver is gone, even one killed with SIGKILL (an OOM kill, ``kill -9``):
otherwise it would wait for work forever, holding its loaded model. It writes nothing but its
results, which only the driver keeps, so nothing is lost by ending it at once.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Engine(Protocol):
    workers: int
    shares_files: bool  # False: workers cannot read the driver's files; send bytes, not paths

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class InProcess:
    """Runs everything in the calling process (workers = 1)."""

    workers = 1
    shares_files = True

    def __init__(
        self, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
    ):
        if initializer is not None:
            initializer(*initargs)

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        return None


class ProcessPool:
    """A pool of ``workers`` processes; at most ``2 * workers`` items in flight."""

    shares_files = True

    def __init__(
        self,
        workers: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(initializer, initargs),
        )

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        pending: set[Future[R]] = set()
        iterator = iter(items)
        limit = 2 * self.workers
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < limit:
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                pending.add(self._pool.submit(fn, item))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def watch_parent(on_end: Callable[[], None]) -> None:
    """In a process started by :mod:`multiprocessing`: call ``on_end`` on a daemon thread as
    soon as the process that started this one has ended, even by SIGKILL (multiprocessing's
    parent sentinel becomes readable then). Does nothing in any other process."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        on_end()

    threading.Thread(target=watch, name="faceledger-parent-watch", daemon=True).start()


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """First in each pool worker: end it at once when the driver is gone (there is nobody
    left to give results to), then run ``initializer``."""
    watch_parent(lambda: os._exit(1))
    if initializer is not None:
        initializer(*initargs)


def make_engine(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    *,
    kind: str = "local",
    address: str | None = None,
) -> Engine:
    """The engine for the ``engine`` setting: ``local`` (in-process for one worker, else a
    process pool) or ``ray`` (Ray actors; a missing Ray is an error, never a silent fallback)."""
    if kind == "ray":
        from faceledger.engines.ray_engine import RayEngine

        return RayEngine(workers, initializer, initargs, address=address)
    if kind != "local":
        raise ValueError(f"unknown engine {kind!r}")
    if workers <= 1:
        return InProcess(initializer, initargs)
    return ProcessPool(workers, initializer, initargs)
