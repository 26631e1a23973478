"""The portal's rate limiter and audit budget kept in the ledger (issue 15.3): one limit for
every server process, decided by one atomic upsert per call, on SQLite and PostgreSQL.

Two ``Ledger`` handles over one database stand for two processes (each has its own engine and
connections); threads race on one bucket to show that no token is spent twice. The clock is
injected, so every refill is exact."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.both_backends
SECRET = b"s" * 32


@pytest.fixture
def second(ledger_url: str, ledger: Any) -> Any:
    """Another handle on the same ledger: what a second server process holds."""
    from faceledger.store import open_ledger

    handle = open_ledger(ledger_url)
    yield handle
    handle.dispose()


def test_given_two_processes_then_they_spend_one_bucket_and_it_refills_at_the_rate(
    ledger: Any, second: Any
) -> None:
    from faceledger.web.ratelimit import LedgerBuckets, SharedTokenBucket

    now = [1_000_000.0]
    one = SharedTokenBucket(
        LedgerBuckets(ledger), secret=SECRET, rate_per_minute=60, burst=4, clock=lambda: now[0]
    )
    two = SharedTokenBucket(
        LedgerBuckets(second), secret=SECRET, rate_per_minute=60, burst=4, clock=lambda: now[0]
    )
    answers = [one.allow("203.0.113.9"), two.allow("203.0.113.9"), one.allow("203.0.113.9"),
               two.allow("203.0.113.9"), one.allow("203.0.113.9"), two.allow("203.0.113.9")]  # fmt: skip
    assert answers == [True, True, True, True, False, False]
    assert two.allow("198.51.100.7")  # another client has its own bucket
    now[0] += 1.0  # one token a second
    assert [two.allow("203.0.113.9"), one.allow("203.0.113.9")] == [True, False]
    now[0] += 2.5
    assert [one.allow("203.0.113.9") for _ in range(3)] == [True, True, False]
    now[0] += 3600
    assert [two.allow("203.0.113.9") for _ in range(5)] == [True] * 4 + [
        False
    ]  # full again, never more


def test_given_threads_racing_on_one_bucket_then_exactly_burst_calls_are_allowed(
    ledger: Any, second: Any
) -> None:
    from faceledger.web.ratelimit import LedgerBuckets, SharedTokenBucket

    limiters = [
        SharedTokenBucket(
            LedgerBuckets(handle), secret=SECRET, rate_per_minute=1, burst=40, clock=lambda: 5000.0
        )
        for handle in (ledger, second)
    ]
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer(index: int) -> None:
        for _ in range(15):
            answer = limiters[index % 2].allow("192.0.2.1")
            with lock:
                allowed.append(answer)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 90
    assert sum(allowed) == 40  # the clock stands still: no refill, and no token spent twice


def test_given_a_shared_audit_budget_then_the_hour_allows_per_hour_actions_in_all(
    ledger: Any, second: Any
) -> None:
    from fastapi import HTTPException

    from faceledger.web.ratelimit import LedgerBuckets, SharedAuditBudget

    now = [7200.0 * 100 + 10]
    one = SharedAuditBudget(LedgerBuckets(ledger), 10, clock=lambda: now[0])
    two = SharedAuditBudget(LedgerBuckets(second), 10, clock=lambda: now[0])
    taken = [budget.try_take() for _ in range(8) for budget in (one, two)]
    assert sum(taken) == 10
    with pytest.raises(HTTPException) as refused:
        two.take()
    assert refused.value.status_code == 503
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 3600
    now[0] += 3600  # the next clock hour has its own budget
    assert sum(budget.try_take() for budget in (one, two) for _ in range(6)) == 10


def test_the_ledger_keeps_no_client_address_and_prunes_full_buckets(ledger: Any) -> None:
    from faceledger.store.schema import WebBucket
    from faceledger.web.ratelimit import LedgerBuckets, SharedTokenBucket

    now = [10_000.0]
    buckets = LedgerBuckets(ledger, prune_every=3)
    limiter = SharedTokenBucket(
        buckets, secret=SECRET, rate_per_minute=60, burst=2, clock=lambda: now[0]
    )
    assert limiter.allow("203.0.113.9") and limiter.allow("198.51.100.7")
    with ledger.read() as conn:
        keys = conn.execute(select(WebBucket.key)).scalars().all()
    assert len(keys) == 2
    assert not any("203.0.113" in k or "198.51.100" in k for k in keys)
    now[0] += 60  # both buckets are full again: their rows mean nothing any more
    assert limiter.allow("192.0.2.55")  # the third call prunes what has expired
    with ledger.read() as conn:
        assert len(conn.execute(select(WebBucket.key)).scalars().all()) == 1


def test_the_portal_limits_through_the_ledger_by_default(corpus: Any, web_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from faceledger.store import open_ledger
    from faceledger.web import create_app

    settings = web_settings.model_copy(update={"web_rate_limit": 1, "web_rate_burst": 3})
    other = open_ledger(settings.database_url)
    try:
        first, second = create_app(settings, ledger=corpus), create_app(settings, ledger=other)
        with (
            TestClient(first, base_url="http://127.0.0.1") as a,
            TestClient(second, base_url="http://127.0.0.1") as b,
        ):
            codes = [
                c.get("/api/v1/search/tag", params={"q": "beach"}).status_code for c in (a, b, a, b)
            ]
            static = b.get("/static/portal.css").status_code
    finally:
        other.dispose()
    assert codes == [200, 200, 200, 429]  # two apps (two processes' worth of state), one bucket
    assert static == 200  # static files are never limited
