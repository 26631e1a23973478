"""Opening the ledger database: engine options per backend, and migrations.

SQLite (default) runs in WAL mode with foreign keys on and a busy timeout, so readers never
block the single writer. PostgreSQL is reached through psycopg 3. Both get the same schema
from the same Alembic migrations.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from faceledger.errors import LedgerError, NoLedgerError

MIGRATIONS = Path(__file__).parent / "migrations"
logger = logging.getLogger(__name__)


#: Connections a PostgreSQL pool keeps open (and as many more it may open for a burst): at least
#: the portal's threads (``web_threads``, one connection each at a time). Past the pool's size
#: every request opened and closed a connection (a backend process each): with SQLAlchemy's 5
#: and anyio's 40 threads that cost 12% of the portal's calls/s. A command that uses one or two
#: at a time never opens more.
POOL_SIZE = 20


def create_ledger_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url`` with the pragmas and pool settings faceledger relies on.

    ``create=False``: a SQLite file that does not exist is not created; :class:`NoLedgerError`
    is raised instead (see :func:`require_ledger` for a file or database without a schema).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise LedgerError(f"database_url is not a valid URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
            path = Path(parsed.database).expanduser()
            if not create and not (path.is_file() and _sqlite_has_schema(path)):
                raise NoLedgerError(no_ledger_message(str(path)))
            if _read_only(path):
                url = _read_only_url(path)
            else:
                create_private_file(path)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(
                parsed, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_SIZE
            )
        except ModuleNotFoundError:
            raise LedgerError(
                "PostgreSQL needs the psycopg driver: pip install 'faceledger[postgres]'"
            ) from None
        event.listen(engine, "connect", _postgresql_session)
        return engine
    raise LedgerError(f"unsupported database backend {parsed.get_backend_name()!r}")


WRITE = "faceledger_write"


def counter_engine(engine: Engine) -> Engine:
    """A small pool of its own beside a PostgreSQL ledger's ``engine``, for single statements
    on shared counters (the portal's rate limits, ``web.ratelimit``): autocommit (one round
    trip, no BEGIN / COMMIT), ``synchronous_commit`` off on its sessions only (a crash may
    forget the last few counts, never ledger data; the ledger's own connections keep waiting
    for the flush), and no pre-ping: a dropped connection fails that one statement, which its
    caller treats as "cannot tell" (the portal answers 503), and the pool replaces it."""
    counters = create_engine(
        engine.url, isolation_level="AUTOCOMMIT", pool_size=POOL_SIZE, max_overflow=POOL_SIZE
    )

    def _session(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")

    event.listen(counters, "connect", _session)
    return counters


def no_ledger_message(where: str) -> str:
    """The one line every command but ``ingest`` and ``init`` gives when there is no ledger."""
    return f"no ledger at {where}: run `faceledger ingest` or `faceledger init` first"


def _sqlite_has_schema(path: Path) -> bool:
    """Whether the SQLite file holds faceledger's schema, read without writing a byte (an
    engine connection would set WAL mode, writing a header into an empty file). When the
    file cannot be read this way (e.g. a WAL ledger in a read-only folder), the engine's
    own check decides (:func:`require_ledger`)."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
    except sqlite3.Error:
        return True
    return found is not None


def require_ledger(engine: Engine) -> None:
    """Raise :class:`NoLedgerError` unless ``engine``'s database holds a faceledger schema
    (Alembic's ``alembic_version`` table): an empty SQLite file, or a PostgreSQL database
    (schema) never migrated, is no ledger. Reads only; never creates anything."""
    try:
        with engine.connect() as conn:
            found = inspect(conn).has_table("alembic_version")
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise LedgerError(f"cannot reach the ledger database {where}: {exc.orig}") from None
    if not found:
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        raise NoLedgerError(
            no_ledger_message(path or engine.url.render_as_string(hide_password=True))
        )


def _read_only(path: Path) -> bool:
    """An existing SQLite ledger this process may not write (file or folder not writable)."""
    return path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _read_only_url(path: Path) -> str:
    """Open ``path`` read-only: SQLite's ``mode=ro``; ``immutable`` when its folder cannot
    hold the WAL index (no ``-shm`` can be made, and none is there to share)."""
    resolved = path.resolve()
    immutable = not os.access(resolved.parent, os.W_OK) and not Path(f"{resolved}-shm").exists()
    return f"sqlite:///file:{resolved}?mode=ro{'&immutable=1' if immutable else ''}&uri=true"


def is_read_only(engine: Engine) -> bool:
    """Whether ``engine`` opens its SQLite database read-only (PostgreSQL: never known here)."""
    return engine.dialect.name == "sqlite" and engine.url.query.get("mode") == "ro"


def ensure_private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter (0700): created so, or tightened if this
    process owns it (the data folder holds the master key, the vault and releases)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        path.chmod(0o700)
    return path


def publish_secret_file(path: Path, content: bytes) -> bool:
    """Write ``content`` to ``path`` (mode 0600) unless the file exists, so that it appears
    whole or not at all: written to a private temporary file, synced, then hard-linked into
    place. A process that reads ``path`` never sees a half-written key; when two processes
    race, the first link wins and the other's temporary file is dropped. True if this call
    created it."""
    import secrets

    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return False  # another process made it first: theirs is used
        return True
    finally:
        temp.unlink(missing_ok=True)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (its folder 0700) if it does not exist yet.

    SQLite creates a database's ``-wal``, ``-shm`` and ``-journal`` files with the mode of the
    database file, so a ledger or vault made here never has a copy readable by others, whatever
    the umask. An existing file keeps its mode (it may be shared on purpose).
    """
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first
    except OSError as exc:
        raise LedgerError(f"cannot create {path}: {exc.strerror}") from None
    os.close(fd)


def _postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    """No JIT compilation: the report's aggregate statements cost enough for PostgreSQL to JIT
    them, which took 6.4 s a statement at 10 M photos, far more than it saved."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # a read-only file keeps its mode: harmless
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


def migrate_if_needed(engine: Engine) -> None:
    """Migrate only when the schema is behind: a ledger at the newest schema is opened
    without a write, so read-only commands (``status``) work on a read-only ledger."""
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise LedgerError(f"cannot reach the ledger database {where}: {exc.orig}") from None
    where = engine.url.render_as_string(hide_password=True)
    if current == head_revision():
        logger.debug("ledger %s: schema %s (newest)", where, current)
        return
    logger.debug("ledger %s: schema %s, migrating to %s", where, current or "none", head_revision())
    if is_read_only(engine):
        raise LedgerError(
            f"the ledger {engine.url.database} is read-only and its schema is at "
            f"{current or 'none'}, not {head_revision()}: open it once with write access to migrate"
        )
    migrate(engine)


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
