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
from faceledger.services.oversight.audit import record_checkpoint, verify_audit, verify_export
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
            conn.execute(
                text("UPDATE audit_events SET actor = 'mallory' WHERE id = :i"), {"i": ids[2]}
            )
        elif tamper == "delete":
            conn.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": ids[2]})
        elif tamper == "insert":  # a forged row after the 3rd, correctly chained to it
            row = (
                conn.execute(text("SELECT * FROM audit_events WHERE id = :i"), {"i": ids[2]})
                .mappings()
                .one()
            )
            forged = AuditRecord(name="scan.started", actor="mallory", payload={"i": 99})
            at = row["at"] if not isinstance(row["at"], str) else datetime.fromisoformat(row["at"])
            conn.execute(
                text("UPDATE audit_events SET id = id + 1000 WHERE id > :i"), {"i": ids[2]}
            )
            conn.execute(
                text("INSERT INTO audit_events (id, at, actor, name, object_type, object_id, payload, "
                     "prev_hash, hash) VALUES (:id, :at, 'mallory', 'scan.started', NULL, NULL, :p, :prev, :h)"),
                {"id": ids[2] + 1, "at": row["at"], "p": json.dumps({"i": 99}), "prev": row["hash"],
                 "h": _digest(row["hash"], at, forged)},
            )  # fmt: skip
        else:  # swap the contents of rows 3 and 4
            conn.execute(text("UPDATE audit_events SET id = -1 WHERE id = :i"), {"i": ids[2]})
            conn.execute(
                text("UPDATE audit_events SET id = :a WHERE id = :b"), {"a": ids[2], "b": ids[3]}
            )
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


def test_export_verifies_offline_and_a_tampered_export_fails(
    ledger: Ledger, tmp_path: Path
) -> None:
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


def test_two_processes_and_a_scan_append_without_forking_the_chain(
    ledger_url: str, tmp_path: Path
) -> None:
    ledger = open_ledger(ledger_url)
    from faceledger.services.collection.ingest import ingest_paths

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
        counts = dict(
            conn.execute(text("SELECT actor, count(*) FROM audit_events GROUP BY actor")).all()
        )
        names = list(
            conn.execute(text("SELECT name FROM audit_events WHERE actor = 'cli'")).scalars()
        )
    assert check.ok, check
    assert counts["writer0"] == counts["writer1"] == 40
    assert names.count("scan.started") == names.count("scan.finished") == 1
    ledger.dispose()


# --- finding 8: automatic checkpoints, kept outside the database -----------------------------


def _cli_db(ledger: Ledger, data: Path) -> list[str]:
    return ["--database-url", ledger.engine.url.render_as_string(hide_password=False),
            "--data-dir", str(data)]  # fmt: skip


def test_every_writing_command_leaves_a_checkpoint_so_an_emptied_log_fails(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Before: nothing took a checkpoint unless asked, so emptying the table still verified."""
    data = tmp_path / "data"
    runner = CliRunner()
    assert (
        runner.invoke(
            main, [*_cli_db(ledger, data), "ingest", str(EXAMPLES / "photos.csv")]
        ).exit_code
        == 0
    )
    points = data / "audit-checkpoints.jsonl"
    lines = points.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["rows"] == len(_ids(ledger))
    assert os.stat(points).st_mode & 0o777 == 0o600
    assert runner.invoke(main, [*_cli_db(ledger, data), "status"]).exit_code == 0
    assert len(points.read_text().splitlines()) == 1  # a read-only command adds none
    assert runner.invoke(main, [*_cli_db(ledger, data), "audit", "verify"]).exit_code == 0

    _unprotected(ledger)
    with ledger.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    emptied = runner.invoke(main, [*_cli_db(ledger, data), "audit", "verify"])
    assert emptied.exit_code == 1 and "no longer matches" in emptied.stderr


def test_cutting_the_tail_after_a_periodic_checkpoint_fails_verify(
    ledger: Ledger, tmp_path: Path
) -> None:
    from faceledger.services.oversight.audit import install_checkpoints

    points = tmp_path / "elsewhere" / "checkpoints.jsonl"
    install_checkpoints(ledger, points, every=4)
    _fill(ledger, 9)  # checkpoints after events 4 and 8, taken while the command runs
    taken = [json.loads(line) for line in points.read_text().splitlines()]
    assert [p["rows"] for p in taken] == [4, 8]
    _unprotected(ledger)
    with ledger.begin() as conn:  # cut the newest rows back to before the last checkpoint
        conn.execute(text("DELETE FROM audit_events WHERE id > :i"), {"i": _ids(ledger)[6]})
    result = verify_audit(ledger, checkpoints=points)
    assert result["first_bad_position"] is None and not result["ok"]
    assert len(result["checkpoint_problems"]) == 1 and "8 rows" in result["checkpoint_problems"][0]


def test_no_new_checkpoint_extends_a_chain_that_lost_checkpointed_rows(
    ledger: Ledger, tmp_path: Path
) -> None:
    from faceledger.errors import AuditBroken

    points = tmp_path / "checkpoints.jsonl"
    _fill(ledger, 5)
    record_checkpoint(ledger, points)
    _unprotected(ledger)
    with ledger.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": _ids(ledger)[-1]})
    _fill(ledger, 2)  # the log goes on as if nothing happened ...
    with pytest.raises(AuditBroken, match="no longer matches"):
        record_checkpoint(ledger, points)  # ... but it cannot be vouched for again
    assert len(points.read_text().splitlines()) == 1


def test_a_checkpoint_reads_only_the_rows_after_the_previous_one(
    ledger: Ledger, tmp_path: Path
) -> None:
    points = tmp_path / "checkpoints.jsonl"
    _fill(ledger, 5)
    first = record_checkpoint(ledger, points)
    _fill(ledger, 3)
    second = record_checkpoint(ledger, points)
    assert first is not None and second is not None
    assert (second["rows"], second["last_id"]) == (8, _ids(ledger)[-1])
    assert record_checkpoint(ledger, points, only_if_new=True) is None  # nothing new: no line
    assert verify_audit(ledger, checkpoints=points)["checkpoints_checked"] == 2


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"rows": 3, "last_id": 3, "head": "abc"}\n', ":1: 'head' must be a sha256"),
        (
            b'{"at": "x", "rows": 1, "last_id": 1, "head": "' + b"a" * 64 + b'"}\n{not json\n',
            ":2: not valid JSON",
        ),
        (b"\xff\xfe\n", ":1: not valid UTF-8"),
        (b"[1, 2]\n", ":1: not a checkpoint"),
        (b'{"rows": -1}\n', ":1: 'rows' must be"),
        (b"[" * 100_000 + b"\n", ":1: not valid JSON"),
    ],
)
def test_a_malformed_checkpoints_file_is_a_clear_error(
    ledger: Ledger, tmp_path: Path, content: bytes, message: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "audit-checkpoints.jsonl").write_bytes(content)
    result = CliRunner().invoke(main, [*_cli_db(ledger, data), "audit", "verify"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert "audit-checkpoints.jsonl" in result.stderr and message in result.stderr
