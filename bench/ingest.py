"""Benchmark: `faceledger ingest` of YFCC100M rows against the raw bulk limit of each backend.

Run by hand (`make bench` or `.venv/bin/python bench/ingest.py [--rows N]`).

Generates a YFCC100M-format file (25 tab-separated columns, no header) of N rows (default
200,000) by repeating the real YFCC100M sample rows (../shared/data/yfcc100m_sample, else
examples/yfcc100m_sample.tsv) with fresh photo ids, then prints in one run, for SQLite and
for PostgreSQL (FACELEDGER_TEST_POSTGRES_URL, a fresh schema; skipped when unreachable):

  - the raw limit of the backend for the same rows into the same, freshly migrated ledger
    schema: Arrow's streaming CSV reader, the same photo columns taken as they are (no
    validation, no decoding, no idempotency), written by the driver's own bulk path --
    one `sqlite3` `executemany` of plain INSERTs in one transaction; PostgreSQL `COPY`
    (Arrow writes the CSV) straight into `photos`;
  - `ingest_paths` (parse, validate, URL-decode, licence lookup, tombstones, idempotent
    insert, rejects, audit) into another fresh ledger of the same backend;
  - rows/s for both, the ratio (goal >= 0.5), and the peak resident memory while
    faceledger ingests (flat: the file is streamed in batches).

Example:
    .venv/bin/python bench/ingest.py --rows 1000000
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from faceledger.services.collection.ingest import ingest_paths  # noqa: E402
from faceledger.sources.manifests import YFCC_COLUMNS  # noqa: E402
from faceledger.store import open_ledger  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "yfcc100m_sample" / "yfcc100m_rows_0000-0499.tsv"
SAMPLE = SHARED if SHARED.is_file() else REPO / "examples" / "yfcc100m_sample.tsv"
POSTGRES_URL = os.environ.get(
    "FACELEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# YFCC column -> photos column, taken as they are for the raw limit
RAW_COLUMNS = {
    "photo_id": "external_id", "photo_hash": "provider_hash", "user_nsid": "owner_id",
    "user_nickname": "owner_nickname", "title": "title", "user_tags": "tags",
    "page_url": "page_url", "download_url": "download_url", "license_name": "license_name",
    "license_url": "license_url", "date_taken": "date_taken", "date_uploaded": "date_uploaded",
    "latitude": "latitude", "longitude": "longitude",
}  # fmt: skip


def generate(path: Path, rows: int) -> None:
    template = [line.split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    template = [fields for fields in template if fields[24] != "1"]  # photos only
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            fields = list(template[i % len(template)])
            fields[0] = str(i)
            fields[1] = str(10_000_000_000 + i)
            out.write("\t".join(fields) + "\n")


def raw_batches(path: Path) -> Iterator[pa.Table]:
    """The file's photo columns as Arrow streams them, only what the schema needs made
    typed (coordinates as numbers, the upload epoch as a time), plus the NOT NULL columns."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=YFCC_COLUMNS, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(YFCC_COLUMNS, pa.string()), include_columns=list(RAW_COLUMNS)
        ),
    )
    now = pa.scalar(time.time_ns() // 1000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    for batch in reader:
        n = batch.num_rows
        columns = {RAW_COLUMNS[name]: batch.column(name) for name in RAW_COLUMNS}
        for name in ("latitude", "longitude"):
            columns[name] = pc.cast(
                pc.if_else(pc.equal(columns[name], ""), None, columns[name]), pa.float64()
            )
        columns["date_uploaded"] = pc.cast(
            pc.multiply(pc.cast(columns["date_uploaded"], pa.int64()), 1_000_000),
            pa.timestamp("us", tz="UTC"),
        )
        columns["source_key"] = columns["external_id"]
        columns["source_id"] = pa.repeat(pa.scalar(1, pa.int64()), n)
        columns["scan_status"] = pa.repeat(pa.scalar("remote"), n)
        columns["created_at"] = pa.repeat(now, n)
        yield pa.table(columns)


def limit_sqlite(url: str, path: Path) -> int:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO sources (id, uri, kind, format, name, created_at, rows_seen, rows_added, "
                 "rows_rejected) VALUES (1, 'bench', 'manifest', 'yfcc', 'bench', '2026-01-01', 0, 0, 0)")  # fmt: skip
    rows = 0
    for table in raw_batches(path):
        names = table.column_names
        sql = f"INSERT INTO photos ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        values = []
        for column in table.columns:
            if pa.types.is_timestamp(column.type):
                values.append(pc.strftime(column, format="%Y-%m-%d %H:%M:%S").to_pylist())
            else:
                values.append(column.to_pylist())
        conn.executemany(sql, list(zip(*values, strict=True)))
        rows += table.num_rows
    conn.execute("COMMIT")
    conn.close()
    return rows


def limit_postgresql(url: str, path: Path) -> int:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = parsed.query.get("options")
    with psycopg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
        dbname=parsed.database, options=options,
    ) as conn, conn.cursor() as cursor:  # fmt: skip
        cursor.execute("INSERT INTO sources (id, uri, kind, format, name, created_at, rows_seen, rows_added, "
                       "rows_rejected) VALUES (1, 'bench', 'manifest', 'yfcc', 'bench', now(), 0, 0, 0)")  # fmt: skip
        rows = 0
        names = None
        copy_ctx = None
        for table in raw_batches(path):
            if names is None:
                names = table.column_names
                copy_ctx = cursor.copy(f"COPY photos ({', '.join(names)}) FROM STDIN (FORMAT csv)")
                copy = copy_ctx.__enter__()
            buffer = io.BytesIO()
            pacsv.write_csv(
                table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed")
            )
            copy.write(buffer.getbuffer())
            rows += table.num_rows
        if copy_ctx is not None:
            copy_ctx.__exit__(None, None, None)
        conn.commit()
    return rows


@contextmanager
def peak_rss() -> Iterator[Callable[[], float]]:
    """The peak resident memory (MB) of this process while the block runs, sampled."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        page = resource.getpagesize()
        while not done.is_set():
            with open("/proc/self/statm") as handle:
                peak[0] = max(peak[0], int(handle.read().split()[1]) * page)
            done.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0] / 1e6
    finally:
        done.set()
        thread.join()


@contextmanager
def postgres_schema() -> Iterator[Callable[[], str]]:
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def new() -> str:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        made.append(schema)
        separator = "&" if "?" in POSTGRES_URL else "?"
        return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"

    try:
        yield new
    finally:
        with admin.connect() as conn:
            for schema in made:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run_backend(
    name: str, urls: Callable[[], str], limit: Callable[[str, Path], int], data: Path, rows: int
) -> None:
    limit_url = urls()
    open_ledger(limit_url).dispose()  # migrated before the clock starts: every index of photos
    ledger = open_ledger(urls())
    start = time.perf_counter()
    assert limit(limit_url, data) == rows
    limit_rate = rows / (time.perf_counter() - start)
    with peak_rss() as peak:
        start = time.perf_counter()
        report = ingest_paths(ledger, [data], roots=())
        ours = rows / (time.perf_counter() - start)
    assert report.added == rows and report.rejected == 0, (report.added, report.rejected)
    ledger.dispose()
    limit_label = (
        "sqlite3 executemany (raw limit)" if name == "SQLite" else "COPY into photos (raw limit)"
    )
    print(f"{name + ': ' + limit_label:52} {limit_rate:12,.0f} {1:8.3f}")
    print(
        f"{name + ': faceledger ingest':52} {ours:12,.0f} {ours / limit_rate:8.3f}   peak RSS {peak():,.0f} MB"
    )
    print(f"  {name}: ratio {ours / limit_rate:.2f} (goal >= 0.5); 100 M rows would take "
          f"{100_000_000 / ours / 3600:.1f} h at this rate")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows to generate (default 200,000)"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "yfcc100m_dataset.tsv")
        start = time.perf_counter()
        generate(data, args.rows)
        print(f"generated {args.rows:,} YFCC100M rows from {SAMPLE.name} "
              f"({data.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - start:.1f} s")  # fmt: skip
        print(f"{'what':52} {'rows/s':>12} {'x limit':>8}")
        if args.backend in ("sqlite", "both"):
            counter = iter(range(10))
            run_backend(
                "SQLite",
                lambda: f"sqlite:///{tmp}/bench{next(counter)}.db",
                limit_sqlite,
                data,
                args.rows,
            )
        if args.backend in ("postgresql", "both"):
            try:
                with postgres_schema() as urls:
                    run_backend("PostgreSQL", urls, limit_postgresql, data, args.rows)
            except Exception as exc:  # noqa: BLE001
                if "connect" not in str(exc).lower():
                    raise
                print(
                    f"PostgreSQL: skipped, not reachable at {POSTGRES_URL} ({type(exc).__name__})"
                )


if __name__ == "__main__":
    main()
