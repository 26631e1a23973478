"""``faceledger serve`` as real processes on loopback (issue 15.3, issue 13 items 9 and 11):
several portal processes over one ledger share one rate limit and one signing secret; a busy
port is an error before anything claims to serve; the access log names no one.

The rate limit is 1 a minute with a burst of N, so within a minute exactly N calls pass,
whichever process answers them: the (N+1)th is 429 on either. Each test checks that it stayed
within that minute, so the expected count never depends on how fast the machine is."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

FACELEDGER = Path(sys.executable).with_name("faceledger")
START_TIMEOUT = 120.0  # seconds a portal may take to answer its first request (2 shared cores)
BURST = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def portal_env(tmp_path: Path, ledger_url: str, **more: str) -> dict[str, str]:
    return {
        **os.environ, "FACELEDGER_DATABASE_URL": ledger_url, "FACELEDGER_DATA_DIR": str(tmp_path / "data"),
        "FACELEDGER_PROCESSOR_LOCATION": "US-FL", "FACELEDGER_WORKERS": "1",
        "FACELEDGER_WEB_RATE_LIMIT": "1", "FACELEDGER_WEB_RATE_BURST": str(BURST), "HOME": str(tmp_path), **more,
    }  # fmt: skip


@contextlib.contextmanager
def serving(
    env: dict[str, str], log: Path, *args: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``faceledger serve`` on a free loopback port; ready when a static file answers (static
    files are not rate-limited); stopped with SIGTERM at the end."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FACELEDGER), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=env["HOME"],
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, (
            f"the portal exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        )
        try:
            if httpx.get(url + "/static/portal.css", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # readiness poll, bounded by START_TIMEOUT
    raise AssertionError(
        f"the portal did not start within {START_TIMEOUT}s:\n{log.read_text()[-3000:]}"
    )


def _workers_of(proc: subprocess.Popen[bytes]) -> list[str]:
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _gone(pid: str) -> bool:
    """No such process, or a zombie (exited, not yet reaped)."""
    try:
        return "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return True


@pytest.mark.both_backends
def test_given_two_portal_processes_on_one_ledger_then_they_share_one_rate_limit_and_one_secret(
    corpus: Any, ledger_url: str, tmp_path: Path
) -> None:  # fmt: skip
    from sqlalchemy import select

    from faceledger.store.schema import Request

    env = portal_env(tmp_path, ledger_url, FACELEDGER_WEB_ACCESS_LOG=str(tmp_path / "access.log"))
    with (
        serving(env, tmp_path / "a.log") as (a, proc_a),
        serving(env, tmp_path / "b.log") as (b, proc_b),
    ):
        wait_ready(a, proc_a, tmp_path / "a.log")
        wait_ready(b, proc_b, tmp_path / "b.log")
        with (
            httpx.Client(base_url=a, timeout=60) as on_a,
            httpx.Client(base_url=b, timeout=60) as on_b,
        ):
            started = time.monotonic()
            found = on_a.get("/api/v1/search/owner", params={"q": "70000001@N01"})  # 1
            assert found.status_code == 200, found.text
            token = found.json()["owner_token"]
            filed = on_b.post(
                "/api/v1/requests", json={"kind": "optout", "token": token}
            )  # 2: A's token, B checks it
            assert filed.status_code == 201, filed.text
            receipt = filed.json()["receipt"]
            status = on_a.get(f"/api/v1/requests/{receipt}")  # 3
            codes = [
                c.get("/api/v1/search/tag", params={"q": "beach"}).status_code
                for c in (on_b, on_a, on_b)
            ]  # 4-6
            over = [
                on_a.get("/api/v1/search/tag", params={"q": "beach"}),
                on_b.get("/api/v1/search/tag", params={"q": "x"}),
            ]
            elapsed = time.monotonic() - started
    assert elapsed < 55, (
        f"the calls took {elapsed:.0f}s: a token was refilled, the counts below would not hold"
    )
    assert status.status_code == 200
    assert codes == [200, 200, 200]
    assert [r.status_code for r in over] == [429, 429]  # the 7th call is refused on either process
    assert all(int(r.headers["retry-after"]) >= 1 for r in over)
    with corpus.read() as conn:
        assert receipt in conn.execute(select(Request.receipt)).scalars().all()
    lines = (tmp_path / "access.log").read_text().splitlines()
    pids = {line.split()[1] for line in lines}
    assert pids == {
        str(proc_a.pid),
        str(proc_b.pid),
    }  # both processes wrote to one file, whole lines
    assert sum(" 429 " in line for line in lines) == 2
    assert receipt not in "\n".join(lines) and token not in "\n".join(lines)


def test_given_workers_then_one_serve_runs_several_processes_with_one_limit(
    corpus: Any, ledger_url: str, tmp_path: Path
) -> None:  # fmt: skip
    env = portal_env(tmp_path, ledger_url, FACELEDGER_WEB_ACCESS_LOG=str(tmp_path / "access.log"))
    log = tmp_path / "serve.log"
    with serving(env, log, "--workers", "3") as (url, proc):
        wait_ready(url, proc, log)
        workers = _workers_of(proc)
        started = time.monotonic()
        codes = []
        for _ in range(BURST + 3):  # a new connection each: the kernel hands them to any worker
            with httpx.Client(base_url=url, timeout=60) as client:
                codes.append(client.get("/api/v1/search/tag", params={"q": "beach"}).status_code)
        elapsed = time.monotonic() - started
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
    assert elapsed < 55, f"the calls took {elapsed:.0f}s: a token was refilled"
    assert len(workers) == 3
    assert codes == [200] * BURST + [429] * 3
    assert "3 server processes" in log.read_text()
    assert all(_gone(pid) for pid in workers)  # every worker stopped with the supervisor


def test_given_the_supervisor_is_killed_then_its_workers_stop_and_free_the_port(
    corpus: Any, ledger_url: str, tmp_path: Path
) -> None:  # fmt: skip
    env = portal_env(tmp_path, ledger_url)
    log = tmp_path / "serve.log"
    with serving(env, log, "--workers", "2") as (url, proc):
        wait_ready(url, proc, log)
        workers = _workers_of(proc)
        proc.kill()  # SIGKILL: no handler runs, nothing is told
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60
        while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)  # bounded wait for the workers' own shutdown
    left = [pid for pid in workers if not _gone(pid)]
    for pid in left:  # a failed run leaves nothing behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    assert len(workers) == 2
    assert not left, "a worker outlived its supervisor"
    from faceledger.web.serving import bind_listener

    # nothing listens there any more: a new portal binds the port (its connections' TIME_WAIT
    # does not count, as for serve itself)
    bind_listener("127.0.0.1", int(url.rsplit(":", 1)[1])).close()


def test_given_a_busy_port_then_serve_says_so_and_never_claims_to_serve(
    corpus: Any, ledger_url: str, tmp_path: Path
) -> None:  # fmt: skip
    env = portal_env(tmp_path, ledger_url)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        done = subprocess.run(
            [str(FACELEDGER), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr
    assert "portal on" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_bind_listener_refuses_a_taken_port_and_the_second_of_two_binds() -> None:
    from faceledger.errors import ConfigError
    from faceledger.web.serving import bind_listener

    first = bind_listener("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^port {port} on 127.0.0.1 is in use"):
            bind_listener(
                "127.0.0.1", port
            )  # the race: whoever binds second is told, nothing served
        with pytest.raises(ConfigError, match="not an address of this machine"):
            bind_listener("192.0.2.1", 0)  # TEST-NET-1: on no interface here
    finally:
        first.close()


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is Linux/BSD only")
def test_with_workers_each_listens_on_its_own_socket_and_the_kernel_spreads_connections() -> None:
    from faceledger.errors import ConfigError
    from faceledger.web.serving import bind_listener, worker_listener

    parent = bind_listener("127.0.0.1", 0, workers=2)
    port = parent.getsockname()[1]
    own = [worker_listener(parent), worker_listener(parent)]
    clients: list[socket.socket] = []
    try:
        # the parent's socket holds the port and never accepts
        assert not parent.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        assert all(s is not parent and s.getsockname()[1] == port for s in own)
        for workers in (1, 2):  # a second portal on the port is refused, never joined
            with pytest.raises(ConfigError, match=rf"^port {port} on 127.0.0.1 is in use"):
                bind_listener("127.0.0.1", port, workers=workers)
        for _ in range(40):  # 40 new connections: the kernel hashes each to one of the two
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            clients.append(client)
        accepted = [0, 0]
        with selectors.DefaultSelector() as ready:  # accept as they are ready, not after a sleep
            for which, sock in enumerate(own):
                ready.register(sock, selectors.EVENT_READ, which)
            while sum(accepted) < 40:
                events = ready.select(timeout=10)
                assert events, f"only {sum(accepted)} of 40 connections arrived"
                for key, _mask in events:
                    own[key.data].accept()[0].close()
                    accepted[key.data] += 1
        # every connection was queued on a worker's socket (none on the parent's), and both
        # got some: all 40 on one has odds of 2 in 2**40
        assert min(accepted) > 0, accepted
    finally:
        for sock in [*clients, *own, parent]:
            sock.close()


SECRETS = ("70000001@N01", "fl_session=", "SESSIONSECRET", "flt_9_", "Bearer", "beach", "RCPT",
           "203.0.113", "127.0.0.1", "JFIFSELFIE", "someone@example.org")  # fmt: skip


def test_the_access_log_has_method_route_status_and_time_but_no_value_that_names_anyone(
    corpus: Any, web_settings: Any, tmp_path: Path
) -> None:  # fmt: skip
    from fastapi.testclient import TestClient

    from faceledger.web import create_app
    from faceledger.web.serving import with_access_log

    where = tmp_path / "logs" / "access.log"
    settings = web_settings.model_copy(update={"web_access_log": str(where)})
    app = with_access_log(create_app(settings, ledger=corpus), settings)
    cookies = {"fl_session": "SESSIONSECRET", "fl_owner": "SESSIONSECRET"}
    with TestClient(app, base_url="http://127.0.0.1", cookies=cookies) as client:
        client.get(
            "/api/v1/search/owner",
            params={"q": "70000001@N01"},
            headers={"Authorization": "Bearer flt_9_x"},
        )
        client.get("/search", params={"tag": "beach", "utm": "someone@example.org"})
        client.get("/requests/RCPT-7F3A-9QX2")
        client.get("/api/v1/thumbnails/RCPT" + "A" * 40)
        client.post(
            "/api/v1/selfie",
            data={"consent": "yes"},
            files={"image": ("me.jpg", b"JFIFSELFIE" * 50)},
        )
        client.post(
            "/api/v1/requests",
            json={"kind": "optout", "token": "RCPT", "contact": "someone@example.org"},
        )
        client.get("/no/such/page/70000001@N01")
        client.get("/static/portal.css")
    text = where.read_text()
    lines = text.splitlines()
    assert len(lines) == 8
    assert (where.stat().st_mode & 0o777) == 0o600
    pattern = re.compile(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \d+ (GET|POST) \S+ \d{3} \d+\.\dms$"
    )
    assert all(pattern.match(line) for line in lines), lines
    routes = [line.split()[3] for line in lines]
    assert routes == [
        "/api/v1/search/owner?q=", "/search?tag=&utm=", "/requests/{receipt}", "/api/v1/thumbnails/{token}",
        "/api/v1/selfie", "/api/v1/requests", "(unmatched)", "/static/portal.css",
    ]  # fmt: skip
    assert [line.split()[4] for line in lines][0] == "200"
    assert lines[6].split()[4] == "404"
    for secret in SECRETS:
        assert secret not in text, secret


def test_access_log_off_writes_nothing_and_a_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    from faceledger.errors import ConfigError
    from faceledger.web.accesslog import AccessLogSink

    assert AccessLogSink.open("off") is None
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="web_access_log.*cannot open"):
        AccessLogSink.open(str(blocker / "access.log"))
