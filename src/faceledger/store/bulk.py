"""Bulk inserts of Arrow tables, each backend by its fastest path, inside the caller's
transaction.

Example::

    with ledger.begin() as conn:
        added, flagged = insert_new_rows(conn, Photo.__table__, table,
                                         key=["source_id", "source_key"],
                                         flag="excluded_request_id")

Only rows whose ``key`` is not in the table yet are inserted (``ON CONFLICT DO NOTHING``
on the key's unique constraint), so re-running the same rows adds nothing, and within
one call the first of two rows with the same key wins.

- SQLite: one prepared ``INSERT ... ON CONFLICT (key) DO NOTHING`` run by the driver's
  ``executemany`` over plain tuples (no per-row SQLAlchemy work), in slices of
  :data:`SLICE_ROWS` so the Python copies of the values stay small.
- PostgreSQL: ``COPY`` of the table, written by Arrow as CSV, straight into the table
  under a savepoint (a first ingest: nothing there yet); if a key is already there, the
  savepoint is rolled back and the rows are copied into a temporary staging table
  (dropped at commit), then moved by one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.

After a bulk load, :func:`refresh_statistics` gives PostgreSQL's planner the tables' new
sizes (``ANALYZE``): until autovacuum gets to them, a freshly loaded table looks empty to
the planner, which then picks plans that are quadratic in its real size (a 100 k-face
assess page took minutes instead of milliseconds).

Driver errors are raised as SQLAlchemy ``DBAPIError`` like any other statement's, so
callers report them the same way (disk full, read-only, ...).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Table, text
from sqlalchemy.exc import DBAPIError

SLICE_ROWS = 10_000
_STAGE = "faceledger_bulk_stage"
_ORDER = "faceledger_bulk_order"
_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def insert_new_rows(
    conn: Connection, table: Table, data: pa.Table, *, key: list[str], flag: str | None = None
) -> tuple[int, int]:
    """Insert the rows of ``data`` (its columns are columns of ``table``) whose ``key`` is
    new; returns (rows added, added rows whose ``flag`` column is not null)."""
    unknown = [name for name in data.column_names if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    if not data.num_rows:
        return 0, 0
    if conn.dialect.name == "postgresql":
        return _copy_postgresql(conn, table, data, key=key, flag=flag)
    return _executemany_sqlite(conn, table, data, key=key, flag=flag)


def upsert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
    key: Sequence[str],
) -> None:  # fmt: skip
    """Insert ``rows`` (tuples of ``columns``, values as the driver binds them), replacing the
    other columns of a row whose ``key`` is already there. No two rows may share a key.

    SQLite: the driver's ``executemany`` of ``INSERT ... ON CONFLICT (key) DO UPDATE``.
    PostgreSQL: ``COPY`` into a temporary staging table (dropped at commit), then one
    ``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE``: about twice the rows a second of a
    pipelined ``executemany`` (``bench/assess.py``).
    """
    if not rows:
        return
    names = ", ".join(columns)
    update = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {update}"
    if conn.dialect.name != "postgresql":
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks}) {conflict}",
                             list(rows))  # fmt: skip
        return
    import psycopg

    raw = conn.connection.driver_connection
    assert raw is not None
    stage = f"{_STAGE}_upsert"
    sql = f"CREATE TEMP TABLE {stage}"
    try:
        with raw.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{stage}")
            cursor.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
                           f"SELECT {names} FROM {table.name} WITH NO DATA")  # fmt: skip
            sql = f"COPY {stage} ({names}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
            sql = f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} {conflict}"
            cursor.execute(sql)
            cursor.execute(f"DROP TABLE pg_temp.{stage}")
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


#: ANALYZE a table again once this fraction of its rows changed since the last ANALYZE.
STALE_FRACTION = 0.1


def refresh_statistics(conn: Connection, *tables: Table, if_stale: bool = False) -> None:
    """Bring the planner statistics of ``tables`` up to date, in ``conn``'s transaction.

    PostgreSQL: one ``ANALYZE`` of the tables (a sample of at most 30,000 rows a table with
    the default statistics target, so seconds even at 100 M rows; it blocks no reader or
    writer). ``if_stale``: only of those never analyzed or changed by more than
    :data:`STALE_FRACTION` of their rows since, as ``pg_stat_user_tables`` counts committed
    changes (a caller that just loaded rows itself leaves it off: its own changes are not
    counted there yet). SQLite plans these queries well without statistics: nothing to do.
    """
    if conn.dialect.name != "postgresql" or not tables:
        return
    if not if_stale:
        conn.exec_driver_sql("ANALYZE " + ", ".join(table.name for table in tables))
        return
    stale = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.oid = ANY(CAST(:names AS regclass[])) AND (c.reltuples < 0 OR "
            "s.n_mod_since_analyze > :fraction * GREATEST(c.reltuples, 1000) "
            "OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL))"
        ),
        {"names": [table.name for table in tables], "fraction": STALE_FRACTION},
    ).scalars().all()  # fmt: skip
    if stale:
        conn.exec_driver_sql("ANALYZE " + ", ".join(sorted(stale)))


def _sqlite_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """Python values as SQLAlchemy would bind them on SQLite (times as its text form)."""
    if pa.types.is_timestamp(column.type):
        if column.type.tz is not None:
            column = pc.cast(column, pa.timestamp("us", tz="UTC"))
        return list(pc.strftime(column, format="%Y-%m-%d %H:%M:%S").to_pylist())  # %S: with µs
    return list(column.to_pylist())


def _executemany_sqlite(
    conn: Connection, table: Table, data: pa.Table, *, key: list[str], flag: str | None
) -> tuple[int, int]:
    names = data.column_names
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT ({', '.join(key)}) DO NOTHING"
    )
    parts = [(data, False)]
    if flag is not None and data.column(flag).null_count < data.num_rows:
        flagged = pc.is_valid(data.column(flag))
        parts = [(data.filter(pc.invert(flagged)), False), (data.filter(flagged), True)]
    added = flagged_added = 0
    for part, is_flagged in parts:
        for start in range(0, part.num_rows, SLICE_ROWS):
            piece = part.slice(start, SLICE_ROWS)
            rows = list(
                zip(*(_sqlite_values(piece.column(i)) for i in range(len(names))), strict=True)
            )
            count = conn.exec_driver_sql(sql, rows).rowcount
            added += count
            flagged_added += count if is_flagged else 0
    return added, flagged_added


def _copy_postgresql(
    conn: Connection, table: Table, data: pa.Table, *, key: list[str], flag: str | None
) -> tuple[int, int]:
    """``COPY`` straight into the table under a savepoint; when a key is already there
    (a re-ingest, a resumed one, a repeated id) the savepoint is rolled back and the rows
    go through the staging table and ``ON CONFLICT DO NOTHING`` instead."""
    import psycopg

    names = ", ".join(data.column_names)
    raw = conn.connection.driver_connection
    assert raw is not None
    sql = "SAVEPOINT faceledger_bulk"
    try:
        with raw.cursor() as cursor:
            cursor.execute(sql)
            try:
                _copy(cursor, f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)", data)
                cursor.execute("RELEASE SAVEPOINT faceledger_bulk")
                flagged = 0 if flag is None else data.num_rows - data.column(flag).null_count
                return data.num_rows, flagged
            except psycopg.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT faceledger_bulk")
                cursor.execute("RELEASE SAVEPOINT faceledger_bulk")
            sql = f"CREATE TEMP TABLE {_STAGE}"
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_STAGE}")
            cursor.execute(
                f"CREATE TEMP TABLE {_STAGE} ON COMMIT DROP AS "
                f"SELECT {names}, 0::bigint AS {_ORDER} FROM {table.name} WITH NO DATA"
            )
            ordered = data.append_column(_ORDER, pa.array(np.arange(data.num_rows, dtype=np.int64)))
            sql = f"COPY {_STAGE} ({names}, {_ORDER}) FROM STDIN (FORMAT csv)"
            _copy(cursor, sql, ordered)
            returned = flag if flag is not None else "NULL::int"
            sql = (
                f"WITH added AS (INSERT INTO {table.name} ({names}) SELECT {names} FROM {_STAGE} "
                f"ORDER BY {_ORDER} ON CONFLICT ({', '.join(key)}) DO NOTHING "
                f"RETURNING {returned} AS flag) SELECT count(*), count(flag) FROM added"
            )
            cursor.execute(sql)
            row = cursor.fetchone()
            assert row is not None
            cursor.execute(f"DROP TABLE pg_temp.{_STAGE}")
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc
    return int(row[0]), int(row[1])


def _copy(cursor: Any, sql: str, data: pa.Table) -> None:
    """``COPY ... FROM STDIN (FORMAT csv)`` of ``data``, written by Arrow (strings quoted,
    nulls as empty fields)."""
    with cursor.copy(sql) as copy:
        for piece in data.to_batches(max_chunksize=SLICE_ROWS * 2):
            buffer = io.BytesIO()
            pacsv.write_csv(piece, buffer, _CSV)
            copy.write(buffer.getbuffer())
