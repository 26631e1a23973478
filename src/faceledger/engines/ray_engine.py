"""Scale-out with Ray: the same ``map_unordered`` as the local engines, on Ray actors.

Example::

    engine = RayEngine(workers=8, initializer=init_worker, initargs=(config,),
                       address="ray://head:10001")   # or None: a local Ray on this machine
    for result in engine.map_unordered(scan_photo, items):
        ...
    engine.close()

Each actor runs ``initializer`` once (the model loads once per actor), then takes items; an
:class:`~ray.util.ActorPool` keeps every actor busy with one item at a time. Results come back
to the driver, which stays the single writer of the ledger, so the workers never need database
access: they read image files, so on a cluster those paths must be visible to every node
(shared storage). A failure in a worker is raised in the driver, as with the local pool.

Without ``address`` a local Ray is started with ``workers`` CPUs, no dashboard, and its
session files in a private temporary folder that is removed on ``close()``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from faceledger.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")


class _Worker:
    """The actor body: initialise once, then apply a function to items."""

    def __init__(self, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
        if initializer is not None:
            initializer(*initargs)

    def run(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return fn(item)


class RayEngine:
    """``workers`` Ray actors; see the module docs."""

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
            from ray.util import ActorPool
        except ImportError:
            raise ConfigError(
                "setting 'engine' is 'ray' but Ray is not installed: pip install 'faceledger[ray]'"
            ) from None
        self.workers = workers
        self._ray = ray
        self._temp_dir: str | None = None
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "configure_logging": False}  # fmt: skip
            if address:
                options["address"] = address
            else:
                self._temp_dir = tempfile.mkdtemp(prefix="faceledger-ray-")
                options.update(num_cpus=workers, _temp_dir=self._temp_dir)
            try:
                ray.init(**options)
            except Exception as exc:
                self._cleanup()
                raise ConfigError(f"cannot start or reach Ray ({address or 'local'}): {exc}") from None
        actor = ray.remote(num_cpus=1)(_Worker)
        self._actors = [actor.remote(initializer, initargs) for _ in range(workers)]
        self._pool = ActorPool(self._actors)

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        yield from self._pool.map_unordered(lambda actor, item: actor.run.remote(fn, item), items)

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._owns_ray:
            self._ray.shutdown()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
