"""`faceledger consent add / revoke / list / import` through click's CliRunner, on SQLite and
PostgreSQL. Faces are inserted directly: the detector is not the point here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import insert, select, update

from faceledger.cli import main
from faceledger.cli._common import CliState
from faceledger.store import Ledger, open_ledger
from faceledger.store.ledger import utcnow
from faceledger.store.schema import AuditEvent, Face, FaceDecision, Photo, ScanRun

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FRT = "train-face-recognition"
CHICAGO = "70000001@N01"
ILLINOIS = {"FACELEDGER_PROCESSOR_LOCATION": "US-IL"}


_OPENED: list[Ledger] = []


@pytest.fixture(autouse=True)
def _dispose_cli_ledgers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the ledgers the CLI opens, so :func:`_run` can close them.

    The CLI never disposes its ledger's engine; on PostgreSQL the pooled connection is then
    garbage-collected open, a ResourceWarning (an error here). Until the CLI closes it on
    exit (``ctx.call_on_close``), the tests do.
    """
    original = CliState.ledger

    def ledger(self: CliState) -> Ledger:
        handle = original(self)
        if handle not in _OPENED:
            _OPENED.append(handle)
        return handle

    monkeypatch.setattr(CliState, "ledger", ledger)


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    try:
        return CliRunner().invoke(main, ["--database-url", url, *args], env=env)
    finally:
        while _OPENED:
            _OPENED.pop().dispose()


@pytest.fixture
def assessed_url(ledger_url: str) -> str:
    """The example manifest ingested, one fake face per photo, assessed in Illinois."""
    assert _run(ledger_url, "ingest", str(EXAMPLES / "photos.csv"), "--json").exit_code == 0
    ledger = open_ledger(ledger_url)
    now = utcnow()
    with ledger.begin() as conn:
        run_id = conn.execute(
            insert(ScanRun.__table__)
            .values(started_at=now, status="done", detector_name="fake", detector_version="0",
                    threshold=0.4, workers=1, photos_done=0, photos_failed=0, faces_found=0)
            .returning(ScanRun.__table__.c.id)
        ).scalar_one()  # fmt: skip
        photos = conn.execute(select(Photo.__table__.c.id)).scalars().all()
        conn.execute(insert(Face.__table__), [
            {"photo_id": p, "face_index": 0, "x1": 0.0, "y1": 0.0, "x2": 50.0, "y2": 50.0,
             "score": 0.9, "landmarks": [[1.0, 2.0]] * 5, "face_size": 50.0, "quality": None,
             "detector_name": "fake", "detector_version": "0", "scan_run_id": run_id,
             "created_at": now}
            for p in photos
        ])  # fmt: skip
        conn.execute(update(Photo.__table__).values(scan_status="done"))
    ledger.dispose()
    result = _run(ledger_url, "assess", "--json", env=ILLINOIS)
    assert result.exit_code == 0, result.output
    return ledger_url


def _chicago_decisions(url: str) -> list[str]:
    ledger = open_ledger(url)
    decisions, faces, photos = FaceDecision.__table__, Face.__table__, Photo.__table__
    with ledger.read() as conn:
        rows = conn.execute(
            select(decisions.c.decision)
            .join(faces, faces.c.id == decisions.c.face_id)
            .join(photos, photos.c.id == faces.c.photo_id)
            .where(photos.c.owner_id == CHICAGO, decisions.c.purpose == FRT)
        ).scalars().all()
    ledger.dispose()
    return list(rows)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_prints_the_receipt_and_revoke_blocks_again(assessed_url: str) -> None:
    assert _chicago_decisions(assessed_url) == ["block"]
    result = _run(assessed_url, "consent", "add", "--owner", CHICAGO, "--form", "written",
                  "--purpose", FRT, "--informed", "--granted", "2025-01-10")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "receipt: " in result.stdout
    receipt = result.stdout.split("receipt: ", 1)[1].split()[0]
    assert f"({FRT}): 1 allowed, 0 blocked" in result.stdout
    assert _chicago_decisions(assessed_url) == ["allow"]

    listed = _json(_run(assessed_url, "consent", "list", "--owner", CHICAGO, "--json"))
    (entry,) = listed["consents"]
    assert entry["receipt"] == receipt and entry["status"] == "active"
    assert entry["purposes"] == [FRT] and entry["informed"] is True

    revoked = _run(assessed_url, "consent", "revoke", receipt)
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked consent {entry['id']} from " in revoked.stdout
    assert "0 allowed, 1 blocked" in revoked.stdout
    assert _chicago_decisions(assessed_url) == ["block"]
    again = _json(_run(assessed_url, "consent", "revoke", str(entry["id"]), "--json"))
    assert again["changed"] is False
    text = _run(assessed_url, "consent", "list")
    assert "revoked" in text.stdout and "1 consents" in text.stdout


def test_add_json_and_an_electronic_consent_before_sb_2979(assessed_url: str) -> None:
    document = _json(_run(
        assessed_url, "consent", "add", "--owner", CHICAGO, "--form", "electronic",
        "--purpose", FRT, "--purpose", "fairness-audit", "--informed",
        "--granted", "2024-07-01", "--json",
    ))  # fmt: skip
    assert document["consent"]["form"] == "electronic"
    assert document["consent"]["purposes"] == [FRT, "fairness-audit"]
    assert document["reassessed"]["faces"] == 1 and document["reassessed"]["blocked"] == 1
    assert _chicago_decisions(assessed_url) == ["block"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--form", "written", "--purpose", FRT], "a consent must name owner_id or subject_id"),
        (["--owner", CHICAGO, "--form", "written", "--purpose", FRT, "--evidence-sha256", "zz"],
         "evidence_sha256 'zz' is not 64 hex digits"),
    ],
)  # fmt: skip
def test_add_with_bad_values_exits_2(ledger_url: str, args: list[str], message: str) -> None:
    result = _run(ledger_url, "consent", "add", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_bad_date_is_a_usage_error(ledger_url: str) -> None:
    result = _run(ledger_url, "consent", "add", "--owner", CHICAGO, "--form", "written",
                  "--purpose", FRT, "--granted", "10/01/2025")  # fmt: skip
    assert result.exit_code == 2 and "is not a date (YYYY-MM-DD)" in result.stderr


def test_revoking_an_unknown_consent_exits_2(ledger_url: str) -> None:
    result = _run(ledger_url, "consent", "revoke", "nope")
    assert result.exit_code == 2
    assert "no consent with id or receipt 'nope'" in result.stderr


def test_import_reports_bad_rows_on_stderr_and_counts(assessed_url: str, tmp_path: Path) -> None:
    path = tmp_path / "consents.csv"
    path.write_text(
        "owner_id,form,purposes,informed,granted\n"
        f"{CHICAGO},written,{FRT},true,2025-01-10\n"
        f"{CHICAGO},scribbled,{FRT},true,2025-01-10\n"
        f"{CHICAGO},written,{FRT},true,yesterday\n"
    )
    result = _run(assessed_url, "consent", "import", str(path), env=ILLINOIS)
    assert result.exit_code == 0, result.output
    assert "rejected consents.csv:3: form 'scribbled' is not one of" in result.stderr
    assert "rejected consents.csv:4: granted 'yesterday' is not a date" in result.stderr
    assert "imported 1 consents from consents.csv: 3 rows, 0 already recorded, 2 rejected" in result.stdout
    assert _chicago_decisions(assessed_url) == ["allow"]
    document = _json(_run(assessed_url, "consent", "import", str(path), "--json"))
    assert (document["added"], document["duplicates"], document["rejected"]) == (0, 1, 2)
    ledger = open_ledger(assessed_url)
    with ledger.read() as conn:
        names = conn.execute(
            select(AuditEvent.__table__.c.name).where(AuditEvent.__table__.c.name.like("consent.%"))
        ).scalars().all()
    ledger.dispose()
    assert names == ["consent.import", "consent.import"]


def test_list_on_an_empty_ledger(ledger_url: str) -> None:
    result = _run(ledger_url, "consent", "list")
    assert result.exit_code == 0 and "no consents recorded" in result.stdout
