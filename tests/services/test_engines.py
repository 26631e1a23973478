"""Every engine gives the same scan and extraction: in-process, process pool, and Ray.

Parametrised over the backends as img2dataset's distributor tests are; the ledger is SQLite
here (the backends differ in how work is spread, not in how it is written)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from faceledger.config import load_settings
from faceledger.engines.local import make_engine
from faceledger.errors import ConfigError
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.store import open_ledger
from faceledger.store.schema import Face, Photo

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ENGINES = [("local", 1), ("local", 2), ("ray", 2)]


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One local Ray for the module (engines reuse a running Ray and leave it running)."""
    ray = pytest.importorskip("ray", reason="Ray is installed by `make test` (faceledger[ray])")
    import tempfile

    temp = tempfile.mkdtemp(prefix="fl-ray-test-")  # short: Ray's socket paths are limited
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _temp_dir=temp)  # fmt: skip
    yield
    ray.shutdown()
    import shutil

    shutil.rmtree(temp, ignore_errors=True)


def _faces_by_photo(url: str) -> dict[str, int]:
    ledger = open_ledger(url)
    with ledger.read() as conn:
        rows = conn.execute(
            select(Photo.source_key, func.count(Face.id))
            .join(Face, Face.photo_id == Photo.id)
            .group_by(Photo.source_key)
        ).all()
    ledger.dispose()
    return dict(rows)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    url = f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ledger.db'}"
    ledger = open_ledger(url)
    ingest_paths(ledger, [EXAMPLES])
    scan_pending(ledger, load_settings(workers=1))
    ledger.dispose()
    return _faces_by_photo(url)


@pytest.mark.parametrize(("engine", "workers"), ENGINES, ids=[f"{e}-{w}" for e, w in ENGINES])
def test_every_engine_scans_the_same_faces(
    engine: str,
    workers: int,
    tmp_path: Path,
    reference: dict[str, int],
    request: pytest.FixtureRequest,
) -> None:
    if engine == "ray":
        request.getfixturevalue("ray_session")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = open_ledger(url)
    ingest_paths(ledger, [EXAMPLES])
    report = scan_pending(ledger, load_settings(workers=workers, engine=engine))
    ledger.dispose()
    assert report.photos_done == 10 and report.photos_failed == 0
    assert _faces_by_photo(url) == reference


@pytest.mark.parametrize(("engine", "workers"), ENGINES, ids=[f"{e}-{w}" for e, w in ENGINES])
def test_a_worker_failure_reaches_the_driver(
    engine: str, workers: int, request: pytest.FixtureRequest
) -> None:
    if engine == "ray":
        request.getfixturevalue("ray_session")
    pool = make_engine(workers, kind=engine)
    try:
        # a builtin, so every backend can import the function by reference
        with pytest.raises(Exception, match="invalid literal for int"):
            list(pool.map_unordered(int, ["1", "two", "3"]))
    finally:
        pool.close()


def test_an_unknown_or_missing_engine_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        make_engine(1, kind="spark")
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError("no ray here")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ConfigError, match=r"faceledger\[ray\]"):
        make_engine(2, kind="ray")


_DRIVER = """
import multiprocessing, os, sys, time
from faceledger.engines.local import make_engine

def pid(_):
    return os.getpid()

if __name__ == "__main__":
    engine = make_engine(2)
    list(engine.map_unordered(pid, range(8)))
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()
                   if p.name.startswith("SpawnProcess")), flush=True)
    time.sleep(600)  # until killed
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie that nobody has reaped yet does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_pool_workers_end_when_their_driver_is_killed(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "driver.py"
    script.write_text(_DRIVER)
    workers: list[int] = []
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    ) as driver:
        try:
            assert driver.stdout is not None
            workers = [int(p) for p in driver.stdout.readline().split()]  # the pool is up
            assert len(workers) == 2 and all(_running(p) for p in workers)
            driver.kill()  # SIGKILL: no atexit, no pool shutdown
            driver.wait()
            deadline = time.monotonic() + 60
            while any(_running(p) for p in workers):  # a bounded wait for the exits
                assert time.monotonic() < deadline, "pool workers outlived their killed driver"
                time.sleep(0.05)
        finally:
            driver.kill()
            for pid in workers:
                if _running(pid):
                    os.kill(pid, signal.SIGKILL)
