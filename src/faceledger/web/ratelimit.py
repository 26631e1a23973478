"""A per-client token bucket: ``rate`` requests a minute, bursts of ``burst``.

In-process and in memory: each portal process limits on its own (run one process, or put a
shared limiter in front when scaling out). Clients are keyed by the socket's peer address;
``X-Forwarded-For`` is not trusted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``allow(key)`` is True while ``key`` has a token left; tokens refill continuously."""

    def __init__(
        self, *, rate_per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:  # fmt: skip
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self.max_keys:  # forget the fullest (idle) buckets
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst - 1}
        return allowed

    def retry_after(self) -> int:
        """Seconds until one token is back."""
        return max(1, int(1.0 / self.rate + 0.999))


class AuditBudget:
    """Audited anonymous actions allowed in each clock hour (this process): anonymous portal
    traffic must not grow the audit log without bound.

    ``take()`` spends one or raises 503 with ``Retry-After`` (seconds to the next hour) when
    this hour's are spent: for actions whose audit events are a must (a selfie search, an owner
    verification, a filed request), the action waits rather than go unaudited. Failed console
    logins past the budget are only counted (``note_unaudited``) and written as one summary
    event per hour (``pop_unaudited``).
    """

    def __init__(self, per_hour: int, *, clock: Callable[[], float] = time.time) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self._hour = -1
        self._spent = 0
        self._unaudited = 0
        self._unaudited_hour = -1
        self._lock = threading.Lock()

    def _roll(self, now: float) -> None:
        hour = int(now // 3600)
        if hour != self._hour:
            self._hour, self._spent = hour, 0

    def try_take(self) -> bool:
        with self._lock:
            self._roll(self.clock())
            if self._spent >= self.per_hour:
                return False
            self._spent += 1
            return True

    def retry_after(self) -> int:
        now = self.clock()
        return max(1, int(3600 - now % 3600))

    def take(self) -> None:
        from fastapi import HTTPException

        if not self.try_take():
            raise HTTPException(
                503, "the portal has answered too many anonymous requests this hour: try again later",
                headers={"Retry-After": str(self.retry_after())},
            )  # fmt: skip

    def note_unaudited(self) -> None:
        """One failed login that was not written to the audit log on its own."""
        with self._lock:
            if self._unaudited == 0:
                self._unaudited_hour = int(self.clock() // 3600)
            self._unaudited += 1

    def pop_unaudited(self, *, force: bool = False) -> tuple[int, int] | None:
        """``(count, hour)`` of failed logins not yet audited, once their hour is over (or now,
        with ``force``, e.g. at shutdown); ``None`` when there are none to write yet."""
        with self._lock:
            if not self._unaudited:
                return None
            if not force and int(self.clock() // 3600) == self._unaudited_hour:
                return None
            found = (self._unaudited, self._unaudited_hour)
            self._unaudited = 0
            return found
