"""Finding 2: the rate limit was bypassed with ``X-Forwarded-For``: uvicorn trusted forwarded
headers from loopback by default, so each spoofed value got a fresh bucket. Now forwarded
headers count only from the proxies named in ``web_trusted_proxies`` (default: none), and
``faceledger serve`` hands exactly that list to uvicorn."""

from __future__ import annotations

import json
from typing import Any

SPOOFED = 12


def _limited(env: dict[str, str]) -> dict[str, str]:
    return {**env, "FACELEDGER_WEB_RATE_LIMIT": "1", "FACELEDGER_WEB_RATE_BURST": "5"}


def test_spoofed_forwarded_for_headers_do_not_buy_fresh_rate_limit_buckets(
    portal: Any, portal_env: dict[str, str]
) -> None:  # fmt: skip
    with portal(_limited(portal_env)) as server, server.client() as client:
        statuses = [
            client.get("/", headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"198.51.100.{n}",
                                     "Forwarded": f"for=192.0.2.{n}"}).status_code
            for n in range(SPOOFED)
        ]  # fmt: skip
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429] * (SPOOFED - 5), statuses  # one client, one bucket


def test_forwarded_for_counts_only_from_a_proxy_named_in_the_setting(
    portal: Any, portal_env: dict[str, str]
) -> None:  # fmt: skip
    env = {**_limited(portal_env), "FACELEDGER_WEB_TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}
    with portal(env) as server, server.client() as client:
        distinct = [client.get("/", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                    for n in range(SPOOFED)]  # fmt: skip
        same = [
            client.get("/", headers={"X-Forwarded-For": "203.0.113.200"}).status_code
            for _ in range(7)
        ]
    assert distinct == [200] * SPOOFED  # the named proxy's word is taken: one bucket per client
    assert same[:5] == [200] * 5 and same[5:] == [429, 429]
