"""The release, consumer, request, retention and policy publish commands, end to end through
click's CliRunner (SQLite; the services are tested on both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceledger.cli import main

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_release_request_and_sweep_commands(world, ledger_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = ["--database-url", ledger_url, "--data-dir", str(world.settings.data_dir)]
    env = {"FACELEDGER_PROCESSOR_LOCATION": "US-FL"}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, [*base, *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    purpose = world.settings.purpose
    created = json.loads(run("release", "create", "faces", "--purpose", purpose, "--json"))
    assert created["ref"] == "faces@v1" and created["faces"] == 5
    assert "faces@v1" in run("release", "list")
    run("consumer", "add", "lab", "--release", "faces@v1")
    filed = json.loads(run("request", "new", "--kind", "erasure", "--photo", "alan", "--json"))
    bad = runner.invoke(main, [*base, "request", "execute", filed["receipt"]], env=env)
    assert bad.exit_code == 2 and "only a verified request can be executed" in bad.output
    unproven = runner.invoke(main, [*base, "request", "verify", filed["receipt"]], env=env)
    assert (
        unproven.exit_code == 2 and "verified ownership" in unproven.output
    )  # a whole photo: the owner's
    form = tmp_path / "signed-request.pdf"
    form.write_bytes(b"%PDF-1.4 request signed by the owner of alan")
    verified = json.loads(run("request", "verify", filed["receipt"], "--form", str(form), "--signer", "B. Owner",
                              "--signed", "2026-11-30", "--owner", "owner-b@N01", "--json"))  # fmt: skip
    assert verified["status"] == "verified" and verified["evidence"][0]["kind"] == "signed-form"
    assert (
        run("request", "faces", str(filed["id"])).strip() == "this request covers no single faces"
    )
    shown = run("request", "execute", str(filed["id"]))
    assert "tell lab (received faces@v1), replaced by faces@v2" in shown
    assert "NOTICE DUE" in run("consumer", "list")
    assert "faces: +0 -1" in run("release", "diff", "faces@v1", "faces@v2")
    assert "would destroy templates of 0 faces" in run("retention", "sweep", "--dry-run")
    swept = json.loads(run("retention", "sweep", "--as-of", "2100-01-01", "--json"))
    assert swept["faces"] == 0  # Florida faces: no law sets a destroy-by date
    assert "retention-policy.html" in run("policy", "publish", "--out", str(tmp_path / "site"))
    incomplete = runner.invoke(main, [*base, "request", "new", "--kind", "optout"], env=env)
    assert incomplete.exit_code == 2 and "exactly one" in incomplete.output
