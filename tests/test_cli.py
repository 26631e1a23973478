from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from faceledger.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FACE = EXAMPLES / "photos" / "Abel_Pacheco_0001.jpg"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", [(), *_commands(main)], ids=lambda p: " ".join(p) or "main")
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_detect_json_follows_the_contract(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really")
    result = CliRunner().invoke(main, ["detect", str(FACE), str(broken), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    good, bad = document["images"]
    assert (good["path"], good["width"], good["height"]) == (str(FACE), 250, 250)
    assert len(good["faces"]) == 1
    face = good["faces"][0]
    assert set(face) >= {"box", "score", "landmarks"}
    x1, y1, x2, y2 = face["box"]
    assert 0 <= x1 < x2 <= 250 and 0 <= y1 < y2 <= 250
    assert len(face["landmarks"]) == 5 and all(len(p) == 2 for p in face["landmarks"])
    assert 0.4 <= face["score"] <= 1
    assert "error" in bad and "faces" not in bad


def test_ingest_scan_status_through_the_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--database-url", f"sqlite:///{tmp_path / 'cli.db'}"]
    result = runner.invoke(main, [*db, "ingest", str(EXAMPLES), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 52
    result = runner.invoke(main, [*db, "scan", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    scan = json.loads(result.stdout)
    assert scan["photos_scanned"] == 10 and scan["faces_found"] >= 25
    result = runner.invoke(main, [*db, "status", "--json"])
    status = json.loads(result.stdout)
    assert status["totals"]["faces"] == scan["faces_found"]
    assert status["totals"]["metadata_only"] == 42
    result = runner.invoke(main, [*db, "status"])
    assert "52 photos" in result.stdout


def test_status_errors_names_file_and_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "photo_id,url,date_taken\n1,https://e.org/1.jpg,2020-01-01\n2,https://e.org/2.jpg,soon\n"
    )
    runner = CliRunner()
    db = ["--database-url", f"sqlite:///{tmp_path / 'cli.db'}"]
    result = runner.invoke(main, [*db, "ingest", str(manifest)])
    assert result.exit_code == 0
    assert f"{manifest}:3: date_taken 'soon' is not a date" in result.output
    result = runner.invoke(main, [*db, "status", "--errors"])
    assert f"{manifest}:3: date_taken 'soon'" in result.stdout


def test_bad_configuration_exits_2_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACELEDGER_WORKERS", "-1")
    result = CliRunner().invoke(main, ["scan"])
    assert result.exit_code == 2
    assert "workers" in result.stderr and "FACELEDGER_WORKERS" in result.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
