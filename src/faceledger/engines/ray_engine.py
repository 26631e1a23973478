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

With ``address`` (``host:port`` of a running cluster's head, or ``auto``) the engine joins
that cluster and uses at most the cluster's CPUs; without it a local Ray is started with
``workers`` CPUs, no dashboard, and its session files in a private temporary folder that is
removed on ``close()``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from faceledger.errors import ConfigError, WorkersLost

T = TypeVar("T")
R = TypeVar("R")

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
        cpus = int(ray.cluster_resources().get("CPU", 0))  # type: ignore[no-untyped-call]
        if cpus < 1:
            self.close()
            raise ConfigError(f"the Ray cluster at {address or 'local'} has no CPUs for workers")
        if workers > cpus:  # an actor that can never be placed would hold its items forever
            _log.warning("Ray cluster has %d CPUs: using %d workers, not %d", cpus, cpus, workers)
            workers = cpus
        self.workers = workers
        actor = ray.remote(num_cpus=1, max_restarts=0)(_Worker)
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
