"""Tamper evidence: edits, deletions, insertions, reordering and truncation are found; the
chain never forks under concurrent writers (threads here; processes on PostgreSQL below)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from faceledger.cli import main
from faceledger.services.audit import record_checkpoint, verify_audit, verify_export
from faceledger.store import Ledger, open_ledger
from faceledger.store.audit import AuditRecord, _digest, append, check_chain

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _fill(ledger: Ledger, n: int = 6) -> None:
    for i in range(n):
        with ledger.begin() as conn:
            append(conn, AuditRecord(name="scan.started", actor="t", payload={"i": i}))


def _unprotected(ledger: Ledger) -> None:
    """Drop the append-only triggers, as a database administrator could."""
    with ledger.begin() as conn:
        if ledger.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))


def _ids(ledger: Ledger) -> list[int]:
    with ledger.read() as conn:
        return list(conn.execute(text("SELECT id FROM audit_events ORDER BY id")).scalars())


def test_an_untouched_chain_verifies(ledger: Ledger) -> None:
    _fill(ledger)
    result = verify_audit(ledger)
    assert result["ok"] and result["rows_checked"] == 6 == result["rows"]


@pytest.mark.parametrize(
    ("tamper", "position", "word"),
    [
        ("edit", 3, "edited"),
        ("delete", 3, "deleted"),
        ("insert", 5, "inserted"),
        ("reorder", 3, "reordered"),
    ],
)
def test_tampering_is_found_at_the_first_bad_row(
    ledger: Ledger, tamper: str, position: int, word: str
) -> None:
    _fill(ledger)
    _unprotected(ledger)
    ids = _ids(ledger)
    with ledger.begin() as conn:
        if tamper == "edit":
            conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = :i"), {"i": ids[2]})
        elif tamper == "delete":
            conn.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": ids[2]})
        elif tamper == "insert":  # a forged row after the 3rd, correctly chained to it
            row = conn.execute(text("SELECT * FROM audit_events WHERE id = :i"), {"i": ids[2]}).mappings().one()
            forged = AuditRecord(name="scan.started", actor="mallory", payload={"i": 99})
            at = row["at"] if not isinstance(row["at"], str) else datetime.fromisoformat(row["at"])
            conn.execute(text("UPDATE audit_events SET id = id + 1000 WHERE id > :i"), {"i": ids[2]})
            conn.execute(
                text("INSERT INTO audit_events (id, at, actor, name, object_type, object_id, payload, "
                     "prev_hash, hash) VALUES (:id, :at, 'mallory', 'scan.started', NULL, NULL, :p, :prev, :h)"),
                {"id": ids[2] + 1, "at": row["at"], "p": json.dumps({"i": 99}), "prev": row["hash"],
                 "h": _digest(row["hash"], at, forged)},
            )  # fmt: skip
        else:  # swap the contents of rows 3 and 4
            conn.execute(text("UPDATE audit_events SET id = -1 WHERE id = :i"), {"i": ids[2]})
            conn.execute(text("UPDATE audit_events SET id = :a WHERE id = :b"), {"a": ids[2], "b": ids[3]})
            conn.execute(text("UPDATE audit_events SET id = :b WHERE id = -1"), {"b": ids[3]})
    result = verify_audit(ledger)
    assert not result["ok"]
    assert result["first_bad_position"] == position, result
    assert word in result["problem"]


def test_truncation_and_rewrites_are_caught_by_a_checkpoint(ledger: Ledger, tmp_path: Path) -> None:
    _fill(ledger)
    points = tmp_path / "checkpoints.jsonl"
    record_checkpoint(ledger, points)
    assert verify_audit(ledger, checkpoints=points)["ok"]
    _unprotected(ledger)
    with ledger.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": _ids(ledger)[-1]})
    result = verify_audit(ledger, checkpoints=points)
    assert result["first_bad_position"] is None  # the shorter chain is internally valid ...
    assert not result["ok"] and result["checkpoint_problems"]  # ... but the checkpoint is not


def test_export_verifies_offline_and_a_tampered_export_fails(ledger: Ledger, tmp_path: Path) -> None:
    _fill(ledger)
    out = tmp_path / "audit.jsonl"
    runner = CliRunner()
    result = runner.invoke(main, ["--database-url", str(ledger.engine.url.render_as_string(hide_password=False)),
                                  "audit", "export", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert verify_export(out)["ok"]
    lines = out.read_text().splitlines()
    row = json.loads(lines[1])
    row["payload"] = {"i": 42}
    lines[1] = json.dumps(row)
    out.write_text("\n".join(lines) + "\n")
    broken = runner.invoke(main, ["audit", "verify", "--file", str(out)])
    assert broken.exit_code == 1
    assert "row 2" in broken.stderr and "edited" in broken.stderr


def _append_many(url: str, actor: str, count: int) -> None:
    ledger = open_ledger(url)
    for i in range(count):
        with ledger.begin() as conn:
            append(conn, AuditRecord(name="scan.started", actor=actor, payload={"i": i}))
    ledger.dispose()


def test_two_processes_and_a_scan_append_without_forking_the_chain(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    from faceledger.services.ingest import ingest_paths

    ingest_paths(ledger, [EXAMPLES])
    env = {**os.environ, "FACELEDGER_DATABASE_URL": ledger_url}
    script = (
        "import sys; from faceledger.store import open_ledger; "
        "from faceledger.store.audit import AuditRecord, append\n"
        "ledger = open_ledger(sys.argv[1])\n"
        "for i in range(40):\n"
        "    with ledger.begin() as conn:\n"
        "        append(conn, AuditRecord(name='scan.started', actor=sys.argv[2], payload={'i': i}))\n"
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, ledger_url, f"writer{n}"], env=env)
        for n in range(2)
    ]
    scan = subprocess.Popen([sys.executable, "-m", "faceledger", "scan", "--workers", "1", "--json"],
                            env=env, stdout=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    for process in [*writers, scan]:
        assert process.wait(timeout=max(1, deadline - time.monotonic())) == 0
    with ledger.read() as conn:
        check = check_chain(conn)
        counts = dict(conn.execute(text("SELECT actor, count(*) FROM audit_events GROUP BY actor")).all())
        names = list(conn.execute(text("SELECT name FROM audit_events WHERE actor = 'cli'")).scalars())
    assert check.ok, check
    assert counts["writer0"] == counts["writer1"] == 40
    assert names.count("scan.started") == names.count("scan.finished") == 1
    ledger.dispose()
