"""scan and extract on a real two-node Ray cluster, against PostgreSQL, and a node killed mid-run.

The cluster is two ``ray start --block`` process trees on this machine (head + one node, one
CPU each, own temp folders), joined by address as separate machines would be; the fixture
starts it once for the module with bounded waits and kills every process it started, even
when a test fails. The workers get photo bytes from the driver through Ray's object store,
never a path; the driver is the only ledger writer.

The kill lands at a known point: the scan commits one photo per transaction and its test
hook stops it right after the commit of photo N (``FACELEDGER_SCAN_PAUSE_AFTER``), until the
test writes to a FIFO (``FACELEDGER_SCAN_RESUME_FIFO``). While it waits, the test SIGKILLs the
worker node's whole process tree (``ray start``, raylet, workers) and waits until the cluster
has declared it dead; then the scan carries on, gives the dead actor's items to the one left
on the head, and must end with exactly the faces of an uninterrupted local scan."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from faceledger.config import Settings, load_settings
from faceledger.services.biometrics.extract import extract_templates
from faceledger.services.biometrics.templates import EMBEDDING, read_templates
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.services.decisions.assess import assess_faces
from faceledger.store import Ledger, open_ledger
from faceledger.store.tables import AUDIT, FACES, PHOTOS, SCAN_RUNS
from faceledger.store.vault import KeyVault

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True),
]

PHOTOS_DIR = Path(__file__).resolve().parents[2] / "examples" / "photos"
COPIES = 2
MIAMI = ("Miami, FL", "25.7617", "-80.1918")


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    pytest.importorskip("ray", reason="Ray is installed by `make test` (faceledger[ray])")
    from faceledger.engines.ray_cluster import LocalCluster

    with LocalCluster(cpus_per_node=1) as running:  # stops every node, even on failure
        running.start(nodes=2, timeout=240)
        yield running


def _corpus(root: Path, copies: int) -> Path:
    """``copies`` copies of the example photos, with a manifest placing them in Miami (no
    biometric law reaches them when processing is in Florida: extraction is allowed)."""
    root.mkdir()
    rows = ["photo_id,path,owner_id,owner_location,latitude,longitude"]
    for copy in range(copies):
        for image in sorted(PHOTOS_DIR.iterdir()):
            name = f"c{copy}-{image.name}"
            (root / name).write_bytes(image.read_bytes())
            rows.append(
                f'{name.removesuffix(".jpg")},{name},owner-{copy}@N01,"{MIAMI[0]}",{MIAMI[1]},{MIAMI[2]}'
            )
    (root / "photos.csv").write_text("\n".join(rows) + "\n")
    return root


def _faces(ledger: Ledger) -> dict[tuple[str, int], tuple[float, ...]]:
    with ledger.read() as conn:
        rows = conn.execute(
            select(PHOTOS.c.external_id, FACES.c.face_index, FACES.c.x1, FACES.c.y1, FACES.c.x2, FACES.c.y2,
                   FACES.c.score)
            .join(FACES, FACES.c.photo_id == PHOTOS.c.id)
        ).all()  # fmt: skip
    return {(str(r[0]), int(r[1])): tuple(round(float(v), 3) for v in r[2:]) for r in rows}


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return load_settings(
        processor_location="US-FL", data_dir=tmp_path / "data", retention_limit_days=1095, **extra
    )


def test_a_two_node_cluster_scans_and_extracts_what_the_local_engine_does(
    cluster: object,
    ledger_url: str,
    tmp_path: Path,
    publish_schedule,  # type: ignore[no-untyped-def]
) -> None:
    from faceledger.engines.ray_engine import RayEngine

    address = cluster.address  # type: ignore[attr-defined]
    probe = RayEngine(2, address=address)
    try:
        assert len(set(probe.nodes())) == 2, "one actor on each node"
    finally:
        probe.close()

    corpus = _corpus(tmp_path / "corpus", copies=1)
    results = {}
    for name, url, extra in [
        ("local", f"sqlite:///{tmp_path / 'local.db'}", {"workers": 1}),
        ("ray", ledger_url, {"workers": 2, "engine": "ray", "ray_address": address}),
    ]:
        settings = _settings(tmp_path / name, **extra)
        ledger = open_ledger(url)
        publish_schedule(ledger)
        ingest_paths(ledger, [corpus])
        scanned = scan_pending(ledger, settings)
        assess_faces(ledger, settings, purpose=settings.purpose)
        vault = KeyVault.open(settings)
        extracted = extract_templates(ledger, vault, settings, purpose=settings.purpose)
        batch = read_templates(
            ledger, vault, kind=EMBEDDING, actor="test", reason="compare engines"
        )
        with ledger.read() as conn:
            face_of = {int(i): (str(p), int(n)) for i, p, n in conn.execute(
                select(FACES.c.id, PHOTOS.c.external_id, FACES.c.face_index)
                .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id))}  # fmt: skip
        vectors = {
            face_of[i]: np.frombuffer(v, dtype=np.float32) for i, v in batch.templates.items()
        }
        results[name] = (scanned, _faces(ledger), extracted, vectors)
        ledger.dispose()

    (local_scan, local_faces, local_ex, local_vec), (ray_scan, ray_faces, ray_ex, ray_vec) = (
        results["local"], results["ray"])  # fmt: skip
    assert ray_scan.photos_done == local_scan.photos_done == len(list(PHOTOS_DIR.iterdir()))
    assert ray_scan.workers_lost == 0
    assert ray_faces == local_faces and len(ray_faces) > 10
    assert ray_ex.extracted == local_ex.extracted > 0
    assert ray_ex.new_subjects == local_ex.new_subjects
    assert ray_vec.keys() == local_vec.keys()
    for key, vector in local_vec.items():
        assert np.allclose(ray_vec[key], vector, atol=1e-5), key


def test_killing_a_worker_node_mid_scan_loses_and_duplicates_nothing(
    cluster: object, ledger_url: str, tmp_path: Path
) -> None:
    corpus = _corpus(tmp_path / "corpus", copies=COPIES)
    total = COPIES * len(list(PHOTOS_DIR.iterdir()))
    reference = open_ledger(f"sqlite:///{tmp_path / 'reference.db'}")
    ingest_paths(reference, [corpus])
    scan_pending(reference, load_settings(workers=1))
    expected = _faces(reference)
    reference.dispose()

    ledger = open_ledger(ledger_url)
    ingest_paths(ledger, [corpus])
    fifo = tmp_path / "resume.fifo"
    os.mkfifo(fifo)
    pause_after = total // 4
    env = {**os.environ, "FACELEDGER_DATABASE_URL": ledger_url, "FACELEDGER_SCAN_FLUSH_PHOTOS": "1",
           "FACELEDGER_SCAN_PAUSE_AFTER": str(pause_after), "FACELEDGER_SCAN_RESUME_FIFO": str(fifo),
           "FACELEDGER_RAY_ADDRESS": cluster.address}  # type: ignore[attr-defined]  # fmt: skip
    log = tmp_path / "scan.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "faceledger", "scan", "--engine", "ray", "--workers", "2", "--json"],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = (
                time.monotonic() + 180
            )  # a bound on waiting for the marker, not a timing test
            while b"scan paused after" not in log.read_bytes():
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "scan never reached its pause point"
                time.sleep(0.05)
            with ledger.read() as conn:
                done = conn.execute(
                    select(func.count()).select_from(PHOTOS).where(PHOTOS.c.scan_status == "done")
                ).scalar_one()
            assert done == pause_after, "the kill lands right after photo N"

            worker_node = next(node for node in cluster.nodes if not node.head)  # type: ignore[attr-defined]
            cluster.kill_node(worker_node)  # type: ignore[attr-defined]
            cluster.wait_dead(1, timeout=60)  # type: ignore[attr-defined]
            with fifo.open("wb") as resume:
                resume.write(b"go")
            assert process.wait(timeout=240) == 0, log.read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert _faces(ledger) == expected, "every face once, none lost"
    with ledger.read() as conn:
        faces = conn.execute(select(func.count()).select_from(FACES)).scalar_one()
        distinct = conn.execute(
            select(func.count()).select_from(
                select(FACES.c.photo_id, FACES.c.face_index).distinct().subquery()
            )
        ).scalar_one()
        pending = conn.execute(
            select(func.count()).select_from(PHOTOS).where(PHOTOS.c.scan_status != "done")
        ).scalar_one()
        runs = conn.execute(select(SCAN_RUNS.c.status, SCAN_RUNS.c.photos_done)).all()
    assert faces == distinct == len(expected)
    assert pending == 0
    assert [tuple(r) for r in runs] == [("done", total)]
    with ledger.read() as conn:
        finished = conn.execute(
            select(AUDIT.c.payload).where(AUDIT.c.name == "scan.finished")
        ).scalar_one()
    assert finished["workers_lost"] == 1, "the worker node's actor was lost and its items redone"

    again = scan_pending(ledger, load_settings(workers=1))
    assert (again.photos_done, again.faces_found) == (0, 0)
    assert _faces(ledger) == expected
    ledger.dispose()
