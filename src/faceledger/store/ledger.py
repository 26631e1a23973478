"""The :class:`Ledger` handle: an engine, its dialect, and transactions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from faceledger.store.db import (
    WRITE,
    counter_engine,
    create_ledger_engine,
    is_read_only,
    migrate_if_needed,
    require_ledger,
)

APPENDED = "faceledger_audit_appended"  # Connection.info key that store.audit.append counts in


def utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """A migrated ledger database. Cheap to pass around; owns one connection pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.audit_events_written = 0  # audit events this handle committed
        self._since_checkpoint = 0
        self._checkpoint: Callable[[], None] | None = None
        self._checkpoint_every = 0
        self._counters: Engine | None = None
        self._counters_lock = threading.Lock()

    def on_audit_events(self, every: int, hook: Callable[[], None]) -> None:
        """Call ``hook`` after the commit that brings the audit events committed through this
        handle since the last call to ``every`` or more (0: never). Used for checkpoints."""
        self._checkpoint, self._checkpoint_every = hook, every

    def _committed(self, events: int) -> None:
        self.audit_events_written += events
        self._since_checkpoint += events
        if (
            self._checkpoint
            and self._checkpoint_every
            and self._since_checkpoint >= self._checkpoint_every
        ):
            self._since_checkpoint = 0
            self._checkpoint()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def read_only(self) -> bool:
        """True for a SQLite ledger opened read-only (its file or folder is not writable)."""
        return is_read_only(self.engine)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any exception.

        On SQLite it holds the database's write lock from its first statement, so concurrent
        writers (a scan and an ingest in two terminals) wait for each other instead of failing.
        """
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            conn.info[APPENDED] = 0
            with conn.begin():
                yield conn
            events = conn.info.pop(APPENDED, 0)
        if events:
            self._committed(events)

    @contextmanager
    def counting(self) -> Iterator[Connection]:
        """A connection for one self-committing statement on a shared counter (an atomic
        upsert of the portal's rate limits): on PostgreSQL from :func:`~faceledger.store.db.
        counter_engine`'s pool (autocommit, no wait for the WAL flush); on SQLite one write
        transaction of the ledger (its statements are local calls, not round trips)."""
        if self.dialect != "postgresql":
            with self.begin() as conn:
                yield conn
            return
        with self._counters_lock:
            if self._counters is None:
                self._counters = counter_engine(self.engine)
            counters = self._counters
        with counters.connect() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def lookup(self) -> Iterator[Connection]:
        """A connection for a few reads that need no snapshot in common (a portal search): on
        PostgreSQL in autocommit, so each statement reads what was committed when it began, as
        in the READ COMMITTED transaction :meth:`read` opens, without that transaction's BEGIN
        and ROLLBACK round trips. On SQLite the same as :meth:`read`. Never for writes."""
        if self.dialect != "postgresql":
            with self.read() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def insert_ignoring_conflicts(self, table: Table, index_elements: list[str]) -> Insert:
        """``INSERT ... ON CONFLICT DO NOTHING`` for this backend."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        return dialect_insert(table).on_conflict_do_nothing(index_elements=index_elements)

    def upsert(self, table: Table, index_elements: list[str], update: list[str]) -> Insert:
        """``INSERT ... ON CONFLICT (index_elements) DO UPDATE SET`` the ``update`` columns."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(table)
        return stmt.on_conflict_do_update(
            index_elements=index_elements, set_={name: stmt.excluded[name] for name in update}
        )

    def dispose(self) -> None:
        with self._counters_lock:
            counters, self._counters = self._counters, None
        if counters is not None:
            counters.dispose()
        self.engine.dispose()


def open_ledger(url: str, *, upgrade: bool = True, create: bool = True) -> Ledger:
    """Open (and by default migrate) the ledger at ``url``.

    ``create=False`` opens only an existing ledger: a missing SQLite file, or a database
    without faceledger's schema, raises :class:`~faceledger.errors.NoLedgerError` and nothing
    is created (every command but ``ingest`` and ``init``).
    """
    engine = create_ledger_engine(url, create=create)
    if not create:
        try:
            require_ledger(engine)
        except BaseException:
            engine.dispose()
            raise
    if upgrade:
        migrate_if_needed(engine)
    return Ledger(engine)
