"""Opening the ledger database: engine options per backend, and migrations.

SQLite (default) runs in WAL mode with foreign keys on and a busy timeout, so readers never
block the single writer. PostgreSQL is reached through psycopg 3. Both get the same schema
from the same Alembic migrations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from faceledger.errors import LedgerError

MIGRATIONS = Path(__file__).parent / "migrations"


def create_ledger_engine(url: str) -> Engine:
    """An engine for ``url`` with the pragmas and pool settings faceledger relies on."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise LedgerError(f"database_url is not a valid URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except ModuleNotFoundError:
            raise LedgerError(
                "PostgreSQL needs the psycopg driver: pip install 'faceledger[postgres]'"
            ) from None
    raise LedgerError(f"unsupported database backend {parsed.get_backend_name()!r}")


WRITE = "faceledger_write"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Write transactions take SQLite's write lock up front (``BEGIN IMMEDIATE``).

    A deferred transaction that reads and then writes fails at once, without waiting, if
    another process committed in between (WAL snapshot conflict). Taking the lock first makes
    concurrent writers queue on the busy timeout instead. Reads stay ``BEGIN`` (deferred) and
    never block writers.
    """
    write = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration, in one transaction per migration run.

    On PostgreSQL an advisory lock serialises concurrent upgrades from several processes.
    """
    try:
        with engine.connect() as conn, conn.execution_options(**{WRITE: True}).begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(424242)"))
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise LedgerError(f"cannot reach the ledger database: {exc.orig}") from None
