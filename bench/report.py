"""Benchmark: ``report`` numbers and ``status`` on a large ledger, both backends.

Run by hand::

    .venv/bin/python bench/report.py                      # 1 M photos, SQLite and PostgreSQL
    .venv/bin/python bench/report.py --photos 10000000    # the full size
    .venv/bin/python bench/report.py --backend sqlite --faces-per-photo 0.1

The ledger is synthesised with the dialect's bulk path (raw ``executemany`` on SQLite,
``COPY`` on PostgreSQL), not through ingest/scan/assess: YFCC-like photos (most metadata-only,
some fetched, failed or reserved, half geotagged, owners drawn from a pool), one face per
scanned photo and one decision per face. The decisions are real: a few dozen scenario variants
(places, consents, modes) evaluated once by the law engine, so each face's ``result`` document
has the size and shape ``faceledger assess`` writes. Timed: :func:`report_numbers` (without a
vault: no templates are synthesised) and :func:`ledger_status`, each against the 60 s goal and
against a same-run limit: one ``SELECT count(*)`` of the photos table plus one full read of
the decision documents (what any report over every decision must at least do). PostgreSQL
runs in its own schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from sqlalchemy import create_engine, text  # noqa: E402

from faceledger.core.law import load_policies  # noqa: E402
from faceledger.core.law.engine import evaluate  # noqa: E402
from faceledger.services.decisions.policy import parse_scenario  # noqa: E402
from faceledger.store import Ledger, open_ledger  # noqa: E402

PURPOSE = "train-face-recognition"
ACTION = "extract-template"
GOAL_S = 60.0
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHUNK = 50_000
#: (latitude, longitude, owner location text) of the synthetic places; None: no geotag.
PLACES = [
    (41.8781, -87.6298, "Chicago, IL"), (47.6062, -122.3321, "Seattle, WA"),
    (29.7604, -95.3698, "Houston, TX"), (34.0522, -118.2437, "Los Angeles, CA"),
    (39.7392, -104.9903, "Denver, CO"), (52.5200, 13.4050, "Berlin"),
    (51.5074, -0.1278, "London"), (48.8566, 2.3522, "Paris"), (35.6762, 139.6503, "Tokyo"),
    (None, None, "Chicago, IL"), (None, None, None), (None, None, "somewhere nice"),
]  # fmt: skip
SCAN_STATES = ("done", "remote", "pending", "error", "reserved")


def scenario(place: tuple[Any, Any, Any], *, consent: bool, on: date, mode: str) -> dict[str, Any]:
    lat, lon, where = place
    evidence: list[dict[str, Any]] = []
    if lat is not None:
        evidence.append({"kind": "geotag", "lat": lat, "lon": lon, "accuracy": 16})
    if where:
        evidence.append({"kind": "owner-location", "text": where})
    consents = [{"form": "written", "purposes": [PURPOSE], "informed": True, "granted": "2024-01-10",
                 "given_by": "subject"}] if consent else []  # fmt: skip
    return {
        "action": ACTION, "purpose": PURPOSE, "date": on.isoformat(), "mode": mode,
        "processor": {"location": "US-WA", "commercial": True},
        "subject": {"residence": None, "evidence": evidence, "minor": None, "age": None,
                    "is_photo_owner": False},
        "consents": consents, "collected": on.isoformat(), "last_interaction": on.isoformat(),
        "purpose_fulfilled": None, "disclosure_basis": None, "source": None,
        "retention_schedule_published": "2024-01-01" if consent else None, "tdm_reserved": False,
    }  # fmt: skip


def variants(on: date) -> list[tuple[dict[str, Any], dict[str, Any], tuple[Any, Any, Any]]]:
    """(scenario, result, place) for every place x consent x mode, decided once each."""
    policies = load_policies()
    found = []
    for place in PLACES:
        for consent in (False, True):
            for mode in ("conservative", "likely"):
                document = scenario(place, consent=consent, on=on, mode=mode)
                decision = evaluate(parse_scenario(document), policies, mode=mode)  # type: ignore[arg-type]
                found.append((document, decision.to_dict(), place))
    return found


def _rows(
    n_photos: int, faces_every: int, seed: int, on: date
) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, rows) chunks: the decided cases (outcomes), then photos, faces and decisions for
    every ``faces_every``-th photo."""
    rng = random.Random(seed)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    chosen = variants(on)
    docs = [(n, r["decision"], p) for n, (_s, r, p) in enumerate(chosen, start=1)]
    yield (
        "decision_outcomes",
        [
            (n, f"{n:064x}", json.dumps(s), json.dumps(r), "{}")
            for n, (s, r, _p) in enumerate(chosen, start=1)
        ],
    )
    owners = max(1, n_photos // 20)
    face_id = 0
    for start in range(1, n_photos + 1, CHUNK):
        photos, faces, decisions = [], [], []
        for pid in range(start, min(start + CHUNK, n_photos + 1)):
            has_face = pid % faces_every == 0
            state = "done" if has_face else rng.choice(SCAN_STATES[1:] + ("remote",) * 6)
            outcome, verdict, place = docs[rng.randrange(len(docs))]
            lat = lon = None
            if place[0] is not None:
                lat, lon = place[0] + rng.uniform(-0.5, 0.5), place[1] + rng.uniform(-0.5, 0.5)
            fetch = (
                None
                if state != "remote"
                else rng.choice((None, None, "fetched", "failed", "reserved"))
            )
            photos.append((
                pid, 1, f"k{pid}", str(10_000_000_000 + pid), f"https://farm.example/{pid}.jpg",
                f"{rng.randrange(owners)}@N0{pid % 7}", place[2], rng.randrange(1, 11), lat, lon,
                state, "decode" if state == "error" else None, fetch,
                "failed-http" if fetch == "failed" else None,
                "tdmrep" if state == "reserved" or fetch == "reserved" else None, now,
            ))  # fmt: skip
            if has_face:
                face_id += 1
                faces.append(
                    (
                        face_id,
                        pid,
                        0,
                        10.0,
                        10.0,
                        90.0,
                        90.0,
                        0.9,
                        "[]",
                        80.0,
                        0.8,
                        "bench",
                        "0",
                        1,
                        now,
                    )
                )
                decisions.append((face_id, face_id, PURPOSE, ACTION, verdict, None, outcome, now))
        yield "photos", photos
        yield "faces", faces
        yield "face_decisions", decisions


COLUMNS = {
    "photos": ("id", "source_id", "source_key", "external_id", "download_url", "owner_id",
               "owner_location", "license_id", "latitude", "longitude", "scan_status", "scan_error",
               "fetch_status", "fetch_error", "reservation", "created_at"),
    "faces": ("id", "photo_id", "face_index", "x1", "y1", "x2", "y2", "score", "landmarks",
              "face_size", "quality", "detector_name", "detector_version", "scan_run_id", "created_at"),
    "decision_outcomes": ("id", "digest", "scenario", "result", "policy_versions"),
    "face_decisions": ("id", "face_id", "purpose", "action", "decision", "destroy_by", "outcome_id",
                       "assessed_at"),
}  # fmt: skip


def synthesise(ledger: Ledger, *, photos: int, faces_per_photo: float, seed: int = 7) -> int:
    """Fill an empty ledger in bulk; returns the number of faces."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    faces_every = max(1, round(1 / faces_per_photo)) if faces_per_photo > 0 else photos + 1
    with ledger.begin() as conn:
        conn.execute(text("INSERT INTO sources (id, uri, kind, format, name, created_at, rows_seen, rows_added, "
                          "rows_rejected) VALUES (1, 'manifest:bench.tsv', 'manifest', 'yfcc', 'bench', :now, "
                          ":n, :n, 0)"), {"now": now, "n": photos})  # fmt: skip
        conn.execute(text("INSERT INTO scan_runs (id, started_at, status, detector_name, detector_version, "
                          "threshold, workers, photos_done, photos_failed, faces_found) VALUES "
                          "(1, :now, 'done', 'bench', '0', 0.4, 1, 0, 0, 0)"), {"now": now})  # fmt: skip
    started, done, total = time.perf_counter(), 0, 0
    for table, rows in _rows(photos, faces_every, seed, date(2026, 1, 15)):
        if not rows:
            continue
        cols = COLUMNS[table]
        with ledger.begin() as conn:
            raw = conn.connection.driver_connection
            if ledger.dialect == "sqlite":
                marks = ", ".join("?" * len(cols))
                raw.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)  # type: ignore[union-attr]
            else:
                with (
                    raw.cursor() as cur,
                    cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy,
                ):  # type: ignore[union-attr]
                    for row in rows:
                        copy.write_row(row)
        if table == "photos":
            done += len(rows)
            rate = done / (time.perf_counter() - started)
            eta = (photos - done) / rate if rate else 0
            print(
                f"\r  {done:,}/{photos:,} photos, {rate:,.0f}/s, ETA {eta:,.0f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )
        if table == "faces":
            total += len(rows)
    print(file=sys.stderr)
    if ledger.dialect == "postgresql":
        with ledger.begin() as conn:
            conn.execute(text("ANALYZE"))
    return total


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def measure(ledger: Ledger) -> dict[str, float]:
    from faceledger.services.collection.status import ledger_status
    from faceledger.services.oversight.report_numbers import report_numbers

    def limit() -> None:
        with ledger.read() as conn:
            conn.execute(text("SELECT count(*) FROM photos")).scalar_one()
            conn.execute(
                text(
                    "SELECT sum(length(CAST(o.result AS TEXT))) FROM face_decisions d "
                    "JOIN decision_outcomes o ON o.id = d.outcome_id"
                )
            ).scalar_one()

    limit_s, _ = _timed(limit)
    status_s, _ = _timed(lambda: ledger_status(ledger))
    report_s, _ = _timed(
        lambda: report_numbers(ledger, purpose=PURPOSE, vault=None, policies=load_policies())
    )
    return {"limit": limit_s, "status": status_s, "report": report_s}


def run(backend: str, photos: int, faces_per_photo: float, tmp: Path) -> None:
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        schema = f"bench_report_{uuid.uuid4().hex[:8]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        ledger = open_ledger(url)
        seconds, faces = _timed(
            lambda: synthesise(ledger, photos=photos, faces_per_photo=faces_per_photo)
        )
        print(
            f"{backend}: synthesised {photos:,} photos, {faces:,} faces and decisions in {seconds:.1f} s"
        )
        got = measure(ledger)
        for name in ("status", "report"):
            print(f"{backend}: {name} {got[name]:.2f} s; ratio to the {GOAL_S:.0f} s goal {got[name] / GOAL_S:.3f}; "
                  f"ratio to the same-run limit ({got['limit']:.2f} s: count(*) photos + one read of every "
                  f"decision) {got[name] / got['limit']:.2f}")  # fmt: skip
        ledger.dispose()
    finally:
        if schema is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="example: python bench/report.py --photos 10000000 --backend postgresql")  # fmt: skip
    parser.add_argument(
        "--photos", type=int, default=1_000_000, help="photos to synthesise (default 1 M)"
    )
    parser.add_argument("--faces-per-photo", type=float, default=0.1,
                        help="share of photos scanned with one face each (default 0.1)")  # fmt: skip
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            run(backend, args.photos, args.faces_per_photo, Path(tmp))


if __name__ == "__main__":
    main()
