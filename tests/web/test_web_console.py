"""The owner's console: users and tokens, session login, roles, CSRF, and every console route
refusing anonymous callers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

CONSENTS_CSV = b"owner_id,form,purposes,informed,granted\n70000003@N01,written,train-face-recognition,yes,2024-01-01\n"


def _console_api_routes(client: Any) -> list[tuple[str, str]]:
    schema = client.get("/api/v1/openapi.json").json()
    return [
        (method.upper(), path.replace("{request_id}", "1").replace("{action}", "verify"))
        for path, methods in schema["paths"].items() if path.startswith("/api/v1/console")
        for method in methods
    ]  # fmt: skip


def test_every_console_api_route_needs_a_token(client: Any) -> None:
    routes = _console_api_routes(client)
    assert len(routes) >= 10
    for method, path in routes:
        for headers in (
            {},
            {"Authorization": "Bearer flt_1_" + "A" * 43},
            {"Authorization": "Basic eA=="},
        ):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "path",
    ["/console", "/console/exposure", "/console/consents", "/console/releases", "/console/audit"],
)
def test_every_console_page_needs_a_login(client: Any, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"


@pytest.mark.parametrize(
    "path",
    [
        "/console/requests/1/verify",
        "/console/audit/verify",
        "/console/logout",
        "/console/consents/import",
    ],
)
def test_console_forms_need_a_login(client: Any, path: str) -> None:
    assert client.post(path, data={"csrf_token": "x"}, follow_redirects=False).status_code == 303


def test_tokens_are_stored_hashed_and_checked(corpus: Any) -> None:
    from faceledger.errors import UserError
    from faceledger.services.portal.users import add_user, authenticate_token
    from faceledger.store.schema import WebToken

    user, token = add_user(corpus, "ada", role="admin")
    with corpus.read() as conn:
        stored = conn.execute(select(WebToken.secret_hash)).scalar_one()
    assert token.split("_", 2)[2] not in stored and stored.startswith("scrypt$")
    assert authenticate_token(corpus, token) == user
    assert authenticate_token(corpus, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert authenticate_token(corpus, "nonsense") is None
    with pytest.raises(UserError, match="already exists"):
        add_user(corpus, "ada", role="reviewer")
    with pytest.raises(UserError, match="role"):
        add_user(corpus, "bob", role="root")


def test_the_cli_adds_a_user_and_prints_the_token_once(ledger_url: str) -> None:
    from click.testing import CliRunner

    from faceledger.cli import main

    assert (
        CliRunner().invoke(main, ["--database-url", ledger_url, "init"]).exit_code == 0
    )  # only ingest/init create
    result = CliRunner().invoke(
        main, ["--database-url", ledger_url, "user", "add", "ada", "--role", "admin", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["role"] == "admin" and document["token"].startswith("flt_")
    listed = CliRunner().invoke(main, ["--database-url", ledger_url, "user", "list", "--json"])
    assert "token" not in listed.output and json.loads(listed.output)[0]["name"] == "ada"


def test_a_reviewer_reads_but_may_not_import_consents(
    client: Any, reviewer_token: str, admin_token: str, web: Any
) -> None:
    headers = web.bearer(reviewer_token)
    assert client.get("/api/v1/console/me", headers=headers).json() == {
        "name": "rev",
        "role": "reviewer",
    }
    for path in ("/api/v1/console/requests", "/api/v1/console/consents", "/api/v1/console/releases",
                 "/api/v1/console/consumers", "/api/v1/console/audit"):  # fmt: skip
        assert client.get(path, headers=headers).status_code == 200, path
    files = {"file": ("consents.csv", CONSENTS_CSV, "text/csv")}
    assert (
        client.post("/api/v1/console/consents/import", headers=headers, files=files).status_code
        == 403
    )
    report = client.post(
        "/api/v1/console/consents/import", headers=web.bearer(admin_token), files=files
    ).json()
    assert report["added"] == 1
    assert (
        client.get("/api/v1/console/consents", headers=headers).json()[0]["owner_id"]
        == "70000003@N01"
    )


def test_exposure_before_any_assessment_is_a_clear_404(
    client: Any, reviewer_token: str, web: Any
) -> None:
    response = client.get("/api/v1/console/exposure", headers=web.bearer(reviewer_token))
    assert response.status_code == 404 and "faceledger assess" in response.json()["detail"]


def test_the_audit_chain_verifies_from_the_api(client: Any, reviewer_token: str, web: Any) -> None:
    headers = web.bearer(reviewer_token)
    assert client.post("/api/v1/console/audit/verify", headers=headers).json()["ok"] is True
    events = client.get("/api/v1/console/audit", params={"limit": 5}, headers=headers).json()
    assert events[0]["name"] == "user.add" and len(events) <= 5


def test_bad_console_input_is_a_clear_4xx(client: Any, admin_token: str, web: Any) -> None:
    headers = web.bearer(admin_token)
    assert client.post("/api/v1/console/requests/1/explode", headers=headers).status_code == 404
    assert client.post("/api/v1/console/requests/99/verify", headers=headers).status_code == 404
    assert client.post("/api/v1/console/requests/abc/verify", headers=headers).status_code == 422
    assert client.get("/api/v1/console/requests?status=lost", headers=headers).status_code == 422
    bad = client.post(
        "/api/v1/console/consents/import", headers=headers, files={"file": ("c.txt", b"x")}
    )
    assert bad.status_code == 400 and "unknown consent file type" in bad.json()["detail"]
    assert client.post("/api/v1/console/consents/import", headers=headers, content=b"x",
                       ).status_code == 400  # fmt: skip


def test_a_login_session_drives_the_console_pages(client: Any, admin_token: str, web: Any) -> None:
    csrf = web.console_login(client, "ada", admin_token)
    for path in (
        "/console",
        "/console/exposure",
        "/console/consents",
        "/console/releases",
        "/console/audit",
    ):
        page = client.get(path)
        assert page.status_code == 200 and "ada (admin)" in page.text, path
    assert client.post("/console/audit/verify", data={"csrf_token": "wrong"}).status_code == 403
    verified = client.post("/console/audit/verify", data={"csrf_token": csrf})
    assert "The chain verifies" in verified.text
    imported = client.post("/console/consents/import", data={"csrf_token": csrf},
                           files={"file": ("consents.csv", CONSENTS_CSV, "text/csv")})  # fmt: skip
    assert imported.status_code == 200 and "Imported 1 of 1" in imported.text
    client.post("/console/logout", data={"csrf_token": csrf})
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_wrong_login_is_refused_and_audited(
    client: Any, admin_token: str, corpus: Any, web: Any
) -> None:
    from faceledger.store.schema import AuditEvent

    page = client.get("/console/login")
    response = client.post("/console/login", data={"name": "ada", "token": admin_token + "x",
                                                   "csrf_token": web.csrf_from(page.text)})  # fmt: skip
    assert response.status_code == 401 and "do not match" in response.text
    with corpus.read() as conn:
        payload = conn.execute(
            select(AuditEvent.payload).where(AuditEvent.name == "user.login")
        ).scalar_one()
    assert payload["ok"] is False and admin_token not in json.dumps(payload)


def test_a_reviewer_session_cannot_execute_or_import(
    client: Any, reviewer_token: str, web: Any
) -> None:
    csrf = web.console_login(client, "rev", reviewer_token)
    assert client.post("/console/requests/1/execute", data={"csrf_token": csrf}).status_code == 403
    files = {"file": ("consents.csv", CONSENTS_CSV, "text/csv")}
    assert (
        client.post("/console/consents/import", data={"csrf_token": csrf}, files=files).status_code
        == 403
    )
    assert (
        "Import" not in client.get("/console/consents").text.split("<table>")[0].split("</h1>")[1]
    )
