"""Benchmark: `faceledger assess` on a ledger of N faces (real YFCC rows, one face each).

Run by hand (`make bench` or `.venv/bin/python bench/assess.py [--faces N] [--database-url URL]`).
Builds the ledger: the shared YFCC100M sample rows (500 real rows, 81 geotagged) replicated
with fresh photo ids and ingested, then one face per photo inserted directly through the
store (a bench may: no detector runs). Then prints, in one run:
  - the limit: one bulk upsert of N decision rows of the same shape (each naming an outcome
    already stored; `store.bulk.upsert_rows`, the path assess writes by, with nothing else),
  - `assess_faces` (read, decide, encode, write),
with faces/s, the ratio to the 20,000 faces/s goal and the ratio to the limit.
Replicated rows repeat their geotags; the decision memo keys on the scenario with evidence
details blanked, so distinct coordinates in one state would share decisions as well.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from sqlalchemy import select, text  # noqa: E402

from faceledger.config import load_settings  # noqa: E402
from faceledger.services.collection.ingest import ingest_paths  # noqa: E402
from faceledger.services.decisions.assess import COLUMNS, assess_faces  # noqa: E402
from faceledger.store import open_ledger  # noqa: E402
from faceledger.store.bulk import upsert_rows  # noqa: E402
from faceledger.store.ledger import utcnow  # noqa: E402
from faceledger.store.schema import Face, FaceDecision, Photo, ScanRun  # noqa: E402

SAMPLE = REPO.parent / "shared" / "data" / "yfcc100m_sample" / "yfcc100m_rows_0000-0499.tsv"
GOAL = 20_000
ON = date(2025, 9, 1)


def generate(path: Path, rows: int) -> None:
    template = [line.split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            fields = list(template[i % len(template)])
            fields[0], fields[1] = str(i), str(20_000_000_000 + i)
            out.write("\t".join(fields) + "\n")


def add_faces(ledger, chunk: int = 20_000) -> int:  # type: ignore[no-untyped-def]
    now = utcnow()
    faces = Face.__table__
    with ledger.begin() as conn:
        run = conn.execute(
            ScanRun.__table__.insert()
            .values(started_at=now, status="done", detector_name="bench", detector_version="0",
                    threshold=0.4, workers=1, photos_done=0, photos_failed=0, faces_found=0)
            .returning(ScanRun.__table__.c.id)
        ).scalar_one()  # fmt: skip
        ids = list(
            conn.execute(select(Photo.__table__.c.id).order_by(Photo.__table__.c.id)).scalars()
        )
        for start in range(0, len(ids), chunk):
            conn.execute(faces.insert(), [
                {"photo_id": pid, "face_index": 0, "x1": 0.0, "y1": 0.0, "x2": 50.0, "y2": 50.0,
                 "score": 0.9, "landmarks": [[1.0, 2.0]] * 5, "face_size": 50.0, "quality": None,
                 "detector_name": "bench", "detector_version": "0", "scan_run_id": run,
                 "created_at": now}
                for pid in ids[start : start + chunk]
            ])  # fmt: skip
    return len(ids)


def limit_seconds(ledger, faces: int) -> float:  # type: ignore[no-untyped-def]
    """One bulk upsert of ``faces`` decision rows shaped like assess's (naming a stored outcome)."""
    table = FaceDecision.__table__
    with ledger.read() as conn:
        outcome = conn.execute(select(table.c.outcome_id).limit(1)).scalar_one()
    stamp = table.c.assessed_at.type.dialect_impl(ledger.engine.dialect).bind_processor(
        ledger.engine.dialect
    )
    now = stamp(utcnow()) if stamp else utcnow()
    rows = [(face_id, "bench-limit", "extract-template", "block", None, outcome, now)
            for face_id in range(1, faces + 1)]  # fmt: skip
    start = time.perf_counter()
    with ledger.begin() as conn:
        upsert_rows(conn, table, COLUMNS, rows, key=["face_id", "purpose", "action"])
    seconds = time.perf_counter() - start
    with ledger.begin() as conn:
        conn.execute(text("DELETE FROM face_decisions WHERE purpose = 'bench-limit'"))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "yfcc100m_dataset.tsv")
        generate(data, args.faces)
        ledger = open_ledger(args.database_url or f"sqlite:///{tmp}/bench.db")
        start = time.perf_counter()
        ingest_paths(ledger, [data])
        faces = add_faces(ledger)
        print(
            f"built a ledger of {faces:,} faces ({ledger.dialect}) in {time.perf_counter() - start:.1f} s"
        )
        settings = load_settings(processor_location="US-WA")
        assess_faces(ledger, settings, on=ON, page_size=5_000)  # warm: rows exist, as on a re-run
        start = time.perf_counter()
        report = assess_faces(ledger, settings, on=ON)
        assess_s = time.perf_counter() - start
        assert report.faces == faces, report.faces
        limit_s = limit_seconds(ledger, faces)
        ledger.dispose()
    rate, limit = faces / assess_s, faces / limit_s
    print(f"{'what':56} {'faces/s':>10} {'x goal':>7} {'x limit':>8}")
    print(
        f"{'limit: one bulk upsert of the same decision rows':56} {limit:10,.0f} {limit / GOAL:7.2f} {1:8.2f}"
    )
    print(
        f"{'faceledger assess (read, decide, encode, write)':56} {rate:10,.0f} {rate / GOAL:7.2f} {rate / limit:8.2f}"
    )
    print(
        f"decided {report.faces:,} faces: {dict(report.by_decision)}; 1 M faces would take {1e6 / rate:.0f} s"
    )


if __name__ == "__main__":
    main()
