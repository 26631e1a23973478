"""Rate limits of the portal: a per-client token bucket (``rate`` requests a minute, bursts of
``burst``) and the hourly budget of audited anonymous actions.

Two kinds of each: in memory (:class:`TokenBucket`, :class:`AuditBudget`: one process, e.g. a
read-only ledger or a test with a fake clock) and in the ledger (:class:`SharedTokenBucket`,
:class:`SharedAuditBudget`, over :class:`LedgerBuckets`): the default, so that the processes of
``faceledger serve --workers N`` (or several hosts over one PostgreSQL ledger) enforce one limit
together, not one each. A shared bucket is one ``web_buckets`` row updated by a single atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (SQLite >= 3.35 and PostgreSQL), so two
processes can never both spend the last token. Clients are keyed by the socket's peer address
(``X-Forwarded-For`` only from ``web_trusted_proxies``); the ledger keeps an HMAC of the
address under the portal's secret, never the address.

Example::

    buckets = LedgerBuckets(ledger)
    limiter = SharedTokenBucket(buckets, secret=secret, rate_per_minute=60, burst=30)
    limiter.allow("203.0.113.9")        # True until the client's 30 are spent, then 1 a second
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import TextClause, text

if TYPE_CHECKING:
    from faceledger.store import Ledger


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


class LedgerBuckets:
    """The ``web_buckets`` table of a ledger: counters every portal process shares.

    Each call is one atomic upsert committed on its own (``Ledger.counting``), so concurrent
    processes (threads, workers, hosts) serialise on the row and never both spend its last
    token. Every ``prune_every`` calls a process deletes the rows that have expired (a full
    bucket, a past hour: deleting one changes no decision), so the table holds only recently
    active clients.
    """

    def __init__(self, ledger: Ledger, *, prune_every: int = 2000) -> None:
        self.ledger = ledger
        self.prune_every = prune_every
        self._calls = 0
        self._lock = threading.Lock()

    def _decide(self, statement: Any, params: dict[str, Any], now: float) -> bool:
        with self._lock:
            self._calls += 1
            prune = self.prune_every > 0 and self._calls % self.prune_every == 0
        with self.ledger.counting() as conn:  # one round trip on PostgreSQL
            allowed = bool(conn.execute(statement, params).scalar_one())
        if prune:
            with self.ledger.counting() as conn:
                conn.execute(_PRUNE, {"now": now})
        return allowed

    def take(self, key: str, *, rate: float, burst: float, now: float) -> bool:
        """Spend one token of the bucket ``key`` (``rate`` tokens a second refill it up to
        ``burst``; a new key starts full): True if there was one."""
        statement = _TAKE_PG if self.ledger.dialect == "postgresql" else _TAKE_SQLITE
        return self._decide(
            statement, {"key": key, "rate": float(rate), "burst": float(burst), "now": now}, now
        )

    def count(self, key: str, *, limit: int, now: float, expires: float) -> bool:
        """Add one to the counter ``key`` if it is below ``limit``: True if it was."""
        params = {"key": key, "limit": float(limit), "now": now, "expires": expires}
        return self._decide(_COUNT, params, now)


def _take_sql(least: str, greatest: str) -> TextClause:
    # All SET expressions read the row as it was before this statement (both backends).
    refilled = (
        f"{least}(:burst, web_buckets.tokens + {greatest}(0.0, :now - web_buckets.updated) * :rate)"
    )
    left = f"(CASE WHEN {refilled} >= 1.0 THEN {refilled} - 1.0 ELSE {refilled} END)"
    return text(
        "INSERT INTO web_buckets (key, tokens, updated, expires, allowed) "
        "VALUES (:key, :burst - 1.0, :now, :now + 1.0 / :rate, TRUE) "
        f"ON CONFLICT (key) DO UPDATE SET tokens = {left}, allowed = ({refilled} >= 1.0), "
        f"updated = {greatest}(web_buckets.updated, :now), expires = :now + (:burst - {left}) / :rate "
        "RETURNING allowed"
    )


_TAKE_SQLITE = _take_sql("min", "max")
_TAKE_PG = _take_sql("least", "greatest")
_COUNT = text(
    "INSERT INTO web_buckets (key, tokens, updated, expires, allowed) "
    "VALUES (:key, 1.0, :now, :expires, TRUE) "
    "ON CONFLICT (key) DO UPDATE SET "
    "tokens = CASE WHEN web_buckets.tokens < :limit THEN web_buckets.tokens + 1.0 ELSE web_buckets.tokens END, "
    "allowed = (web_buckets.tokens < :limit), updated = :now "
    "RETURNING allowed"
)
_PRUNE = text("DELETE FROM web_buckets WHERE expires < :now")


def client_key(secret: bytes, address: str) -> str:
    """What the ledger keeps for a client address: an HMAC under the portal's secret (no
    address is ever stored; the same address gives the same key in every process)."""
    return hmac.new(secret, b"ratelimit\0" + address.encode(), hashlib.sha256).hexdigest()[:40]


class SharedTokenBucket(TokenBucket):
    """:class:`TokenBucket` kept in the ledger: one limit for all the portal's processes."""

    def __init__(
        self, buckets: LedgerBuckets, *, secret: bytes, rate_per_minute: int, burst: int,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        super().__init__(rate_per_minute=rate_per_minute, burst=burst, clock=clock)
        self.buckets = buckets
        self._secret = secret

    def allow(self, key: str) -> bool:
        return self.buckets.take(
            "rate:" + client_key(self._secret, key),
            rate=self.rate,
            burst=self.burst,
            now=self.clock(),
        )


class SharedAuditBudget(AuditBudget):
    """:class:`AuditBudget` whose hourly count is kept in the ledger: ``per_hour`` audited
    anonymous actions for the whole portal, whatever the number of processes. Failed logins
    past the budget are still counted per process: each writes its own summary event, and the
    summaries add up to every failure."""

    def __init__(
        self, buckets: LedgerBuckets, per_hour: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(per_hour, clock=clock)
        self.buckets = buckets

    def try_take(self) -> bool:
        now = self.clock()
        hour = int(now // 3600)
        return self.buckets.count(
            f"audit:{hour}", limit=self.per_hour, now=now, expires=(hour + 2) * 3600.0
        )


def portal_limits(settings: Any, ledger: Ledger, secret: bytes) -> tuple[TokenBucket, AuditBudget]:
    """The portal's per-client limiter and audit budget: in the ledger (shared by every server
    process), or in memory when the ledger is read-only (one process only: ``serve --workers``
    refuses a read-only ledger)."""
    rate, burst, per_hour = (
        settings.web_rate_limit,
        settings.web_rate_burst,
        settings.web_anonymous_audit_per_hour,
    )
    if ledger.read_only:
        return TokenBucket(rate_per_minute=rate, burst=burst), AuditBudget(per_hour)
    buckets = LedgerBuckets(ledger)
    return (
        SharedTokenBucket(buckets, secret=secret, rate_per_minute=rate, burst=burst),
        SharedAuditBudget(buckets, per_hour),
    )
