"""The report and status computed by SQL aggregations equal, figure for figure, what the
per-row code they replaced computed (kept verbatim in ``tests/report/legacy_*.py``): on the
sample collection taken through the real pipeline, and on a varied synthetic ledger (real
law-engine decisions for many places, consents and both modes; owners missing or empty;
clustered subjects; geotags exactly on the map's rounding ties) on both backends."""

from __future__ import annotations

import importlib.util
import random
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text
from tests.report import legacy_numbers, legacy_status
from tests.report.conftest import Sample

from faceledger.core.law import load_policies
from faceledger.services.biometrics.templates import create_subject
from faceledger.services.collection.status import ledger_errors, ledger_status
from faceledger.services.oversight.report_numbers import report_numbers
from faceledger.store import Ledger

TODAY = date(2026, 3, 1)
PURPOSE = "train-face-recognition"
#: Latitudes and longitudes whose division by 0.1 lands exactly on, or next to, .5.
TIES = [0.05, -0.05, 0.15, -0.25, 0.25, 41.85, -87.65, 2.5, -2.5, 0.0, 179.95, -179.95]


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "report.py"
    spec = importlib.util.spec_from_file_location("bench_report", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "generated_at"}


def _both(ledger: Ledger) -> tuple[dict[str, Any], dict[str, Any]]:
    new = report_numbers(ledger, purpose=PURPOSE, vault=None, today=TODAY, policies=load_policies())
    old = legacy_numbers.report_numbers(
        ledger, purpose=PURPOSE, vault=None, today=TODAY, policies=load_policies()
    )
    return _comparable(new), _comparable(old)


def vary(ledger: Ledger, *, seed: int = 3) -> None:
    """Owners empty or missing, geotags on rounding ties, faces clustered into subjects."""
    rng = random.Random(seed)
    with ledger.begin() as conn:
        photos = [int(i) for i in conn.execute(text("SELECT id FROM photos ORDER BY id")).scalars()]
        faces = [int(i) for i in conn.execute(text("SELECT id FROM faces ORDER BY id")).scalars()]
        for pid in rng.sample(photos, len(photos) // 4):
            conn.execute(text("UPDATE photos SET latitude = :a, longitude = :b WHERE id = :i"),
                         {"a": rng.choice(TIES), "b": rng.choice(TIES), "i": pid})  # fmt: skip
        for pid in rng.sample(photos, len(photos) // 10):
            conn.execute(text("UPDATE photos SET owner_id = :o WHERE id = :i"),
                         {"o": rng.choice(["", None]), "i": pid})  # fmt: skip
        subjects = [create_subject(conn, model_version="test").id for _ in range(5)]
        now = datetime.now(UTC)
        for fid in rng.sample(faces, len(faces) // 3):
            conn.execute(text("INSERT INTO face_subjects (face_id, subject_id, distance, assigned_at) "
                              "VALUES (:f, :s, NULL, :now)"), {"f": fid, "s": rng.choice(subjects), "now": now})  # fmt: skip


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


def test_sample_report_equals_the_per_row_tally(sample: Sample) -> None:
    new, old = _both(sample.ledger)
    assert new["jurisdictions"]["faces_decided"] > 0 and new["decisions"]["blocked"] > 0
    for section in old:
        assert new[section] == old[section], section
    assert new == old


def test_sample_status_equals_the_per_row_status(sample: Sample) -> None:
    assert ledger_status(sample.ledger) == legacy_status.ledger_status(sample.ledger)
    assert ledger_errors(sample.ledger) == legacy_status.ledger_errors(sample.ledger)


def test_varied_ledger_report_and_status_equal_the_per_row_code(
    ledger: Ledger, bench: ModuleType
) -> None:
    faces = bench.synthesise(ledger, photos=1_200, faces_per_photo=0.5, seed=11)
    vary(ledger)
    new, old = _both(ledger)
    assert faces == new["headline"]["faces_assessed"] == 600
    laws = new["jurisdictions"]["laws"]
    assert len(laws) > 3 and any(law["subjects"] for law in laws.values())
    assert len(new["jurisdictions"]["map"]["points"]) > 10 and new["decisions"]["top_reasons"]
    for section in old:
        assert new[section] == old[section], section
    assert ledger_status(ledger) == legacy_status.ledger_status(ledger)
    assert ledger_errors(ledger) == legacy_status.ledger_errors(ledger)
