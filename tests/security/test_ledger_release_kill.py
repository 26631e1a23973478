"""Finding 5: a kill between publishing a version folder and committing its row must not
block releases forever. The cut is killed (SIGKILL) at exactly that point, by a subprocess
whose publish step kills its own process right after the rename (no timing involved)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from faceledger.cli import main
from faceledger.services.lifecycle.releases import manifest_sha256
from faceledger.store import open_ledger
from faceledger.store.audit import verify_chain

KILL_AFTER_PUBLISH = """
import os, signal, sys
from faceledger.services.lifecycle import releases
publish = releases._publish
def publish_then_die(staging, folder):
    publish(staging, folder)
    os.kill(os.getpid(), signal.SIGKILL)   # after the rename, before the commit
releases._publish = publish_then_die
from faceledger.cli import main
main(sys.argv[1:], prog_name="faceledger")
"""


def _cli(ledger_url: str, data: Path, *args: str) -> list[str]:
    return ["--database-url", ledger_url, "--data-dir", str(data), *args]


def test_a_cut_killed_between_rename_and_commit_does_not_block_the_next(
    ledger_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    open_ledger(ledger_url).dispose()  # migrated once, outside the killed process
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_PUBLISH,
         *_cli(ledger_url, data, "release", "create", "r", "--purpose", "fairness-audit", "--allow-empty")],
        env={**os.environ}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    folder = data / "releases" / "r" / "v1"
    assert folder.is_dir()  # the orphan: published, never committed

    result = CliRunner().invoke(main, _cli(ledger_url, data, "release", "create", "r",
                                           "--purpose", "fairness-audit", "--allow-empty", "--json"))  # fmt: skip
    assert result.exit_code == 0, result.output
    version = json.loads(result.stdout)
    assert version["ref"] == "r@v1" and version["path"] == str(folder)
    files = {name: sha for name, sha in version["files"].items()}
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    assert manifest_sha256(files) == version["manifest_sha256"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging left

    again = CliRunner().invoke(main, _cli(ledger_url, data, "release", "create", "r", "--purpose",
                                          "fairness-audit", "--allow-empty", "--disclosure-basis",
                                          "consent", "--json"))  # a different version: not refused as identical  # fmt: skip
    assert again.exit_code == 0 and json.loads(again.stdout)["ref"] == "r@v2"
    ledger = open_ledger(ledger_url)
    try:
        with ledger.read() as conn:
            assert verify_chain(conn) is None
    finally:
        ledger.dispose()


def test_a_foreign_folder_in_the_way_is_still_refused(ledger_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_ledger(ledger_url).dispose()  # only ingest and init create a ledger
    (data / "releases" / "r" / "v1").mkdir(parents=True)
    (data / "releases" / "r" / "v1" / "notes.txt").write_text("not ours")
    result = CliRunner().invoke(main, _cli(ledger_url, data, "release", "create", "r",
                                           "--purpose", "fairness-audit", "--allow-empty"))  # fmt: skip
    assert result.exit_code == 2
    assert "not a faceledger version folder" in result.output
    assert (data / "releases" / "r" / "v1" / "notes.txt").exists()
