"""Kill a scan with SIGKILL part-way; the re-run must lose and duplicate nothing.

The kill lands at a known point, not a raced one: the scan writes one photo per transaction
(``scan_flush_photos = 1``) and its test hook (``FACELEDGER_SCAN_PAUSE_AFTER``) stops it for
good right after the commit of its N-th photo; only then is it killed. Before, the poller
could see the whole scan commit before a quarter of it, and the test failed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from faceledger.config import load_settings
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.store import Ledger, open_ledger
from faceledger.store.schema import Face, Photo, ScanRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "photos"
PHOTOS, FACES, RUNS = Photo.__table__, Face.__table__, ScanRun.__table__
COPIES = 6


def _corpus(root: Path) -> None:
    for copy in range(COPIES):
        folder = root / f"copy{copy}"
        folder.mkdir(parents=True)
        for image in sorted(EXAMPLES.iterdir()):
            shutil.copy(image, folder / image.name)


def _faces_per_photo(ledger: Ledger) -> dict[str, int]:
    with ledger.read() as conn:
        rows = conn.execute(
            select(PHOTOS.c.source_key, func.count(FACES.c.id))
            .join(FACES, FACES.c.photo_id == PHOTOS.c.id, isouter=True)
            .where(PHOTOS.c.scan_status == "done")
            .group_by(PHOTOS.c.source_key)
        ).all()
    return {key: int(n) for key, n in rows}


def _done(ledger: Ledger) -> int:
    with ledger.read() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(PHOTOS).where(PHOTOS.c.scan_status == "done")
            ).scalar_one()
        )


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_scan_then_resume_loses_and_duplicates_nothing(
    ledger_url: str, ledger: Ledger, tmp_path: Path, workers: int
) -> None:
    corpus = tmp_path / "corpus"
    _corpus(corpus)
    total = COPIES * len(list(EXAMPLES.iterdir()))

    # The truth: the same corpus scanned without interruption in a separate ledger.
    reference = open_ledger(f"sqlite:///{tmp_path / 'reference.db'}")
    ingest_paths(reference, [corpus])
    scan_pending(reference, load_settings(workers=1))
    expected = _faces_per_photo(reference)
    assert len(expected) == total

    ingest_paths(ledger, [corpus])
    pause_after = total // 4
    env = {**os.environ, "FACELEDGER_DATABASE_URL": ledger_url, "FACELEDGER_SCAN_FLUSH_PHOTOS": "1",
           "FACELEDGER_SCAN_PAUSE_AFTER": str(pause_after)}  # fmt: skip
    log = tmp_path / "scan.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "faceledger", "scan", "--workers", str(workers), "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300  # a bound on waiting for the marker, not a timing test
        while b"scan paused after" not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "scan never reached its pause point"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL

    partial = _faces_per_photo(ledger)
    assert len(partial) == _done(ledger) == pause_after, "the kill lands right after photo N"
    assert all(partial[key] == expected[key] for key in partial), "a photo was half-written"

    report = scan_pending(ledger, load_settings(workers=workers))
    assert report.interrupted_runs == 1
    assert report.photos_done == total - len(partial)
    assert _faces_per_photo(ledger) == expected
    with ledger.read() as conn:
        faces = conn.execute(select(func.count()).select_from(FACES)).scalar_one()
        distinct = conn.execute(
            select(func.count()).select_from(
                select(FACES.c.photo_id, FACES.c.face_index).distinct().subquery()
            )
        ).scalar_one()
        statuses = conn.execute(select(RUNS.c.status).order_by(RUNS.c.id)).scalars().all()
    assert faces == distinct == sum(expected.values())
    assert statuses == ["interrupted", "done"]
    reference.dispose()
