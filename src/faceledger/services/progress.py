"""How long work reports progress without knowing who is watching (a terminal, a log, a test).

Example::

    with progress.task("scan", total=1200, unit="photos") as tick:
        tick(1, faces=3)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Tick = Callable[..., None]


class Progress(Protocol):
    """A sink for progress: one task at a time, advanced by ``tick(n, **counters)``."""

    def task(self, name: str, *, total: int | None, unit: str) -> AbstractContextManager[Tick]: ...


class NoProgress:
    """Reports nothing (library use, tests)."""

    @contextmanager
    def task(self, name: str, *, total: int | None, unit: str) -> Iterator[Tick]:
        yield lambda n=1, **counters: None
