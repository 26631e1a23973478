from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DatabaseError

from faceledger.errors import LedgerError
from faceledger.store import Ledger, open_ledger
from faceledger.store.audit import AuditRecord, append, verify_chain
from faceledger.store.db import current_revision, head_revision
from faceledger.store.schema import AuditEvent, Base


def test_migrations_build_the_whole_schema(ledger: Ledger) -> None:
    tables = set(inspect(ledger.engine).get_table_names())
    assert {"sources", "photos", "faces", "scan_runs", "ingest_rejects", "audit_events"} <= tables
    assert current_revision(ledger.engine) == head_revision()


def test_models_and_migrations_agree(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_twice_is_harmless(ledger_url: str) -> None:
    open_ledger(ledger_url).dispose()
    again = open_ledger(ledger_url)
    assert current_revision(again.engine) == head_revision()
    again.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'wal.db'}")
    with ledger.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_audit_rows_are_chained_and_verify(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        first = append(conn, AuditRecord(name="scan.started", actor="t", payload={"n": 1}))
        second = append(conn, AuditRecord(name="scan.finished", actor="t", payload={"n": 2}))
    with ledger.read() as conn:
        rows = conn.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).mappings().all()
        assert [r["hash"] for r in rows] == [first, second]
        assert rows[1]["prev_hash"] == first
        assert verify_chain(conn) is None


def test_audit_table_refuses_update_and_delete(ledger: Ledger) -> None:
    with ledger.begin() as conn:
        append(conn, AuditRecord(name="scan.started", actor="t"))
    for statement in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError, match="append-only"), ledger.begin() as conn:
            conn.execute(text(statement))
    with ledger.read() as conn:
        assert conn.execute(text("SELECT actor FROM audit_events")).scalar() == "t"


def test_unknown_audit_event_names_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="unknown audit event"), ledger.begin() as conn:
        append(conn, AuditRecord(name="made.up", actor="t"))


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(LedgerError, match="cannot reach"):
        open_ledger("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_concurrent_writers_queue_and_keep_one_chain(ledger_url: str) -> None:
    """Threads, each with its own connection, append read-then-write audit rows at once."""
    from concurrent.futures import ThreadPoolExecutor

    ledger = open_ledger(ledger_url)

    def write(worker: int) -> None:
        for i in range(15):
            with ledger.begin() as conn:
                append(conn, AuditRecord(name="scan.started", actor=f"w{worker}", payload={"i": i}))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    with ledger.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 60
        assert verify_chain(conn) is None
    ledger.dispose()


def test_lookup_reads_what_is_committed_without_holding_a_transaction_open(ledger: Ledger) -> None:
    """``Ledger.lookup`` (the portal's searches): on PostgreSQL each statement reads what was
    committed before it began, and no transaction is left open between statements (no BEGIN,
    no ROLLBACK round trips), unlike ``read``; on SQLite it is ``read`` (one snapshot)."""
    with ledger.begin() as conn:
        conn.execute(text("CREATE TABLE lookup_probe (n INTEGER)"))
        conn.execute(text("INSERT INTO lookup_probe VALUES (1)"))
    with ledger.lookup() as conn:
        assert conn.execute(text("SELECT count(*) FROM lookup_probe")).scalar_one() == 1
        with ledger.begin() as other:
            other.execute(text("INSERT INTO lookup_probe VALUES (2)"))
        seen = conn.execute(text("SELECT count(*) FROM lookup_probe")).scalar_one()
        assert seen == (2 if ledger.dialect == "postgresql" else 1)
        if ledger.dialect == "postgresql":
            from psycopg import pq

            status = conn.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]
            assert status == pq.TransactionStatus.IDLE
    if ledger.dialect == "postgresql":
        with ledger.read() as conn:
            conn.execute(text("SELECT 1"))
            status = conn.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]
            assert status == pq.TransactionStatus.INTRANS  # what lookup saves
