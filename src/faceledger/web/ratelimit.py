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
