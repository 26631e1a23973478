"""Benchmark: the portal under a bounded load on loopback, against PostgreSQL, while a scan runs.

Run by hand: `.venv/bin/python bench/portal.py [--clients 50] [--seconds 30]`. It creates a
fresh schema in the PostgreSQL database of FACELEDGER_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), ingests the bundled sample photos plus many
copies of them (so `faceledger scan` has work for the whole run), starts `faceledger serve` in
its own process on 127.0.0.1 (only loopback is ever contacted), starts `faceledger scan` in
another, and drives N concurrent clients for S seconds: each loop is an exact identifier
search (an owner NSID, a photo id or a tag), and every 10th loop files an opt-out from the
search's owner_token. Prints p50/p99 latency per kind of call, errors, throughput, and then
proves that every receipt the portal handed out is a request row in the ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
POSTGRES = os.environ.get("FACELEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COPIES = 40  # x10 sample photos: a scan that outlasts the load


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(work: Path, url: str) -> None:
    from faceledger.services.ingest import ingest_paths
    from faceledger.store import open_ledger

    ledger = open_ledger(url)
    ingest_paths(ledger, [REPO / "examples" / "photos.csv", REPO / "examples" / "yfcc100m_sample.tsv"])
    copies = work / "copies"
    copies.mkdir()
    for i in range(COPIES):
        for photo in (REPO / "examples" / "photos").glob("*.jpg"):
            shutil.copy(photo, copies / f"{i:03d}_{photo.name}")
    ingest_paths(ledger, [copies])
    ledger.dispose()


async def client_loop(http: httpx.AsyncClient, stop: float, seed: int, owners: list[str], photos: list[str],
                      tags: list[str], stats: dict[str, list[float]], errors: list[str], receipts: list[str]) -> None:
    rng = random.Random(seed)
    loop = 0
    while time.monotonic() < stop:
        loop += 1
        kind = rng.choice(("owner", "owner", "photo", "tag"))
        query = {"owner": owners, "photo": photos, "tag": tags}[kind]
        start = time.perf_counter()
        try:
            response = await http.get(f"/api/v1/search/{kind}", params={"q": rng.choice(query)})
            stats[f"search/{kind}"].append(time.perf_counter() - start)
            if response.status_code != 200:
                errors.append(f"search {response.status_code}")
                continue
            if kind == "owner" and loop % 10 == 0 and response.json()["owner_token"]:
                start = time.perf_counter()
                filed = await http.post("/api/v1/requests", json={"kind": "optout", "token": response.json()["owner_token"]})
                stats["optout"].append(time.perf_counter() - start)
                if filed.status_code == 201:
                    receipts.append(filed.json()["receipt"])
                else:
                    errors.append(f"optout {filed.status_code}")
        except httpx.HTTPError as exc:
            errors.append(type(exc).__name__)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options=-csearch_path%3D{schema}"
    work = Path(tempfile.mkdtemp(prefix="faceledger-portal-bench-"))
    server = scan = None
    try:
        prepare(work, url)
        from faceledger.store import open_ledger
        from faceledger.store.schema import Photo, Request

        ledger = open_ledger(url)
        with ledger.read() as conn:
            rows = conn.execute(select(Photo.owner_id, Photo.external_id, Photo.tags)).all()
        owners = sorted({r.owner_id for r in rows if r.owner_id})
        photos = sorted({r.external_id for r in rows if r.external_id})
        tags = sorted({t.strip() for r in rows for t in (r.tags or "").split(",") if t.strip()})
        env = {**os.environ, "FACELEDGER_DATABASE_URL": url, "FACELEDGER_DATA_DIR": str(work / "data"),
               "FACELEDGER_WEB_RATE_LIMIT": "1000000", "FACELEDGER_WEB_RATE_BURST": "1000000",
               "FACELEDGER_PROCESSOR_LOCATION": "US-WA"}  # fmt: skip
        port = free_port()
        cli = [sys.executable, "-m", "faceledger"]
        server = subprocess.Popen([*cli, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  cwd=work, stderr=subprocess.DEVNULL)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(base + "/api/v1/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        scan = subprocess.Popen([*cli, "scan", "--workers", "2"], env=env, cwd=work,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        stats: dict[str, list[float]] = {k: [] for k in ("search/owner", "search/photo", "search/tag", "optout")}
        errors: list[str] = []
        receipts: list[str] = []

        async def run() -> None:
            limits = httpx.Limits(max_connections=args.clients)
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
                stop = time.monotonic() + args.seconds
                await asyncio.gather(*(client_loop(http, stop, i, owners, photos, tags, stats, errors, receipts)
                                       for i in range(args.clients)))  # fmt: skip

        started = time.monotonic()
        asyncio.run(run())
        elapsed = time.monotonic() - started
        scanning = scan.poll() is None
        with ledger.read() as conn:
            stored = set(conn.execute(select(Request.receipt)).scalars())
            scanned = conn.execute(text("SELECT count(*) FROM photos WHERE scan_status = 'done'")).scalar()
        ledger.dispose()
        calls = sum(len(v) for v in stats.values())
        print(f"portal on PostgreSQL, {args.clients} clients x {args.seconds:.0f} s on 127.0.0.1, one server process")
        print(f"scan running alongside: {'yes, still running at the end' if scanning else 'finished during the run'}; "
              f"{scanned} photos scanned by then")  # fmt: skip
        print(f"calls {calls}  ({calls / elapsed:.0f}/s)  errors {len(errors)} {sorted(set(errors))[:5]}")
        for kind, values in stats.items():
            if values:
                ms = [v * 1000 for v in values]
                print(f"  {kind:14s} n={len(ms):6d}  p50 {statistics.median(ms):7.1f} ms  p99 {percentile(ms, 0.99):7.1f} ms")
        missing = [r for r in receipts if r not in stored]
        print(f"opt-outs filed {len(receipts)}; in the ledger afterwards {len(receipts) - len(missing)}; missing {len(missing)}")
        return 0 if not missing and not errors else 1
    finally:
        for process in (scan, server):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
