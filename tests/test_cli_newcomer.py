"""What a newcomer meets first (issue 13 items 6-9): a release that says why it is empty and
takes a disclosure basis, no ledger created by a typo, `init`, scan before ingest, consents for
unknown owners, `-v`, and the demo's faceledger.toml. Real ledgers on both backends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, select

from faceledger.cli import main
from faceledger.store import open_ledger
from faceledger.store.schema import AuditEvent, Face, Photo

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
FRT = "train-face-recognition"
SEATTLE = "70000003@N01"  # ex-0003, Seattle: under MHMDA when processing runs in Washington
WASHINGTON = {"FACELEDGER_PROCESSOR_LOCATION": "US-WA"}
NO_LEDGER = "run `faceledger ingest` or `faceledger init` first"


def _cli(url: str, data: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        main, ["--database-url", url, "--data-dir", str(data), *args], env=env
    )


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _fake_faces(url: str, fake_scan: Any) -> dict[str, int]:
    """One face per ingested photo (the real scan, with the fake detector); photo external id
    -> face id."""
    ledger = open_ledger(url)
    fake_scan(ledger, ((0.0, 0.0, 50.0, 50.0),))
    photos, faces = Photo.__table__, Face.__table__
    with ledger.read() as conn:
        found = dict(
            conn.execute(
                select(photos.c.external_id, faces.c.id).join(
                    faces, faces.c.photo_id == photos.c.id
                )
            ).all()
        )
    ledger.dispose()
    return {str(k): int(v) for k, v in found.items()}


@pytest.fixture
def washington(
    ledger_url: str, tmp_path: Path, subject_consent: Any, fake_scan: Any
) -> Iterator[tuple[str, Path]]:
    """The example manifest ingested (one fake face per photo), processing in Washington; the
    woman in ex-0003 claims her face and consents to training (not to sharing); assessed:
    her face alone may have a template, and MHMDA 19.373.030(1)(b) gates its release."""
    data = tmp_path / "data"
    assert _cli(ledger_url, data, "ingest", str(EXAMPLES / "photos.csv"), "--json").exit_code == 0
    faces = _fake_faces(ledger_url, fake_scan)
    ledger = open_ledger(ledger_url)
    subject_consent(ledger, [faces["ex-0003"]], FRT)
    ledger.dispose()
    assessed = _cli(ledger_url, data, "assess", "--json", env=WASHINGTON)
    assert assessed.exit_code == 0, assessed.output
    assert json.loads(assessed.stdout)["allowed"] == 1
    yield ledger_url, data


def _events(url: str, name: str) -> list[dict[str, Any]]:
    ledger = open_ledger(url, create=False)
    table = AuditEvent.__table__
    with ledger.read() as conn:
        rows = (
            conn.execute(select(table.c.payload).where(table.c.name == name).order_by(table.c.id))
            .scalars()
            .all()
        )
    ledger.dispose()
    return [dict(r) for r in rows]


# --- item 6: release create says why, takes a disclosure basis, refuses an identical cut -------


def test_a_release_whose_every_face_is_blocked_exits_2_and_says_why_per_law_and_section(
    washington: tuple[str, Path],
) -> None:
    url, data = washington
    result = _cli(url, data, "release", "create", "r", "--purpose", FRT, env=WASHINGTON)
    assert result.exit_code == 2, result.output
    assert (
        "release r: no face and no photo may be released for 'train-face-recognition'"
        in result.stderr
    )
    assert "withheld 10 of 10 faces" in result.stderr
    assert "9 blocked for 'train-face-recognition' (extract-template)" in result.stderr
    assert "us-wa-mhmda 19.373.030(1)(a): 9 faces" in result.stderr
    assert "1 blocked for release (a disclosure)" in result.stderr
    assert "us-wa-mhmda 19.373.030(1)(b): 1 faces" in result.stderr
    assert "- no disclosure basis given (1)" in result.stderr
    assert "--disclosure-basis consent|required-by-law" in result.stderr
    as_json = _cli(url, data, "release", "create", "r", "--purpose", FRT, "--json", env=WASHINGTON)
    assert as_json.exit_code == 2
    withheld = json.loads(as_json.stdout)["withheld"]
    assert (withheld["considered"], withheld["released"], withheld["extract_blocked_faces"]) == (
        10,
        0,
        9,
    )
    assert withheld["release_blocked"][0]["law"] == "us-wa-mhmda"
    assert withheld["release_blocked"][0]["section"] == "19.373.030(1)(b)"
    listed = _cli(url, data, "release", "list", "--json")
    assert json.loads(listed.stdout)["versions"] == []  # nothing cut, nothing half-written
    assert not (data / "releases" / "r").exists() or not any((data / "releases" / "r").iterdir())


def test_a_disclosure_basis_is_checked_recorded_and_audited_and_an_identical_cut_is_refused(
    washington: tuple[str, Path],
) -> None:
    url, data = washington
    consent = _cli(url, data, "release", "create", "r", "--purpose", FRT, "--disclosure-basis", "consent",
                   env=WASHINGTON)  # fmt: skip
    assert consent.exit_code == 2  # MHMDA: consent to collect is not consent to share
    assert "sharing needs its own consent" in consent.stderr
    assert "--purpose share" in consent.stderr
    bogus = _cli(
        url, data, "release", "create", "r", "--purpose", FRT, "--disclosure-basis", "contract"
    )
    assert bogus.exit_code == 2 and "Invalid value for '--disclosure-basis'" in bogus.stderr

    cut = _cli(url, data, "release", "create", "r", "--purpose", FRT, "--disclosure-basis", "required-by-law",
               "--json", env=WASHINGTON)  # fmt: skip
    assert cut.exit_code == 0, cut.output
    version = json.loads(cut.stdout)
    assert (version["ref"], version["faces"], version["disclosure_basis"]) == (
        "r@v1",
        1,
        "required-by-law",
    )
    assert (
        version["withheld"]["released"] == 1 and version["withheld"]["release_blocked_faces"] == 0
    )
    listed = json.loads(_cli(url, data, "release", "list", "--json").stdout)["versions"]
    assert [(v["ref"], v["disclosure_basis"]) for v in listed] == [("r@v1", "required-by-law")]
    assert "[basis: required-by-law]" in _cli(url, data, "release", "list").stdout
    assert _events(url, "release.create")[-1]["disclosure_basis"] == "required-by-law"
    runs = [
        e
        for e in _events(url, "assess.run")
        if e.get("trigger", {}).get("event") == "release.create"
    ]
    assert runs[-1]["trigger"]["disclosure_basis"] == "required-by-law"

    again = _cli(url, data, "release", "create", "r", "--purpose", FRT, "--disclosure-basis", "required-by-law",
                 env=WASHINGTON)  # fmt: skip
    assert again.exit_code == 2
    assert (
        "release r: nothing changed since r@v1" in again.stderr
        and "no new version cut" in again.stderr
    )
    assert [
        v["ref"]
        for v in json.loads(_cli(url, data, "release", "list", "--json").stdout)["versions"]
    ] == ["r@v1"]
    assert sorted(p.name for p in (data / "releases" / "r").iterdir()) == ["v1"]  # no staging left


def test_allow_empty_cuts_an_empty_version_once(washington: tuple[str, Path]) -> None:
    url, data = washington
    empty = _cli(
        url,
        data,
        "release",
        "create",
        "e",
        "--purpose",
        FRT,
        "--allow-empty",
        "--json",
        env=WASHINGTON,
    )
    assert empty.exit_code == 0, empty.output
    assert (json.loads(empty.stdout)["faces"], json.loads(empty.stdout)["photos"]) == (0, 0)
    text = _cli(
        url, data, "release", "create", "e", "--purpose", FRT, "--allow-empty", env=WASHINGTON
    )
    assert text.exit_code == 2 and "nothing changed since e@v1" in text.stderr


# --- item 8: only ingest and init create a ledger ----------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["status"], ["assess"], ["explain", "1"], ["release", "list"], ["audit", "verify"], ["subjects"],
     ["consent", "list"], ["exposure"], ["scan"]],
    ids=" ".join,
)  # fmt: skip
def test_a_command_that_needs_a_ledger_never_creates_one(
    ledger_url: str, tmp_path: Path, command: list[str]
) -> None:
    result = _cli(ledger_url, tmp_path / "data", *command)
    assert result.exit_code == 2, result.output
    where = (
        str(tmp_path / "ledger.db") if ledger_url.startswith("sqlite") else "postgresql+psycopg://"
    )
    assert f"error: no ledger at {where}" in result.stderr and NO_LEDGER in result.stderr
    if ledger_url.startswith("sqlite"):
        assert not (tmp_path / "ledger.db").exists()
    else:
        assert _tables(ledger_url) == []  # no alembic_version, nothing else either


def test_init_creates_the_ledger_once_and_then_commands_open_it(
    ledger_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    created = _cli(ledger_url, data, "init", "--json")
    assert created.exit_code == 0, created.output
    first = json.loads(created.stdout)
    assert first["created"] is True and first["schema"]
    assert "alembic_version" in _tables(ledger_url)
    again = json.loads(_cli(ledger_url, data, "init", "--json").stdout)
    assert again["created"] is False and again["schema"] == first["schema"]
    status = _cli(ledger_url, data, "status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["totals"]["photos"] == 0
    # item 9: scan on a ledger with nothing in it says to ingest first
    scan = _cli(ledger_url, data, "scan")
    assert (
        scan.exit_code == 2
        and "nothing ingested" in scan.stderr
        and "faceledger ingest" in scan.stderr
    )


def test_an_empty_sqlite_file_is_no_ledger_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    path.touch()
    result = _cli(f"sqlite:///{path}", tmp_path / "data", "status")
    assert result.exit_code == 2 and f"no ledger at {path}" in result.stderr
    assert path.stat().st_size == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_refuses_a_missing_ledger_before_listening(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACELEDGER_")}
    done = subprocess.run(
        [sys.executable, "-m", "faceledger", "--database-url", f"sqlite:///{tmp_path / 'nope.db'}",
         "--data-dir", str(tmp_path / "data"), "serve", "--port", str(_free_port())],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no ledger at" in done.stderr and "portal on" not in done.stderr
    assert not (tmp_path / "nope.db").exists()


# --- item 9: consents for unknown owners; -v ---------------------------------------------------


def test_an_owner_consent_for_an_owner_with_no_photo_is_refused_unless_forced(
    ledger_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert _cli(ledger_url, data, "ingest", str(EXAMPLES / "photos.csv")).exit_code == 0
    args = ["consent", "add", "--form", "written", "--informed", "--purpose", FRT, "--json"]
    typo = _cli(ledger_url, data, *args, "--owner", "70000033@N01")
    assert typo.exit_code == 2
    assert (
        "owner '70000033@N01' has no photo in the ledger" in typo.stderr
        and "--force" in typo.stderr
    )
    assert json.loads(_cli(ledger_url, data, "consent", "list", "--json").stdout)["consents"] == []
    forced = _cli(ledger_url, data, *args, "--owner", "70000033@N01", "--force")
    assert forced.exit_code == 0, forced.output
    known = _cli(ledger_url, data, *args, "--owner", SEATTLE)
    assert known.exit_code == 0, known.output
    owners = [
        c["owner_id"]
        for c in json.loads(_cli(ledger_url, data, "consent", "list", "--json").stdout)["consents"]
    ]
    assert owners == ["70000033@N01", SEATTLE]


def test_verbose_shows_faceledger_debug_lines_and_not_alembics(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACELEDGER_")}
    done = subprocess.run(
        [sys.executable, "-m", "faceledger", "-v", "--database-url", f"sqlite:///{tmp_path / 'l.db'}", "init"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert "DEBUG faceledger.store.db: ledger sqlite:///" in done.stderr
    assert "migrating to" in done.stderr
    assert "alembic" not in done.stderr and "sqlalchemy" not in done.stderr


# --- item 7: faceledger.toml (what make demo writes) is what a plain faceledger opens ----------


def test_a_faceledger_toml_in_the_working_folder_names_the_ledger_a_plain_command_opens(
    tmp_path: Path,
) -> None:
    # the same three keys make demo writes (checked below against the Makefile)
    (tmp_path / "faceledger.toml").write_text(
        f'database_url = "sqlite:///{tmp_path / "demo.db"}"\n'
        f'data_dir = "{tmp_path / "demo"}"\nprocessor_location = "US-WA"\n'
    )
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(EXAMPLES / "photos.csv")]).exit_code == 0
    assert (tmp_path / "demo.db").is_file() and not (tmp_path / "faceledger.db").exists()
    status = runner.invoke(main, ["status", "--json"])
    assert json.loads(status.stdout)["totals"]["photos"] == 10
    makefile = (REPO / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\ntest:", 1)[0]
    assert "> faceledger.toml" in demo
    for key in ("database_url = ", "data_dir = ", "processor_location = "):
        assert key in demo
    hints = [line.split('"')[1].split(":", 1)[-1].strip() for line in demo.splitlines()
             if line.strip().startswith("@echo") and ("next:" in line or line.strip().startswith('@echo "        '))]  # fmt: skip
    commands = [h for h in hints if h.startswith("faceledger ")]
    assert "faceledger explain 1" in commands and "source .venv/bin/activate" in hints
    for command in commands:  # short, and real commands
        assert command.split()[1] in main.commands, command
    assert "/faceledger.toml" in (REPO / ".gitignore").read_text().splitlines()
