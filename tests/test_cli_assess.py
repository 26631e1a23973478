"""`faceledger assess / explain / exposure` through click's CliRunner, on a real scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from faceledger.cli import main
from faceledger.store import open_ledger
from faceledger.store.schema import FaceDecision

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def scanned_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite ledger with the examples ingested and really scanned (shared, read-mostly)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'ledger.db'}"
    runner = CliRunner()
    assert (
        runner.invoke(main, ["--database-url", url, "ingest", str(EXAMPLES), "--json"]).exit_code
        == 0
    )
    result = runner.invoke(main, ["--database-url", url, "scan", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    return url


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main, ["--database-url", url, *args], env=env)


def test_assess_prints_the_summary_and_json_gives_the_same_numbers(scanned_db: str) -> None:
    env = {"FACELEDGER_PROCESSOR_LOCATION": "US-WA"}
    result = _run(scanned_db, "assess", "--as-of", "2025-09-01", env=env)
    assert result.exit_code == 0, result.output
    assert "blocked by law and section:" in result.stdout
    assert "us-il-bipa 15(b):" in result.stdout
    assert "processor: US-WA" in result.stdout
    result = _run(scanned_db, "assess", "--as-of", "2025-09-01", "--json", env=env)
    document = json.loads(result.stdout)
    assert document["date"] == "2025-09-01" and document["processor"]["location"] == "US-WA"
    assert document["allowed"] + document["blocked"] == document["faces"] >= 10
    assert f"allowed: {document['allowed']:,}" in _run(scanned_db, "assess", "--as-of", "2025-09-01",
                                                        env=env).stdout  # fmt: skip
    ledger = open_ledger(scanned_db)
    with ledger.read() as conn:
        assert (
            conn.execute(select(func.count()).select_from(FaceDecision)).scalar_one()
            == document["faces"]
        )
    ledger.dispose()


def test_assess_refuses_a_bad_date_and_a_bad_processor(scanned_db: str) -> None:
    result = _run(scanned_db, "assess", "--as-of", "01/09/2025")
    assert result.exit_code == 2 and "not a date" in result.output
    result = _run(scanned_db, "assess", env={"FACELEDGER_PROCESSOR_LOCATION": "Illinois"})
    assert result.exit_code == 2 and "processor_location" in result.stderr


def test_explain_prints_the_reasoning_and_errors_on_unknown_ids(scanned_db: str) -> None:
    assert _run(scanned_db, "assess", "--as-of", "2025-09-01").exit_code == 0
    result = _run(scanned_db, "explain", "1")
    assert result.exit_code == 0, result.output
    assert "owner location: Chicago, IL" in result.stdout
    assert "DECISION: BLOCK" in result.stdout
    assert "VIOLATION 15(b)" in result.stdout
    assert "today's policies decide the same as recorded" in result.stdout
    document = json.loads(_run(scanned_db, "explain", "1", "--json").stdout)
    assert document["recorded"]["decision"] == "block" and document["changed"] is False
    result = _run(scanned_db, "explain", "424242")
    assert result.exit_code == 2 and "no face with id 424242" in result.stderr
    result = _run(scanned_db, "explain", "1", "--purpose", "never-assessed")
    assert result.exit_code == 2 and "no recorded decision" in result.stderr


def test_exposure_states_its_assumptions(scanned_db: str) -> None:
    assert _run(scanned_db, "assess", "--as-of", "2025-09-01").exit_code == 0
    result = _run(scanned_db, "exposure", "--turnover", "100000000")
    assert result.exit_code == 0, result.output
    assert "not clustered" in result.stdout and "us-il-bipa" in result.stdout
    document = json.loads(_run(scanned_db, "exposure", "--json").stdout)
    bipa = next(law for law in document["laws"] if law["law"] == "us-il-bipa")
    # No retention schedule was published: 15(a) counts per scan, 15(b) per person (SB 2979).
    assert bipa["exposure"]["unit"] == "mixed"
    parts = {tuple(p["sections"]): p["unit"] for p in bipa["exposure"]["parts"]}
    assert parts == {("15(a)",): "scan", ("15(b)",): "person"}
    assert document["faces_blocked"] <= document["faces_assessed"]
