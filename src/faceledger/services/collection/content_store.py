"""A content-addressed store for fetched image bytes, and the fetch journal beside it.

Example::

    store = ContentStore(settings.data_dir / "images")
    path, new = store.put(body, digest)   # <root>/ab/cd/<sha256>; identical bytes stored once
    store.journal_open(); store.journal_write(photo_id, {...})  # before the ledger commits it

Every file is written atomically: into ``<root>/.tmp/``, then linked into place, so a file
under its hash is always complete (against a killed process; like the ledger's SQLite
``synchronous=NORMAL``, a power cut may lose the last writes: ``scan`` then reports the photo
``truncated``). A file already present under a hash is reused,
never rewritten. The journal (``<root>/.journal/run-*.jsonl``, one line per photo) records a
finished fetch until its ledger transaction commits; a run killed in between (SIGKILL
included) leaves the file behind, and the next run commits its entries without downloading
those photos again.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class ContentStore:
    """Files under ``root`` named by the sha256 of their bytes (see module docs)."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self._tmp = self.root / ".tmp"
        self._journal = self.root / ".journal"

    def open(self) -> None:
        """Create the folders and drop half-written files a killed run left behind."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._journal.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.iterdir():
            leftover.unlink(missing_ok=True)

    def path_for(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes, digest: str) -> tuple[Path, bool]:
        """Store ``data`` (whose sha256 is ``digest``); returns its path and whether it is new."""
        final = self.path_for(digest)
        if final.is_file() and final.stat().st_size == len(data):
            return final, False
        final.parent.mkdir(parents=True, exist_ok=True)
        return final, self._atomic_write(final, data, durable=False, exclusive=True)

    def holds(self, digest: str, size: int) -> bool:
        path = self.path_for(digest)
        return path.is_file() and path.stat().st_size == size

    def _atomic_write(
        self, final: Path, data: bytes, *, durable: bool, exclusive: bool = False
    ) -> bool:
        """Write ``data`` to ``final`` atomically. ``exclusive``: never replace an existing
        file (two workers storing the same bytes at once: one wins, the other reuses it);
        returns whether this call created the file."""
        tmp = self._tmp / f"{uuid.uuid4().hex}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            if not exclusive:
                os.replace(tmp, final)
                return True
            try:
                os.link(tmp, final)  # atomic and exclusive: fails if the hash is already stored
            except FileExistsError:
                return False
            finally:
                tmp.unlink(missing_ok=True)
            return True
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # --- the journal -----------------------------------------------------------------------

    def journal_open(self) -> None:
        """Start this run's journal: one append-only JSON Lines file (one write per photo)."""
        name = self._journal / f"run-{uuid.uuid4().hex}.jsonl"
        self._journal_fd: int | None = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._journal_path: Path | None = name

    def journal_write(self, photo_id: int, entry: dict[str, Any]) -> None:
        """Append one entry in a single write (O_APPEND: entries from threads never interleave)."""
        line = json.dumps({"photo_id": photo_id, **entry}, default=str, separators=(",", ":"))
        if self._journal_fd is None:
            raise RuntimeError("journal_write before journal_open")
        os.write(self._journal_fd, line.encode() + b"\n")

    def journal_close(self, *, remove: bool) -> None:
        """End this run's journal; ``remove`` it once everything in it is in the ledger (else
        the next run recovers from it)."""
        fd, path = getattr(self, "_journal_fd", None), getattr(self, "_journal_path", None)
        if fd is not None:
            os.close(fd)
        if remove and path is not None:
            path.unlink(missing_ok=True)
        self._journal_fd = self._journal_path = None

    def journal_files(self) -> list[Path]:
        return sorted(self._journal.glob("run-*.jsonl")) if self._journal.is_dir() else []

    def journal_entries(self) -> Iterator[dict[str, Any]]:
        """Every readable entry of earlier runs' journals; a line cut short by a kill is skipped
        (its photo is simply fetched again)."""
        for path in self.journal_files():
            try:
                text = path.read_bytes()
            except OSError:
                continue
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    yield entry
