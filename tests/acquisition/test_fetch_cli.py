"""`faceledger fetch` as a user runs it, on SQLite and PostgreSQL: the --json contract, status
showing reservations with their reason, SSRF refused without the setting, and SIGKILL in the
middle of a fetch followed by a re-run that loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from faceledger.cli import main
from faceledger.store.schema import Photo

PHOTOS = Photo.__table__


def _cli(ledger_url: str, data: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(
        main, ["--database-url", ledger_url, "--data-dir", str(data), *args], env=env
    )
    assert result.exit_code == 0, result.output
    return result


def test_fetch_json_prints_the_stable_document_and_status_shows_reservations(
    ledger: Any, ledger_url: str, tmp_path: Path, server: Any, images: Any, remote_photos: Any
) -> None:
    remote_photos(ledger, [
        server.add("/ok.jpg", body=images.jpeg(1)),
        server.add("/noai.jpg", body=images.jpeg(2), headers={"X-Robots-Tag": "noai"}),
        server.add("/gone.jpg", status=404),
    ])  # fmt: skip
    env = {"FACELEDGER_FETCH_ALLOW_PRIVATE": "1", "FACELEDGER_FETCH_BACKOFF": "0"}
    document = json.loads(_cli(ledger_url, tmp_path / "d", "fetch", "--json", env=env).stdout)
    assert {"fetched", "reserved", "failed", "skipped", "reasons"} <= set(document)
    assert (document["fetched"], document["reserved"], document["failed"], document["skipped"]) == (
        1,
        1,
        1,
        0,
    )
    assert document["reasons"] == {"http-404": 1, "x-robots-tag": 1}
    status = json.loads(_cli(ledger_url, tmp_path / "d", "status", "--json").stdout)
    assert status["totals"]["reserved"] == 1 and status["totals"]["pending"] == 1
    assert status["acquisition"]["reserved_by_signal"] == {"x-robots-tag": 1}
    assert status["acquisition"]["failed_by_reason"] == {"http-404": 1}
    errors = json.loads(_cli(ledger_url, tmp_path / "d", "status", "--errors", "--json").stdout)
    assert errors["reserved"][0]["signal"] == "x-robots-tag"
    assert errors["reserved"][0]["evidence"]["value"] == "noai"
    text = _cli(ledger_url, tmp_path / "d", "status").output
    assert "reserved: x-robots-tag: 1" in text


def test_fetch_refuses_loopback_unless_the_environment_allows_it(
    ledger: Any, ledger_url: str, tmp_path: Path, server: Any, images: Any, remote_photos: Any
) -> None:
    remote_photos(ledger, [server.add("/a.jpg", body=images.jpeg(3))])
    refused = json.loads(_cli(ledger_url, tmp_path / "d", "fetch", "--json").stdout)
    assert refused["reasons"] == {"ssrf-refused": 1} and sum(server.hits.values()) == 0
    allowed = json.loads(_cli(ledger_url, tmp_path / "d", "fetch", "--retry", "--json",
                              env={"FACELEDGER_FETCH_ALLOW_PRIVATE": "1"}).stdout)  # fmt: skip
    assert allowed["fetched"] == 1


def test_sigkill_during_fetch_then_rerun_loses_and_duplicates_nothing(
    ledger: Any, ledger_url: str, tmp_path: Path, server: Any, images: Any, remote_photos: Any
) -> None:
    paths = [f"/p{i}.jpg" for i in range(10)]
    for i, path in enumerate(paths):
        server.add(path, body=images.jpeg(100 + i), block=(i == 6))
    ids = remote_photos(ledger, [server.url(p) for p in paths])
    data = tmp_path / "data"
    command = [sys.executable, "-m", "faceledger", "--database-url", ledger_url, "--data-dir", str(data),
               "fetch", "--workers", "1", "--json"]  # fmt: skip
    env = {**os.environ, "FACELEDGER_FETCH_ALLOW_PRIVATE": "1", "FACELEDGER_FETCH_BACKOFF": "0"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.entered.wait(120), "the fetch never reached the blocked photo"
    finally:
        first.kill()  # SIGKILL: no cleanup of any kind runs
        first.communicate(timeout=60)
    assert first.returncode == -9
    server.release.set()
    with ledger.read() as conn:
        committed = (
            conn.execute(select(PHOTOS.c.id).where(PHOTOS.c.fetch_status == "fetched"))
            .scalars()
            .all()
        )
    rerun = subprocess.run(command, env=env, capture_output=True, timeout=300, check=True)
    report = json.loads(rerun.stdout)
    assert report["fetched"] == 10 - len(committed) and report["failed"] == 0
    assert report["recovered"] == 6 - len(committed)  # finished before the kill, committed now
    for i, path in enumerate(paths):  # one download per photo: the killed one, and the rerun
        assert server.hits[path] == (2 if i == 6 else 1), path
    with ledger.read() as conn:
        rows = conn.execute(select(PHOTOS.c.id, PHOTOS.c.content_hash, PHOTOS.c.path, PHOTOS.c.scan_status)
                            .where(PHOTOS.c.id.in_(ids))).all()  # fmt: skip
    assert all(r.scan_status == "pending" and r.path for r in rows)
    assert len({r.content_hash for r in rows}) == 10
    stored = [p for p in (data / "images").rglob("*") if p.is_file()]
    assert sorted(p.name for p in stored) == sorted(r.content_hash for r in rows)  # no leftovers
    again = json.loads(
        subprocess.run(command, env=env, capture_output=True, timeout=300, check=True).stdout
    )
    assert (again["fetched"], again["skipped"]) == (0, 10)
