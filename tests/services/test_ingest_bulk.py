"""Bulk ingest (executemany on SQLite, COPY on PostgreSQL): idempotent, rejects with file and
line, the first of two rows with one key wins, and the progress totals are right."""

from __future__ import annotations

import bz2
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select

from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.status import ledger_errors
from faceledger.sources.rows import PathRules, normalise_row
from faceledger.store import Ledger
from faceledger.store.schema import Photo, Source

PHOTOS, SOURCES = Photo.__table__, Source.__table__
YFCC_FIELDS = {1: "external_id", 2: "provider_hash", 3: "owner_id", 4: "owner_nickname", 5: "date_taken",
               6: "date_uploaded", 8: "title", 10: "tags", 12: "longitude", 13: "latitude",
               14: "geo_accuracy", 15: "page_url", 16: "download_url", 17: "license",
               18: "license_url"}  # fmt: skip


class Recording:
    """A progress sink that keeps each task's total and the sum of its ticks."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []

    @contextmanager
    def task(self, name: str, *, total: int | None, unit: str) -> Iterator[Any]:
        record = {"name": name, "total": total, "ticked": 0}
        self.tasks.append(record)

        def tick(n: int = 1, **_counters: object) -> None:
            record["ticked"] += n

        yield tick


def _count(ledger: Ledger) -> int:
    with ledger.read() as conn:
        return int(conn.execute(select(func.count()).select_from(PHOTOS)).scalar_one())


def _mixed_manifest(yfcc_tsv: Path, tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """The 500 real YFCC rows with one bad row of each kind, and line 20 repeating line 1's id."""
    rows = [line.split("\t") for line in yfcc_tsv.read_text(encoding="utf-8").splitlines()]
    rows[2] = rows[2][:20]  # line 3: truncated
    rows[5][13] = "123.0"  # line 6: latitude out of range
    rows[7][24] = "1"  # line 8: a video
    rows[11][8] = "a\x00b"  # line 12: NUL, which PostgreSQL cannot store
    rows[19][1] = rows[0][1]  # line 20: same photo id as line 1 (a duplicate, not a reject)
    rows[19][8] = "the second one"
    data = b"".join(("\t".join(r) + "\n").encode() for r in rows)
    data = data.replace(b"\t" + rows[9][8].encode() + b"\t", b"\tcaf\xe9\t", 1)  # line 10: latin-1
    path = tmp_path / "yfcc_mixed.tsv"
    path.write_bytes(data)
    return path, rows


def test_a_mixed_manifest_is_ingested_in_bulk_with_its_rejects_by_file_and_line(
    ledger: Ledger, yfcc_tsv: Path, tmp_path: Path
) -> None:
    path, rows = _mixed_manifest(yfcc_tsv, tmp_path)
    report = ingest_paths(ledger, [path], batch_size=64, roots=())  # 8 transactions
    source = report.sources[0]
    assert (source.format, source.seen, source.rejected, source.duplicates) == ("yfcc", 500, 5, 1)
    assert report.added == 494 == _count(ledger)
    assert [r.split(": ", 1)[0] for r in source.rejects] == [
        f"{path}:{n}" for n in (3, 6, 8, 10, 12)
    ]
    assert source.rejects[0].endswith("expected 25 fields, found 20")
    assert "title: not valid UTF-8 text" in source.rejects[3] and "NUL" in source.rejects[4]
    stored = ledger_errors(ledger)["rejected_rows"]
    assert [(e["file"], e["line"]) for e in stored] == [(str(path), n) for n in (3, 6, 8, 10, 12)]
    with ledger.read() as conn:
        got = (
            conn.execute(select(PHOTOS).where(PHOTOS.c.external_id == rows[0][1])).mappings().all()
        )
        last = (
            conn.execute(select(PHOTOS).where(PHOTOS.c.external_id == rows[499][1]))
            .mappings()
            .one()
        )
    assert len(got) == 1 and got[0]["title"] != "the second one"  # the first of the two rows wins
    expected = normalise_row({f: rows[499][i] for i, f in YFCC_FIELDS.items()},
                             base_dir=PathRules(tmp_path), decode_text=True)  # fmt: skip
    for name, value in expected.items():
        stored_value = last[name]
        if (
            hasattr(stored_value, "tzinfo")
            and stored_value is not None
            and stored_value.tzinfo is None
        ):
            stored_value = stored_value.replace(tzinfo=value.tzinfo)  # SQLite keeps UTC, naive
        assert stored_value == value, name
    assert last["scan_status"] == "remote" and last["source_id"] == 1

    again = ingest_paths(ledger, [path], batch_size=64, roots=())
    assert (again.added, again.seen, again.rejected) == (0, 500, 5)
    assert _count(ledger) == 494
    assert len(ledger_errors(ledger)["rejected_rows"]) == 5  # not recorded twice


def test_a_grown_manifest_adds_only_its_new_rows(
    ledger: Ledger, yfcc_tsv: Path, tmp_path: Path
) -> None:
    """Batches that hold rows already ingested take the conflict-safe path (PostgreSQL: the
    staging table), fresh ones the direct one; together they add exactly the new rows."""
    lines = yfcc_tsv.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "grows.tsv"
    path.write_text("".join(lines[:100]), encoding="utf-8")
    assert ingest_paths(ledger, [path], batch_size=64, roots=()).added == 100
    path.write_text("".join(lines[:150]), encoding="utf-8")
    grown = ingest_paths(ledger, [path], batch_size=64, roots=())
    assert (grown.added, grown.seen) == (50, 150)
    assert _count(ledger) == 150
    with ledger.read() as conn:
        source = conn.execute(select(SOURCES)).mappings().one()
    assert source["content_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (source["rows_seen"], source["rows_added"]) == (150, 50)


def test_progress_totals_exclude_the_header_and_parquet_reads_them_from_metadata(
    ledger: Ledger, tmp_path: Path, yfcc_tsv: Path
) -> None:
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(
        "photo_id,url\n" + "".join(f"{i},https://e.org/{i}.jpg\n" for i in range(5))
    )
    parquet_path = tmp_path / "m.parquet"
    table = pa.table(
        {"photo_id": [str(i) for i in range(300)], "url": [f"u{i}" for i in range(300)]}
    )
    pq.write_table(table, parquet_path, row_group_size=64)
    packed = tmp_path / "yfcc.tsv.bz2"
    packed.write_bytes(bz2.compress(yfcc_tsv.read_bytes()))
    big = tmp_path / "big.csv"  # over the 1 MiB head: an estimate from its mean line length
    big.write_text(
        "photo_id,url\n" + "".join(f"{i},https://e.org/{i:06d}.jpg\n" for i in range(40_000))
    )
    progress = Recording()
    report = ingest_paths(
        ledger, [csv_path, parquet_path, packed, big], progress=progress, roots=()
    )
    totals = [(task["total"], task["ticked"]) for task in progress.tasks]
    assert totals[:3] == [(5, 5), (300, 300), (500, 500)]  # the header is no row
    estimate, ticked = totals[3]
    assert ticked == 40_000 and abs(estimate - 40_000) < 400
    assert [s.seen for s in report.sources] == [5, 300, 500, 40_000]
    with ledger.read() as conn:
        sha = conn.execute(
            select(SOURCES.c.content_sha256).where(SOURCES.c.name == packed.name)
        ).scalar_one()
    assert sha == hashlib.sha256(packed.read_bytes()).hexdigest()  # of the compressed bytes


def test_the_planner_sees_the_photos_a_bulk_ingest_loaded(
    ledger: Ledger, yfcc_tsv: Path, tmp_path: Path
) -> None:
    """PostgreSQL: until ANALYZE, a freshly loaded table looks empty to the planner
    (reltuples -1), which then chose a nested loop that made an assess page take minutes
    at 100 k faces. Ingest refreshes the statistics; SQLite needs none."""
    report = ingest_paths(ledger, [yfcc_tsv], roots=())
    assert report.added == 500
    if ledger.dialect != "postgresql":
        return
    with ledger.read() as conn:
        estimated = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = 'photos'::regclass"
        ).scalar_one()
    assert estimated == report.added  # ANALYZE read every row of a table this small
