"""A rich progress bar on stderr: count, rate, ETA and any counters the work reports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from faceledger.services.progress import Tick


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "items")
        return Text(f"{speed:,.1f} {unit}/s" if speed else f"- {unit}/s", style="cyan")


class _Counters(ProgressColumn):
    def render(self, task: Task) -> Text:
        counters = task.fields.get("counters") or {}
        return Text("  ".join(f"{k}={v:,}" for k, v in counters.items()), style="green")


class RichProgress:
    """Implements :class:`faceledger.services.progress.Progress` for the terminal."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    @contextmanager
    def task(self, name: str, *, total: int | None, unit: str) -> Iterator[Tick]:
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(),
            _Counters(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.console, transient=False) as bar:
            task_id = bar.add_task(name, total=total, unit=unit, counters={})

            def tick(n: int = 1, **counters: Any) -> None:
                bar.update(task_id, advance=n, counters=counters or None)

            yield tick
