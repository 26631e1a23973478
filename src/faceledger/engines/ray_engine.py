"""Scale-out with Ray: the same ``map_unordered`` as the local engines, on Ray actors.

Example::

    engine = RayEngine(workers=8, initializer=init_worker, initargs=(config,),
                       address="head:6379")   # or None: a local Ray on this machine
    for result in engine.map_unordered(scan_photo, items):
        ...
    engine.close()

Each actor (one CPU) runs ``initializer`` once (the model loads once per actor), then takes
items, at most :data:`IN_FLIGHT_PER_ACTOR` at a time so it never waits on the driver.

What runs where (see docs/scale.md):

- **Workers never read the driver's disk.** ``shares_files`` is false, so the services send
  each photo's *bytes* (read by the driver from the content-addressed image store or the
  ingested folder) as the item; Ray moves them through its object store to whichever node
  runs the actor. A real cluster shares no disks, so a path would mean nothing there.
- **The driver stays the single writer of the ledger.** Workers return plain values; the
  driver writes them in its own transactions, each guarded so that a photo is written once,
  with its completion mark in the same transaction. Workers need no database access, no
  credentials and no keys, and a worker that dies mid-item leaves nothing half-written.
- **A lost node is survivable.** An item whose actor died (its node was killed, its raylet
  crashed) is given to a surviving actor; ``workers_lost`` and ``resubmitted`` count this.
  Only when every actor is gone does :class:`~faceledger.errors.WorkersLost` reach the driver.
  A failure *inside* ``fn`` (a bug, a bad item) is raised in the driver, as with the local
  pool.

**Work keyed by host** (``fetch``): :meth:`RayEngine.map_keyed` groups items by a key into
small batches and keeps every key on one actor (:class:`KeyedBatches`), so whatever that actor
enforces per key (the fetcher's per-host connection cap, delay and ``Retry-After``) holds for
the whole cluster. Built with ``asynchronous=True``, each actor runs an asyncio loop and its
batches run concurrently on it (``fn`` may be a coroutine function).

With ``address`` (``host:port`` of a running cluster's head, or ``auto``) the engine joins
that cluster and uses at most the cluster's CPUs; without it a local Ray is started with
``workers`` CPUs, no dashboard, and its session files in a private temporary folder that is
removed on ``close()``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import shutil
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from faceledger.errors import ConfigError, WorkersLost

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
A = TypeVar("A", bound=Hashable)

IN_FLIGHT_PER_ACTOR = 2
_log = logging.getLogger(__name__)


class _Worker:
    """The actor body: initialise once, then apply a function to items."""

    def __init__(self, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
        if initializer is not None:
            initializer(*initargs)

    def run(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return fn(item)

    def node(self) -> str:
        import ray

        return str(ray.get_runtime_context().get_node_id())


class _AsyncWorker(_Worker):
    """The actor body for ``asynchronous=True``: one asyncio loop per actor, calls run
    concurrently on it (state such as an HTTP client lives across calls)."""

    async def run(self, fn: Callable[[Any], Any], item: Any) -> Any:
        result = fn(item)
        if inspect.isawaitable(result):
            result = await result
        return result


class KeyedBatches(Generic[K, T, A]):
    """Which batch goes to which actor next, for work keyed by (say) host. Pure: no Ray.

    - a key sticks to the actor it was first given to (the one owning fewest keys) until that
      actor is lost; then its items go back to the front of its queue and it moves;
    - at most ``per_key`` batches of one key, and ``per_actor`` batches on one actor, in flight;
    - a batch holds at most ``batch`` items of one key, oldest first; keys are served in the
      order they first appeared.

    Example::

        plan = KeyedBatches(["a1", "a2"], batch=4, per_key=2, per_actor=2)
        plan.put("host-1", item)
        actor, key, items = plan.take()      # or None: nothing may start now
        plan.finished(actor, key)            # or plan.lose(actor); plan.put_back(key, items)
    """

    def __init__(self, actors: Iterable[A], *, batch: int, per_key: int, per_actor: int) -> None:
        if min(batch, per_key, per_actor) < 1:
            raise ValueError("batch, per_key and per_actor must be at least 1")
        self.actors = list(actors)
        self.batch, self.per_key, self.per_actor = batch, per_key, per_actor
        self.queues: dict[K, deque[T]] = {}
        self.owner: dict[K, A] = {}
        self.keys_of: Counter[A] = Counter()
        self.in_flight: Counter[K] = Counter()
        self.load: Counter[A] = Counter()
        self.waiting = 0  # items queued, not yet in a batch

    def put(self, key: K, item: T) -> None:
        self.queues.setdefault(key, deque()).append(item)
        self.waiting += 1

    def put_back(self, key: K, items: list[T]) -> None:
        """A batch that never came back (its actor was lost): first in line again."""
        self.queues.setdefault(key, deque()).extendleft(reversed(items))
        self.waiting += len(items)
        self.in_flight[key] -= 1

    def take(self) -> tuple[A, K, list[T]] | None:
        for key, queue in self.queues.items():
            if not queue or self.in_flight[key] >= self.per_key:
                continue
            actor = self.owner.get(key)
            if actor is None:
                free = [a for a in self.actors if self.load[a] < self.per_actor]
                if not free:
                    return None
                actor = min(free, key=lambda a: (self.keys_of[a], self.load[a]))
                self.owner[key] = actor
                self.keys_of[actor] += 1
            if self.load[actor] >= self.per_actor:
                continue
            items = [queue.popleft() for _ in range(min(self.batch, len(queue)))]
            self.waiting -= len(items)
            self.in_flight[key] += 1
            self.load[actor] += 1
            if not queue:
                del self.queues[key]
            return actor, key, items
        return None

    def finished(self, actor: A, key: K) -> None:
        self.in_flight[key] -= 1
        self.load[actor] -= 1

    def lose(self, actor: A) -> None:
        """``actor`` is gone: its keys go to the actors left (when their next batch starts)."""
        if actor in self.actors:
            self.actors.remove(actor)
        for key in [k for k, a in self.owner.items() if a == actor]:
            del self.owner[key]
        self.keys_of.pop(actor, None)
        self.load.pop(actor, None)


class RayEngine:
    """``workers`` Ray actors; see the module docs."""

    shares_files = False  # items must carry bytes, not paths on the driver's disk

    def __init__(
        self,
        workers: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        address: str | None = None,
        asynchronous: bool = False,
    ) -> None:
        try:
            import ray
            from ray.exceptions import ObjectLostError, RayActorError
        except ImportError:
            raise ConfigError(
                "setting 'engine' is 'ray' but Ray is not installed: pip install 'faceledger[ray]'"
            ) from None
        self._ray = ray
        self._lost_errors: tuple[type[BaseException], ...] = (RayActorError, ObjectLostError)
        self._temp_dir: str | None = None
        self._owns_ray = not ray.is_initialized()
        self.workers_lost = 0
        self.resubmitted = 0
        if self._owns_ray:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "configure_logging": False}  # fmt: skip
            if not address or address.split(":")[0] in ("127.0.0.1", "localhost"):
                options["_node_ip_address"] = "127.0.0.1"  # a local cluster stays on loopback
            if address:
                options["address"] = address
            else:
                self._temp_dir = tempfile.mkdtemp(prefix="faceledger-ray-")
                options.update(num_cpus=workers, _temp_dir=self._temp_dir)
            try:
                ray.init(**options)
            except Exception as exc:
                self._cleanup()
                raise ConfigError(
                    f"cannot start or reach Ray (setting 'ray_address' = {address or 'unset: local'}): {exc}"
                ) from None
        _cluster_errors_to_stderr()
        cpus = int(ray.cluster_resources().get("CPU", 0))  # type: ignore[no-untyped-call]
        if cpus < 1:
            self.close()
            raise ConfigError(f"the Ray cluster at {address or 'local'} has no CPUs for workers")
        if workers > cpus:  # an actor that can never be placed would hold its items forever
            _log.warning("Ray cluster has %d CPUs: using %d workers, not %d", cpus, cpus, workers)
            workers = cpus
        self.workers = workers
        body = _AsyncWorker if asynchronous else _Worker
        actor = ray.remote(num_cpus=1, max_restarts=0)(body)
        self._actors: list[Any] = [actor.remote(initializer, initargs) for _ in range(workers)]

    def nodes(self) -> list[str]:
        """The Ray node id each live actor runs on (waits for every actor to start)."""
        return list(self._ray.get([a.node.remote() for a in self._actors]))

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        ray = self._ray
        iterator = iter(items)
        retry: deque[T] = deque()
        pending: dict[Any, tuple[Any, T]] = {}  # result ref -> (actor, item)
        load: dict[Any, int] = {a: 0 for a in self._actors}
        exhausted = False
        while True:
            while retry or not exhausted:
                actor = min(self._actors, key=lambda a: load[a], default=None)
                if actor is None or load[actor] >= IN_FLIGHT_PER_ACTOR:
                    break
                if retry:
                    item = retry.popleft()
                else:
                    try:
                        item = next(iterator)
                    except StopIteration:
                        exhausted = True
                        break
                pending[actor.run.remote(fn, item)] = (actor, item)
                load[actor] += 1
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                actor, item = pending.pop(ref)
                load[actor] = load.get(actor, 1) - 1
                try:
                    result = ray.get(ref)
                except self._lost_errors as exc:
                    self._lose(actor, exc)
                    retry.append(item)
                    self.resubmitted += 1
                    continue
                yield result

    def map_keyed(
        self, fn: Callable[[list[T]], Any], items: Iterable[tuple[K, T]], *, batch: int,
        per_key: int = 1, per_actor: int = IN_FLIGHT_PER_ACTOR, lookahead: int = 1000,
    ) -> Iterator[Any]:  # fmt: skip
        """``fn(batch)`` (awaited on an asynchronous engine's actors) for batches of the
        ``(key, item)`` items of one key, as they finish, planned by :class:`KeyedBatches`; at
        most ``lookahead`` items read ahead of those in flight. A batch whose actor was lost
        is given, whole, to the actor its key moves to."""
        ray = self._ray
        plan: KeyedBatches[K, T, Any] = KeyedBatches(
            self._actors, batch=batch, per_key=per_key, per_actor=per_actor
        )
        iterator, exhausted = iter(items), False
        pending: dict[Any, tuple[Any, K, list[T]]] = {}  # result ref -> (actor, key, batch)
        while True:
            while not exhausted and plan.waiting < lookahead:
                try:
                    key, item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                plan.put(key, item)
            while (job := plan.take()) is not None:
                pending[job[0].run.remote(fn, job[2])] = job
            if not pending:
                if exhausted and not plan.waiting:
                    return
                raise RuntimeError("keyed batches waiting with nothing in flight")  # a bug
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                actor, key, chunk = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except self._lost_errors as exc:
                    plan.lose(actor)
                    plan.put_back(key, chunk)
                    self.resubmitted += len(chunk)
                    self._lose(actor, exc)
                    continue
                plan.finished(actor, key)
                yield result

    def _lose(self, actor: Any, exc: BaseException) -> None:
        """An actor died (its node is gone): drop it; fail only when none is left."""
        if actor in self._actors:
            self._actors.remove(actor)
            self.workers_lost += 1
            _log.warning("a Ray worker was lost (%s); its items go to the %d left",
                         type(exc).__name__, len(self._actors))  # fmt: skip
            with contextlib.suppress(Exception):  # already dead is fine
                self._ray.kill(actor)
        if not self._actors:
            raise WorkersLost(
                f"every Ray worker was lost ({self.workers_lost}); the last error: {exc}. "
                "What was written is kept: run the command again once the cluster is back."
            ) from None

    def close(self) -> None:
        for actor in getattr(self, "_actors", []):
            with contextlib.suppress(Exception):  # a lost actor cannot be killed twice
                self._ray.kill(actor)
        self._actors = []
        if self._owns_ray:
            self._ray.shutdown()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None


def _cluster_errors_to_stderr() -> None:
    """Ray's driver prints the cluster's error messages ("(raylet) Raylet is terminated..."
    when a node dies) to *stdout*, which would corrupt a ``--json`` document there: send them
    to stderr, where the rest of Ray's output goes."""
    with contextlib.suppress(ImportError, AttributeError):  # another Ray: leave it be
        from ray._private import worker

        original = worker.print_to_stdstream
        if getattr(original, "_faceledger", False):
            return

        def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
            original({**data, "is_err": True}, ignore_prefix)

        to_stderr._faceledger = True  # type: ignore[attr-defined]
        worker.print_to_stdstream = to_stderr
