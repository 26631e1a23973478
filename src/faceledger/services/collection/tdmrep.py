"""Each origin's ``/.well-known/tdmrep.json`` (TDMRep), read once and cached with an expiry.

Example::

    cache = TdmrepCache(fetcher, settings.data_dir / "cache" / "tdmrep", ttl_hours=24)
    reservation = await cache.reservation_for("https://example.org/photos/1.jpg")

Fail closed: a file that does not parse reserves every resource of its origin
(``tdmrep-unreadable``), and so does one that cannot be reached (``tdmrep-unreachable``: a
timeout, a 5xx after retries, a 401/403, a refused address). Only 404 and 410 mean "this
origin publishes no rules". Parsed files, and their absence, are cached on disk for
``ttl_hours``; an unreachable origin is remembered for this run only, so a later run
(``fetch --retry``) asks again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from faceledger.core.signals import Reservation, TdmrepRules
from faceledger.errors import FetchFailure
from faceledger.services.collection.fetch_http import Fetcher

WELL_KNOWN = "/.well-known/tdmrep.json"
MAX_BYTES = 1_000_000
_ABSENT = ("http-404", "http-410")
_NOT_OURS = ("ssrf-refused", "bad-url", "dns-error")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class TdmrepCache:
    """Per-origin TDMRep rules (see module docs). ``mirror`` maps a URL to where it is read."""

    def __init__(
        self,
        fetcher: Fetcher,
        folder: Path,
        *,
        ttl_hours: float,
        mirror: Callable[[str], str] = lambda url: url,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fetcher, self.folder, self.ttl = fetcher, folder, ttl_hours * 3600.0
        self.mirror, self.clock = mirror, clock
        self._memory: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.reads = 0  # well-known files requested this run (for tests and reports)

    async def reservation_for(self, url: str) -> Reservation | None:
        origin = origin_of(url)
        entry = await self._entry(origin)
        file_url = origin + WELL_KNOWN
        state = entry["state"]
        if state == "absent":
            return None
        if state == "rules":
            rules = TdmrepRules.parse(json.dumps(entry["rules"]))
            parts = urlsplit(url)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            return rules.reservation_for(path, file_url=file_url)
        return Reservation(
            f"tdmrep-{state}",
            {"file": file_url, "detail": entry.get("detail"),
             "rule": f"a tdmrep.json that is {state} is a reservation"},
        )  # fmt: skip

    def stored(self, origin: str) -> dict[str, Any] | None:
        """The entry the cache folder holds for ``origin`` while it is fresh (younger than
        ``ttl_hours``), without its ``origin`` key; else None. Requests nothing."""
        entry = self._load(origin)
        if entry is None or self.clock() - float(entry["at"]) >= self.ttl:
            return None
        return {k: v for k, v in entry.items() if k != "origin"}

    def save(self, origin: str, entry: dict[str, Any]) -> None:
        """Write an entry read elsewhere (by a Ray actor, say) to the cache folder."""
        self._store(origin, entry)

    def seed(self, origin: str, entry: dict[str, Any]) -> None:
        """Use an entry read elsewhere (a driver's :meth:`stored`) for ``origin`` this run,
        unless one is already held: that origin's file is then not requested."""
        self._memory.setdefault(origin, entry)

    def held(self, origin: str) -> dict[str, Any] | None:
        """The entry held in memory for ``origin`` (read or seeded this run), or None."""
        return self._memory.get(origin)

    async def _entry(self, origin: str) -> dict[str, Any]:
        now = self.clock()
        cached = self._memory.get(origin) or self._load(origin)
        if cached is not None and (
            cached["state"] == "unreachable" or now - cached["at"] < self.ttl
        ):
            self._memory[origin] = cached
            return cached
        if origin in self._pending:  # another worker is reading it: share its answer
            return await self._pending[origin]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[origin] = future
        try:
            entry = await self._read(origin)
            self._memory[origin] = entry
            if entry["state"] != "unreachable":
                self._store(origin, entry)
            future.set_result(entry)
            return entry
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning if nobody else waits
            raise
        finally:
            del self._pending[origin]

    async def _read(self, origin: str) -> dict[str, Any]:
        self.reads += 1
        at = self.clock()
        try:
            got = await self.fetcher.get(
                self.mirror(origin + WELL_KNOWN), image=False, max_bytes=MAX_BYTES
            )
        except FetchFailure as exc:
            if exc.reason in _ABSENT:
                return {"state": "absent", "at": at}
            if exc.reason in _NOT_OURS:  # the photo's own URL fails the same way: say so
                raise
            return {"state": "unreachable", "at": at, "detail": f"{exc.reason}: {exc}"}
        try:
            text = (got.body or b"").decode("utf-8")
            rules = TdmrepRules.parse(text)
        except (UnicodeDecodeError, ValueError) as exc:
            return {"state": "unreadable", "at": at, "detail": str(exc)}
        return {
            "state": "rules", "at": at,
            "rules": [{"location": r.location, "tdm-reservation": int(r.reserved),
                       **({"tdm-policy": r.policy} if r.policy else {})} for r in rules.rules],
        }  # fmt: skip

    def _file(self, origin: str) -> Path:
        return self.folder / f"{hashlib.sha256(origin.encode()).hexdigest()[:32]}.json"

    def _load(self, origin: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._file(origin).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("origin") != origin or "at" not in entry:
            return None
        return entry

    def _store(self, origin: str, entry: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._file(origin).with_suffix(".tmp")
        tmp.write_text(json.dumps({"origin": origin, **entry}))
        tmp.replace(self._file(origin))
