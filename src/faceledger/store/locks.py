"""Ledger-wide exclusive locks for work that must not run twice at once (a scan).

Example::

    with exclusive(ledger, "scan"):
        ...

PostgreSQL: a session advisory lock held on a dedicated connection. SQLite: an ``flock`` on
a file beside the database. Both are released by the operating system or the server when
the process dies, so a killed scan never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from faceledger.errors import LedgerError
from faceledger.store.ledger import Ledger


@contextmanager
def exclusive(ledger: Ledger, name: str) -> Iterator[None]:
    if ledger.dialect == "postgresql":
        with ledger.engine.connect() as conn:
            # One lock per ledger: several ledgers (databases or schemas) share one server.
            where = conn.execute(
                text("SELECT current_database() || '.' || current_schema()")
            ).scalar()
            key = zlib.crc32(f"faceledger:{name}:{where}".encode())
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise LedgerError(f"another '{name}' is already running on this ledger")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = ledger.engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(f"{database}.{name}.lock")
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LedgerError(
                f"another '{name}' is already running on this ledger ({lock_path} is locked)"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
