"""Finding 16: anonymous portal traffic grew the audit log without bound (each failed console
login, owner verification, selfie search and filed request appends events). Now audited
anonymous actions are capped per hour (``web_anonymous_audit_per_hour``; 503 with Retry-After
beyond), and failed logins past the cap are counted into one event instead of one each."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

BUDGET = 10
LOGINS = 30
CHECKS = 10


def _rows(ledger: Any) -> int:
    from faceledger.store.schema import AuditEvent

    with ledger.read() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


def test_anonymous_traffic_grows_the_audit_log_by_at_most_the_hourly_budget(
    portal: Any, portal_env: dict[str, str], corpus: Any
) -> None:  # fmt: skip
    from faceledger.store.schema import AuditEvent

    env = {**portal_env, "FACELEDGER_WEB_ANONYMOUS_AUDIT_PER_HOUR": str(BUDGET)}
    before = _rows(corpus)
    with portal(env) as server, server.client() as client:
        page = client.get("/console/login")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        logins = [client.post("/console/login", data={"name": f"guess{n}", "token": "flt_1_" + "x" * 43,
                                                      "csrf_token": csrf}).status_code for n in range(LOGINS)]  # fmt: skip
        start = client.post("/api/v1/verify/start", json={"owner_id": "70000005@N01"}).json()
        checks = [
            client.post("/api/v1/verify/check", json={"challenge": start["challenge"]})
            for _ in range(CHECKS)
        ]
        during = _rows(corpus)
    after = _rows(corpus)  # the server has stopped: the count of unaudited failures is written
    assert logins == [401] * LOGINS  # refusing a login never waits for the budget
    assert {c.status_code for c in checks} == {503}
    assert all(int(c.headers["retry-after"]) >= 1 for c in checks)
    assert during - before == BUDGET, during - before
    assert after - before == BUDGET + 1
    with corpus.read() as conn:
        payloads = (
            conn.execute(select(AuditEvent.payload).where(AuditEvent.name == "user.login"))
            .scalars()
            .all()
        )
    assert sum(p.get("count", 1) for p in payloads) == LOGINS  # every failure is accounted for
    assert [p["count"] for p in payloads if p.get("aggregated")] == [LOGINS - BUDGET]
