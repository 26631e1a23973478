"""Findings 9 and 10: Host-header injection in slash redirects (``Host: evil.com`` ->
``location: http://evil.com/...``); 500 answers without the security headers; an integer
query parameter past 64 bits (``/console/audit?before=9223372036854775808``) gave a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

EVIL = "evil.example"


def _raw(url: str, target: str, host: str) -> tuple[int, dict[str, str], str]:
    """GET with the request target exactly as given (an HTTP client would normalise ``//x``)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("GET", target, skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def _raw_get(url: str, target: str, host: str) -> tuple[int, str]:
    status, headers, _ = _raw(url, target, host)
    return status, headers.get("location", "")


def test_slash_redirects_are_relative_whatever_the_host_header(
    portal: Any, portal_env: dict[str, str]
) -> None:
    env = {
        **portal_env,
        "FACELEDGER_WEB_TRUSTED_HOSTS": json.dumps(["*"]),
    }  # even with no host check
    targets = ("/console/", "/selfie/", "/api/v1/search/owner/?q=x", "//evil.example/", "/\\evil.example/",
               "/%5Cevil.example/", "///evil.example/x/")  # fmt: skip
    with portal(env) as server:
        answers = {target: _raw_get(server.url, target, EVIL) for target in targets}
    for target, (status, location) in answers.items():
        assert status == 307, (target, status)
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (
            target,
            location,
        )
        assert not location.startswith(("http:", "https:")), (target, location)
    assert answers["/console/"][1] == "/console"
    assert answers["/api/v1/search/owner/?q=x"][1] == "/api/v1/search/owner?q=x"
    assert answers["//evil.example/"][1] == "/evil.example"  # a path on this site, not another site


def test_a_host_outside_the_trusted_hosts_setting_is_refused(
    portal: Any, portal_env: dict[str, str]
) -> None:
    env = {
        **portal_env,
        "FACELEDGER_WEB_TRUSTED_HOSTS": json.dumps(["portal.example", "127.0.0.1"]),
    }
    with portal(env) as server, server.client() as client:
        evil = client.get("/console/", headers={"Host": EVIL})
        good = client.get("/", headers={"Host": "portal.example"})
        loop = client.get("/")
    assert evil.status_code == 400 and EVIL not in evil.headers.get("location", "")
    assert evil.headers["content-security-policy"].startswith("default-src 'self'")
    assert good.status_code == 200 and loop.status_code == 200


def test_the_default_trusted_hosts_are_the_loopback_names(
    portal: Any, portal_env: dict[str, str]
) -> None:
    with portal(portal_env) as server, server.client() as client:
        assert client.get("/", headers={"Host": EVIL}).status_code == 400
        assert client.get("/", headers={"Host": "localhost"}).status_code == 200


def test_a_huge_integer_query_parameter_is_a_422_not_a_500(
    portal: Any, portal_env: dict[str, str], sec: Any
) -> None:  # fmt: skip
    made = sec.cli(portal_env, "user", "add", "ada", "--role", "admin", "--json")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    with portal(portal_env) as server, server.client() as client:
        page = client.get("/console/login")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        login = client.post(
            "/console/login", data={"name": "ada", "token": token, "csrf_token": csrf}
        )
        assert login.status_code == 303, login.text
        answers = [
            client.get("/console/audit", params={"before": "9223372036854775808"}),
            client.get("/console/audit", params={"before": str(2**70)}),
            client.get("/api/v1/console/audit", params={"before": str(2**64)},
                       headers={"Authorization": f"Bearer {token}"}),
            client.post("/console/requests/99999999999999999999/verify", data={"csrf_token": "x"}),
        ]  # fmt: skip
    assert [a.status_code for a in answers] == [422, 422, 422, 422], [a.text[:200] for a in answers]
    assert all(a.headers["x-frame-options"] == "DENY" for a in answers)


def test_a_500_answer_keeps_the_security_headers_and_names_only_an_incident(
    corpus: Any, tmp_path: Path, sec: Any, ledger_url: str
) -> None:  # fmt: skip
    from faceledger.config import load_settings
    from faceledger.web import create_app

    app = create_app(
        load_settings(database_url=ledger_url, data_dir=tmp_path / "data"), ledger=corpus
    )

    def boom() -> None:
        raise RuntimeError("secret internal detail /srv/keys")

    app.add_api_route("/api/v1/boom", boom)
    app.add_api_route("/boom", boom)
    with sec.serve_thread(app, tmp_path / "t.log") as server:  # the server closes after a 500
        answers = [
            _raw(server.url, "/api/v1/boom", "127.0.0.1"),
            _raw(server.url, "/boom", "127.0.0.1"),
        ]
    for status, headers, body in answers:
        assert status == 500
        assert "secret" not in body and "incident" in body
        for header in ("content-security-policy", "x-content-type-options", "x-frame-options",
                       "referrer-policy", "cache-control"):  # fmt: skip
            assert header in headers, (header, headers)


def test_unknown_host_check_does_not_trust_forwarded_host(
    portal: Any, portal_env: dict[str, str]
) -> None:
    with portal(portal_env) as server:
        answer = httpx.get(
            server.url + "/console/", headers={"X-Forwarded-Host": EVIL}, follow_redirects=False
        )
    assert EVIL not in answer.headers.get("location", "")
