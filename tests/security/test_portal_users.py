"""Findings 6 and 12: console tokens could not be revoked or rotated; a token pasted into the
login form's name field was written into the audit log; checking a token took 29 ms for an
existing token id and 2.5 ms for an unknown one (which told which ids exist)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select


def _add(sec: Any, env: dict[str, str], name: str = "ada") -> str:
    made = sec.cli(env, "user", "add", name, "--role", "admin", "--json")
    assert made.returncode == 0, made.stderr
    return str(json.loads(made.stdout)["token"])


def _login(client: Any, name: str, token: str) -> Any:
    page = client.get("/console/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/console/login", data={"name": name, "token": token, "csrf_token": csrf})


def _me(client: Any, token: str) -> int:
    return int(
        client.get("/api/v1/console/me", headers={"Authorization": f"Bearer {token}"}).status_code
    )


def test_a_revoked_user_loses_tokens_and_sessions_in_a_running_portal(
    portal: Any, portal_env: dict[str, str], sec: Any
) -> None:  # fmt: skip
    token = _add(sec, portal_env)
    with portal(portal_env) as server, server.client() as client:
        assert _me(client, token) == 200
        assert _login(client, "ada", token).status_code == 303
        assert client.get("/console").status_code == 200
        revoked = sec.cli(portal_env, "user", "revoke", "ada", "--json")
        assert revoked.returncode == 0, revoked.stderr
        assert json.loads(revoked.stdout)["sessions_ended"] == 1
        assert _me(client, token) == 401
        assert client.get("/console").status_code == 303  # back to the login page
        assert _login(client, "ada", token).status_code == 401


def test_rotating_a_token_revokes_the_old_one_at_once(
    portal: Any, portal_env: dict[str, str], sec: Any
) -> None:
    old = _add(sec, portal_env)
    with portal(portal_env) as server, server.client() as client:
        assert _me(client, old) == 200
        rotated = sec.cli(portal_env, "user", "rotate", "ada", "--json")
        assert rotated.returncode == 0, rotated.stderr
        new = json.loads(rotated.stdout)["token"]
        assert new != old and _me(client, old) == 401 and _me(client, new) == 200


def test_a_token_pasted_into_the_name_field_is_never_stored(
    portal: Any, portal_env: dict[str, str], sec: Any, ledger: Any, ledger_url: str
) -> None:  # fmt: skip
    from faceledger.store.schema import AuditEvent

    token = _add(sec, portal_env)
    secret = token.split("_", 2)[2]
    with portal(portal_env) as server, server.client() as client:
        refused = _login(client, token, "flt_1_" + "x" * 43)  # the token in the wrong field
        assert refused.status_code == 401 and secret not in refused.text
        log = server.log
    with ledger.read() as conn:
        rows = conn.execute(select(AuditEvent.name, AuditEvent.payload, AuditEvent.object_id)).all()
    assert any(name == "user.login" for name, _, _ in rows)
    assert all(secret not in json.dumps(payload) + str(object_id) for _, payload, object_id in rows)
    assert secret not in log.read_text()
    if ledger_url.startswith("sqlite"):  # not in any page of the database file either
        assert secret.encode() not in Path(ledger_url.removeprefix("sqlite:///")).read_bytes()
    added = sec.cli(portal_env, "user", "add", token, "--role", "admin")
    assert (
        added.returncode != 0 and secret not in added.stdout + added.stderr
    )  # not as a name either


def test_an_unknown_token_id_costs_the_same_key_derivation_as_a_known_one(
    ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    """No timing assertion: the work is counted. Each check runs scrypt exactly once, whether
    the token id exists or not (the unknown one is checked against a dummy hash)."""
    import hashlib

    from faceledger.services.portal import users

    _, token = users.add_user(ledger, "ada", role="admin")
    calls: list[int] = []
    real = hashlib.scrypt

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    users._dummy()  # made once per process, before counting
    monkeypatch.setattr(users.hashlib, "scrypt", counted)
    secret = token.split("_", 2)[2]
    work = {}
    for label, candidate in (("known id", token[:-1] + ("A" if token[-1] != "A" else "B")),
                             ("unknown id", f"flt_999999_{secret}"), ("right", token)):  # fmt: skip
        calls.clear()
        users.authenticate_token(ledger, candidate)
        work[label] = len(calls)
    assert work == {"known id": 1, "unknown id": 1, "right": 1}
