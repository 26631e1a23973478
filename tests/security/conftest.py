"""Attacks on a real portal: ``faceledger serve`` in a subprocess (or uvicorn in a thread) on
127.0.0.1 at a free port, each attack bounded in count and time.

``portal(env)`` starts a server and yields a :class:`Portal` (its URL, its pid, RSS readings
from ``/proc``); the server is stopped when the test ends. ``portal_env`` is the environment
of a server over this test's ledger (SQLite or PostgreSQL) and data folder.
"""

from __future__ import annotations

import contextlib
import csv
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
FACELEDGER = Path(sys.executable).with_name("faceledger")
START_TIMEOUT = 90.0  # seconds a server may take to answer its first request
REQUEST_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@dataclass
class Portal:
    url: str
    pid: int
    log: Path

    def rss_mb(self) -> float:
        """Resident memory now."""
        return _status_kb(self.pid, "VmRSS") / 1024

    def peak_mb(self) -> float:
        """The most resident memory the process ever had (the kernel's high-water mark)."""
        return _status_kb(self.pid, "VmHWM") / 1024

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=REQUEST_TIMEOUT, follow_redirects=False, **kwargs
        )


def _wait_ready(url: str, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"the portal exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url + "/static/portal.css", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # readiness poll, bounded by START_TIMEOUT
    raise AssertionError(
        f"the portal did not start within {START_TIMEOUT}s:\n{log.read_text()[-3000:]}"
    )


@contextlib.contextmanager
def serve_subprocess(env: dict[str, str], log: Path, *args: str) -> Iterator[Portal]:
    """``faceledger serve`` with ``env`` on a free loopback port; stopped on exit."""
    port = free_port()
    full_env = {**os.environ, **env}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FACELEDGER), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=env.get("FACELEDGER_DATA_DIR"),
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, proc, log)
            yield Portal(url, proc.pid, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)


@contextlib.contextmanager
def serve_thread(app: Any, log: Path) -> Iterator[Portal]:
    """``app`` under a real uvicorn server in a thread of this process (for tests that look
    inside the running portal); stopped on exit."""
    import uvicorn

    from faceledger.cli.serve import uvicorn_options

    port = free_port()
    config = uvicorn.Config(app, **uvicorn_options(app.state.portal.settings, "127.0.0.1", port))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, None, log)
        yield Portal(url, os.getpid(), log)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def portal_env(tmp_path: Path, ledger_url: str) -> dict[str, str]:
    """The environment of a portal over this test's ledger; generous rate limits unless a
    test sets its own. The ledger exists (as after `faceledger init`): serve never creates one."""
    from faceledger.store import open_ledger

    open_ledger(ledger_url).dispose()
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return {
        "FACELEDGER_DATABASE_URL": ledger_url,
        "FACELEDGER_DATA_DIR": str(data),
        "FACELEDGER_WORKERS": "1",
        "FACELEDGER_PROCESSOR_LOCATION": "US-FL",
        "FACELEDGER_WEB_RATE_LIMIT": "100000",
        "FACELEDGER_WEB_RATE_BURST": "100000",
        "HOME": str(tmp_path),
    }


@pytest.fixture
def portal(tmp_path: Path) -> Callable[..., contextlib.AbstractContextManager[Portal]]:
    """``with portal(env) as server:`` a ``faceledger serve`` subprocess."""

    def start(env: dict[str, str], *args: str) -> contextlib.AbstractContextManager[Portal]:
        return serve_subprocess(env, tmp_path / f"portal-{free_port()}.log", *args)

    return start


def cli(
    env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``faceledger ARGS`` in another process with ``env`` (e.g. an erasure while a portal runs)."""
    return subprocess.run(
        [str(FACELEDGER), *args], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=300, input=input, check=False,
    )  # fmt: skip


@pytest.fixture
def sec() -> Any:
    """The helpers above, as a fixture (test modules cannot import conftest by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(cli=cli, serve_thread=serve_thread, free_port=free_port)


@pytest.fixture
def corpus(ledger: Any) -> Any:
    """The ledger with examples/photos.csv ingested (10 photos, 10 owners, no scan)."""
    from faceledger.services.collection.ingest import ingest_paths

    ingest_paths(ledger, [REPO / "examples" / "photos.csv"])
    return ledger


PHOTOS = Path(__file__).resolve().parents[2] / "examples" / "photos"
SELFIE = PHOTOS / "Abel_Pacheco_0004.jpg"  # not in the corpus; the same person as abel.jpg
CORPUS = [("abel", "Abel_Pacheco_0001.jpg"), ("alan", "Alan_Dershowitz_0001.jpg")]


def _corpus(root: Path) -> Path:
    root.mkdir()
    with (root / "photos.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "photo_id",
                "path",
                "owner_id",
                "owner_location",
                "latitude",
                "longitude",
                "license_name",
            ]
        )
        for stem, source in CORPUS:
            with Image.open(PHOTOS / source) as image:
                image.save(root / f"{stem}.jpg", quality=95)
            writer.writerow(
                [
                    stem,
                    f"{stem}.jpg",
                    f"owner-{stem}@N01",
                    "Miami, FL",
                    "25.76",
                    "-80.19",
                    "CC BY 2.0",
                ]
            )
    return root


@pytest.fixture
def world(ledger: Any, ledger_url: str, tmp_path: Path) -> Any:
    """Two people scanned, assessed and extracted (real detector and embedder)."""
    from faceledger.config import load_settings
    from faceledger.services.biometrics.extract import extract_templates
    from faceledger.services.collection.ingest import ingest_paths
    from faceledger.services.collection.scan import scan_pending
    from faceledger.services.decisions.assess import assess_faces
    from faceledger.store.vault import KeyVault

    settings = load_settings(
        database_url=ledger_url, data_dir=tmp_path / "data", workers=1, processor_location="US-FL",
        web_rate_limit=100_000, web_rate_burst=100_000, retention_limit_days=1095,
    )  # fmt: skip
    ingest_paths(ledger, [_corpus(tmp_path / "corpus")])
    scan_pending(ledger, settings)
    assess_faces(ledger, settings, purpose=settings.purpose)
    extract_templates(ledger, KeyVault.open(settings), settings, purpose=settings.purpose)
    return settings
