"""scan, extract and fetch on a real two-node Ray cluster, against PostgreSQL, and a node killed
mid-run.

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
on the head, and must end with exactly the faces of an uninterrupted local scan.

The fetch test does the same with ``FACELEDGER_FETCH_PAUSE_AFTER`` / ``_RESUME_FIFO`` against
a loopback server answering on four host names (one address), and checks the photos, bytes
and reservations equal a local fetch's and that no host ever saw two requests at once."""

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


def _await_pause(process: subprocess.Popen[bytes], log: Path, command: str) -> None:
    """Until ``command`` (running as ``process``) says on ``log`` that it paused at its test
    hook. Bounded: a wait for a marker, not a timing test."""
    deadline = time.monotonic() + 180
    while f"{command} paused after".encode() not in log.read_bytes():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{command} never reached its pause point"
        time.sleep(0.05)


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
    cluster: object, ledger_url: str, ledger: Ledger, tmp_path: Path
) -> None:
    corpus = _corpus(tmp_path / "corpus", copies=COPIES)
    total = COPIES * len(list(PHOTOS_DIR.iterdir()))
    reference = open_ledger(f"sqlite:///{tmp_path / 'reference.db'}")
    ingest_paths(reference, [corpus])
    scan_pending(reference, load_settings(workers=1))
    expected = _faces(reference)
    reference.dispose()

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
            _await_pause(process, log, "scan")
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


# --- fetch on the cluster -----------------------------------------------------------------

FETCH_HOSTS = ("127.0.0.1", "127.1", "127.0.1", "2130706433")  # four host names, one address
FETCH_PER_HOST = 10


class _PoliteServer:
    """A loopback HTTP server whose answers depend on the Host header, counting the requests
    it is serving at once per host (the politeness a cluster-wide fetch must keep).

    A request counts from when it is read until just before its answer's first byte is sent.
    A client cannot have the answer before then, so a polite client's next request never
    overlaps it, however late the server's thread gets to run afterwards. (Counting until
    after the answer was written raced: a client that stops reading early, at a 404 or a
    ``noai`` header, opens its next connection while that thread may still be descheduled.)
    A request sent while another to the same host is being served, during its 20 ms of work,
    is still counted."""

    def __init__(self) -> None:
        import threading
        from collections import Counter
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.routes: dict[tuple[str, str], tuple[int, bytes, str, dict[str, str]]] = {}
        self.active: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.hits: Counter[tuple[str, str]] = Counter()
        self.served: list[tuple[str, str, int, float, float]] = []  # host, path, port, in, out
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
                began = time.monotonic()
                with lock:
                    server.active[host] += 1
                    server.most[host] = max(server.most[host], server.active[host])
                    server.hits[(host, self.path)] += 1
                try:
                    time.sleep(0.02)  # long enough for overlapping requests to show
                    status, body, kind, headers = server.routes.get(
                        (host, self.path), (404, b"not found", "text/plain", {})
                    )
                finally:  # before the answer's first byte: see the class docs
                    with lock:
                        server.active[host] -= 1
                        server.served.append((host, self.path, self.client_address[1], began,
                                              time.monotonic()))  # fmt: skip
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.port = int(self.httpd.server_address[1])

    def overlapping(self) -> list[tuple[object, ...]]:
        """Pairs of requests to one host that the server was serving at the same time."""
        ordered = sorted(self.served, key=lambda r: (r[0], r[3]))
        return [(a, b) for a, b in zip(ordered, ordered[1:], strict=False)
                if a[0] == b[0] and b[3] < a[4]]  # fmt: skip

    def add(self, host: str, path: str, body: bytes = b"", *, status: int = 200,
            kind: str = "image/jpeg", headers: dict[str, str] | None = None) -> str:  # fmt: skip
        self.routes[(host, path)] = (status, body, kind, headers or {})
        return f"http://{host}:{self.port}{path}"


def _noise_jpeg(seed: int, xmp: str | None = None) -> bytes:
    import io
    import struct

    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80)
    data = out.getvalue()
    if xmp is None:
        return data
    packet = (
        b"http://ns.adobe.com/xap/1.0/\x00"
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        b'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="' + xmp.encode() +
        b'"/></rdf:RDF></x:xmpmeta>'
    )  # fmt: skip
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(packet) + 2) + packet + data[2:]


def _fetch_corpus(server: _PoliteServer) -> list[tuple[str, str | None]]:
    """40 URLs on four hosts: plain photos (two identical), an X-Robots-Tag noai, an XMP
    plus:DataMining reservation, a 404, a TDMRep file reserving a folder, an opted-out owner."""
    rows: list[tuple[str, str | None]] = []
    for h, host in enumerate(FETCH_HOSTS):
        for n in range(FETCH_PER_HOST):
            path, body, extra = f"/h{h}/{n}.jpg", _noise_jpeg(100 * h + n), {}
            owner = "777@N01" if (h, n) == (2, 3) else None
            if n == 0 and h == 1:
                body = _noise_jpeg(0)  # the same bytes as h0/0: stored once
            if (h, n) == (0, 5):
                extra = {"headers": {"X-Robots-Tag": "noai"}}
            if (h, n) == (1, 6):
                body = _noise_jpeg(999, xmp="DMI-PROHIBITED")
            if (h, n) == (2, 7):
                extra = {"status": 404, "kind": "text/plain"}
            if h == 3 and n >= 8:
                path = f"/h3/private/{n}.jpg"
            rows.append((server.add(host, path, body, **extra), owner))  # type: ignore[arg-type]
    rules = b'[{"location": "/h3/private/*", "tdm-reservation": 1}]'
    server.add(FETCH_HOSTS[3], "/.well-known/tdmrep.json", rules, kind="application/json")
    return rows


def _add_remote(ledger: Ledger, rows: list[tuple[str, str | None]], lists: Path) -> None:
    from faceledger.services.people.optouts import import_optouts
    from faceledger.store.ledger import utcnow
    from faceledger.store.tables import SOURCES

    import_optouts(ledger, lists)  # before the photos exist: the fetch applies it
    with ledger.begin() as conn:
        source = conn.execute(
            SOURCES.insert().values(uri="manifest:/test/remote.tsv", kind="manifest", format="tsv",
                                    name="remote.tsv", created_at=utcnow()).returning(SOURCES.c.id)
        ).scalar_one()  # fmt: skip
        for index, (url, owner) in enumerate(rows):
            conn.execute(PHOTOS.insert().values(
                source_id=source, source_key=str(index), download_url=url, scan_status="remote",
                owner_id=owner, created_at=utcnow(),
            ))  # fmt: skip


def _fetched(ledger: Ledger, data: Path) -> tuple[dict[str, tuple[object, ...]], dict[str, bytes]]:
    """Per photo what the fetch decided; and every file of the content store."""
    with ledger.read() as conn:
        rows = conn.execute(
            select(PHOTOS.c.source_key, PHOTOS.c.fetch_status, PHOTOS.c.content_hash,
                   PHOTOS.c.reservation, PHOTOS.c.fetch_error, PHOTOS.c.scan_status, PHOTOS.c.path)
        ).all()  # fmt: skip
    images = data / "images"
    for row in rows:
        assert row.path is None or Path(row.path).is_relative_to(images.resolve())
    files = {p.name: p.read_bytes() for p in images.rglob("*") if p.is_file() and len(p.name) == 64}
    return {str(r[0]): tuple(r[1:6]) for r in rows}, files


def test_a_fetch_on_two_nodes_survives_losing_one_and_equals_a_local_fetch(
    cluster: object, ledger_url: str, ledger: Ledger, tmp_path: Path
) -> None:
    from faceledger.services.collection.fetch import fetch_pending

    while cluster.alive() < 2:  # type: ignore[attr-defined]  # an earlier test killed one
        cluster.add_node(timeout=240)  # type: ignore[attr-defined]
    server = _PoliteServer()
    server.thread.start()
    try:
        rows = _fetch_corpus(server)
        lists = tmp_path / "owners.txt"
        lists.write_text("owner:777@N01\n")
        fetch_env = {"fetch_allow_private": True, "fetch_backoff": 0.0, "fetch_per_host": 1,
                     "fetch_workers": 4}  # fmt: skip

        reference = open_ledger(f"sqlite:///{tmp_path / 'reference.db'}")
        _add_remote(reference, rows, lists)
        local = fetch_pending(reference, load_settings(data_dir=tmp_path / "local", **fetch_env))
        expected = _fetched(reference, tmp_path / "local")
        reference.dispose()
        assert (local.fetched, local.reserved, local.failed) == (34, 5, 1)
        assert len(expected[1]) == 33, "two photos share their bytes"

        server.most.clear()
        server.served.clear()
        _add_remote(ledger, rows, lists)
        fifo = tmp_path / "resume.fifo"
        os.mkfifo(fifo)
        pause_after = 8
        env = {**os.environ, "FACELEDGER_DATABASE_URL": ledger_url,
               "FACELEDGER_DATA_DIR": str(tmp_path / "ray"), "FACELEDGER_FETCH_ALLOW_PRIVATE": "1",
               "FACELEDGER_FETCH_BACKOFF": "0", "FACELEDGER_FETCH_PER_HOST": "1",
               "FACELEDGER_FETCH_WORKERS": "4", "FACELEDGER_FETCH_PAUSE_AFTER": str(pause_after),
               "FACELEDGER_FETCH_RESUME_FIFO": str(fifo),
               "FACELEDGER_RAY_ADDRESS": cluster.address}  # type: ignore[attr-defined]  # fmt: skip
        log = tmp_path / "fetch.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "faceledger", "fetch", "--engine", "ray", "--actors", "2",
                 "--json"],
                env=env, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True,
            )  # fmt: skip
            try:
                _await_pause(process, log, "fetch")
                with ledger.read() as conn:
                    done = conn.execute(
                        select(func.count()).select_from(PHOTOS)
                        .where(PHOTOS.c.fetch_status.is_not(None))
                    ).scalar_one()  # fmt: skip
                assert done == pause_after, "the kill lands right after photo N"
                worker = next(n for n in cluster.nodes if not n.head and not n.killed)  # type: ignore[attr-defined]
                cluster.kill_node(worker)  # type: ignore[attr-defined]
                cluster.wait_dead(1, timeout=60)  # type: ignore[attr-defined]
                with fifo.open("wb") as resume:
                    resume.write(b"go")
                out, _ = process.communicate(timeout=240)
                assert process.returncode == 0, log.read_text()[-3000:]
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=10)

    import json

    assert out.strip().startswith(b"{"), out[-3000:]  # Ray's node-death notice goes to stderr
    document = json.loads(out)
    assert (document["fetched"], document["reserved"], document["failed"]) == (34, 5, 1)
    assert document["engine"] == "ray" and document["workers_lost"] == 1
    assert document["reasons"] == local.to_dict()["reasons"]
    assert _fetched(ledger, tmp_path / "ray") == expected, "the photos and bytes of a local fetch"
    assert max(server.most.values()) == 1, (
        f"fetch_per_host = 1 held across the cluster: {server.overlapping()}\n"
        f"{log.read_text()[-3000:]}"
    )
    assert set(server.most) == set(FETCH_HOSTS)
    with ledger.read() as conn:
        runs = conn.execute(select(AUDIT.c.payload).where(AUDIT.c.name == "fetch.run")).all()
    assert [r[0]["workers_lost"] for r in runs] == [1]
    assert not list((tmp_path / "ray" / "images" / ".journal").iterdir()), "all committed"

    again = fetch_pending(ledger, load_settings(data_dir=tmp_path / "ray", **fetch_env))
    assert (again.fetched, again.reserved, again.failed, again.skipped) == (0, 0, 0, 40)
