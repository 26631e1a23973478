"""Benchmark: the portal under a bounded load on loopback, N server processes, with and without a
scan running (issue 15.3).

Run by hand: `.venv/bin/python bench/portal.py [--clients 50] [--seconds 20] [--workers CPUs]
[--backend postgresql|sqlite] [--one-address]`. It creates a fresh schema in the PostgreSQL database of
FACELEDGER_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test), or a
fresh SQLite file, ingests the bundled sample photos plus many copies of them (so `faceledger
scan` has work for the whole run), starts `faceledger serve --workers N` on 127.0.0.1 (only
loopback is ever contacted) and drives the clients twice for S seconds each: first with nothing
else running, then while `faceledger scan` runs in another process. Each client is its own
connection from its own loopback address (127.0.0.2 on), as fifty people would be, so each has
its own rate-limit row (``--one-address``: all from 127.0.0.1, one row). Each client loop is an exact
identifier search (an owner NSID, a photo id or a tag); every 10th loop files an opt-out from
the search's owner_token. The rate limiter stays on (it is the shared one, in the ledger: one
upsert per call) with limits too high to refuse anyone. Prints, per phase, p50/p99 latency per
kind of call and overall, calls/s and errors, then proves that every receipt the portal handed
out is a request row in the ledger. Goal without a scan: p99 < 200 ms, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
POSTGRES = os.environ.get(
    "FACELEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
COPIES = 40  # x10 sample photos: a scan that outlasts the load


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
        if ordered
        else float("nan")
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(work: Path, url: str) -> None:
    from faceledger.services.collection.ingest import ingest_paths
    from faceledger.store import open_ledger

    ledger = open_ledger(url)
    ingest_paths(
        ledger, [REPO / "examples" / "photos.csv", REPO / "examples" / "yfcc100m_sample.tsv"]
    )
    copies = work / "copies"
    copies.mkdir()
    for i in range(COPIES):
        for photo in (REPO / "examples" / "photos").glob("*.jpg"):
            shutil.copy(photo, copies / f"{i:03d}_{photo.name}")
    ingest_paths(ledger, [copies])
    ledger.dispose()


async def client_loop(
    http: aiohttp.ClientSession,
    stop: float,
    seed: int,
    owners: list[str],
    photos: list[str],
    tags: list[str],
    stats: dict[str, list[float]],
    errors: list[str],
    receipts: list[str],
) -> None:
    rng = random.Random(seed)
    loop = 0
    while time.monotonic() < stop:
        loop += 1
        kind = rng.choice(("owner", "owner", "photo", "tag"))
        query = {"owner": owners, "photo": photos, "tag": tags}[kind]
        start = time.perf_counter()
        try:
            async with http.get(
                f"/api/v1/search/{kind}", params={"q": rng.choice(query)}
            ) as response:
                found = await response.json() if response.status == 200 else None
            stats[f"search/{kind}"].append(time.perf_counter() - start)
            if found is None:
                errors.append(f"search {response.status}")
                continue
            if kind == "owner" and (loop + seed) % 10 == 0 and found["owner_token"]:
                start = time.perf_counter()
                async with http.post(
                    "/api/v1/requests",
                    json={"kind": "optout", "token": found["owner_token"]},
                ) as filed:
                    body = await filed.json() if filed.status == 201 else None
                stats["optout"].append(time.perf_counter() - start)
                if body is not None:
                    receipts.append(body["receipt"])
                else:
                    errors.append(f"optout {filed.status}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            errors.append(type(exc).__name__)


async def floor_loop(http: aiohttp.ClientSession, stop: float, latencies: list[float],
                     errors: list[str]) -> None:  # fmt: skip
    """The limit: the same clients on the same server fetching its stylesheet (no ledger, no
    limiter, no app code past the router), what the machine's HTTP stack allows right now."""
    while time.monotonic() < stop:
        start = time.perf_counter()
        try:
            async with http.get("/static/portal.css") as response:
                await response.read()
                ok = response.status == 200
        except (TimeoutError, aiohttp.ClientError) as exc:
            errors.append(type(exc).__name__)
            continue
        latencies.append(time.perf_counter() - start)
        if not ok:
            errors.append(f"static {response.status}")


@contextlib.asynccontextmanager
async def sessions(
    base: str, clients: int, one_address: bool
) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """An HTTP session per client, each from its own loopback address (127.0.0.2, .3, ...: all
    of 127/8 is this machine), as 50 people would come from 50 addresses: the portal keys its
    rate limit by address, one ledger row each. ``one_address``: one shared session from
    127.0.0.1 (the worst case: every call updates the same row)."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with contextlib.AsyncExitStack() as stack:
        if one_address:
            shared = await stack.enter_async_context(aiohttp.ClientSession(
                base, connector=aiohttp.TCPConnector(limit=clients), timeout=timeout))  # fmt: skip
            yield [shared] * clients
            return
        yield [
            await stack.enter_async_context(aiohttp.ClientSession(
                base, timeout=timeout, connector=aiohttp.TCPConnector(
                    limit=1, local_addr=(f"127.0.{(i + 2) // 256}.{(i + 2) % 256}", 0))))
            for i in range(clients)
        ]  # fmt: skip


def floor(base: str, clients: int, seconds: float, one_address: bool) -> tuple[float, float]:
    """(calls/s, p99 ms) of :func:`floor_loop` with ``clients`` clients."""
    latencies: list[float] = []
    errors: list[str] = []

    async def run() -> None:
        async with sessions(base, clients, one_address) as https:
            stop = time.monotonic() + seconds
            await asyncio.gather(*(floor_loop(http, stop, latencies, errors) for http in https))

    started = time.monotonic()
    asyncio.run(run())
    if errors:
        raise SystemExit(f"the static floor had errors: {sorted(set(errors))[:5]}")
    return len(latencies) / (time.monotonic() - started), percentile(latencies, 0.99) * 1000


GOAL_P99_MS = 200.0


def drive(base: str, clients: int, seconds: float, owners: list[str], photos: list[str],
          tags: list[str], one_address: bool) -> tuple[dict[str, list[float]], list[str], list[str], float, float]:  # fmt: skip
    stats: dict[str, list[float]] = {
        k: [] for k in ("search/owner", "search/photo", "search/tag", "optout")
    }
    errors: list[str] = []
    receipts: list[str] = []

    async def run() -> None:
        async with sessions(base, clients, one_address) as https:
            stop = time.monotonic() + seconds
            await asyncio.gather(*(client_loop(http, stop, i, owners, photos, tags, stats, errors, receipts)
                                   for i, http in enumerate(https)))  # fmt: skip

    started, cpu = time.monotonic(), time.process_time()
    asyncio.run(run())
    elapsed = time.monotonic() - started
    return stats, errors, receipts, elapsed, (time.process_time() - cpu) / elapsed


def report(label: str, stats: dict[str, list[float]], errors: list[str], elapsed: float,
           load: float) -> float:  # fmt: skip
    """Print one phase (``load``: the share of one CPU the load generator itself used);
    returns its overall p99 in ms."""
    every = [v * 1000 for values in stats.values() for v in values]
    print(
        f"{label}: calls {len(every)}  ({len(every) / elapsed:.0f}/s)  errors {len(errors)} {sorted(set(errors))[:5]}"
        f"  (load generator: {load:.0%} of one CPU)"
    )
    for kind, values in stats.items():
        if values:
            ms = [v * 1000 for v in values]
            print(
                f"  {kind:14s} n={len(ms):6d}  p50 {statistics.median(ms):7.1f} ms  p99 {percentile(ms, 0.99):7.1f} ms"
            )
    p99 = percentile(every, 0.99)
    print(
        f"  {'all':14s} n={len(every):6d}  p50 {statistics.median(every) if every else float('nan'):7.1f} ms  p99 {p99:7.1f} ms"
    )
    return p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2,
        help="faceledger serve --workers (default: one per CPU, the best measured)",
    )  # fmt: skip
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--no-scan", action="store_true", help="skip the phase with a scan running")
    parser.add_argument(
        "--one-address",
        action="store_true",
        help="all clients from 127.0.0.1 (one rate-limit row for every call)",
    )
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    work = Path(tempfile.mkdtemp(prefix="faceledger-portal-bench-"))
    admin = None
    if args.backend == "postgresql":
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{work / 'ledger.db'}"
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
               "FACELEDGER_WEB_ANONYMOUS_AUDIT_PER_HOUR": "10000000", "FACELEDGER_WEB_ACCESS_LOG": "off",
               "FACELEDGER_PROCESSOR_LOCATION": "US-WA"}  # fmt: skip
        port = free_port()
        cli = [sys.executable, "-m", "faceledger"]
        server = subprocess.Popen([*cli, "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--workers", str(args.workers)], env=env, cwd=work,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # every worker must be up before the clock starts
            try:
                with httpx.Client(base_url=base, timeout=5) as probe:
                    if all(
                        probe.get("/api/v1/openapi.json").status_code == 200
                        for _ in range(args.workers * 4)
                    ):
                        break
            except httpx.HTTPError:
                time.sleep(0.2)
        head = (f"portal on {args.backend}, {args.clients} clients x {args.seconds:.0f} s per phase on 127.0.0.1, "
                f"{args.workers} server process(es), {os.cpu_count()} CPUs")  # fmt: skip
        print(head)
        limit, limit_p99 = floor(base, args.clients, min(args.seconds, 10.0), args.one_address)
        print(
            f"limit (the stylesheet, same clients and server): {limit:.0f} calls/s, p99 {limit_p99:.1f} ms"
        )
        stats, errors, receipts, elapsed, load = drive(
            base, args.clients, args.seconds, owners, photos, tags, args.one_address
        )
        p99_quiet = report("without a scan", stats, errors, elapsed, load)
        quiet_rate = sum(len(v) for v in stats.values()) / elapsed
        print(f"  ratio to the limit: {quiet_rate / limit:.2f} of its calls/s")
        quiet_errors = len(errors)
        all_receipts = list(receipts)
        all_errors = list(errors)
        if not args.no_scan:
            scan = subprocess.Popen([*cli, "scan", "--workers", "2"], env=env, cwd=work,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            stats, errors, receipts, elapsed, load = drive(
                base, args.clients, args.seconds, owners, photos, tags, args.one_address
            )
            scanning = scan.poll() is None
            report("with a scan running", stats, errors, elapsed, load)
            with ledger.read() as conn:
                scanned = conn.execute(
                    text("SELECT count(*) FROM photos WHERE scan_status = 'done'")
                ).scalar()
            print(f"  scan: {'still running at the end' if scanning else 'finished during the phase'}; "
                  f"{scanned} photos scanned by then")  # fmt: skip
            all_receipts += receipts
            all_errors += errors
        with ledger.read() as conn:
            stored = set(conn.execute(select(Request.receipt)).scalars())
        ledger.dispose()
        missing = [r for r in all_receipts if r not in stored]
        print(f"opt-outs filed {len(all_receipts)}; in the ledger afterwards {len(all_receipts) - len(missing)}; "
              f"missing {len(missing)}")  # fmt: skip
        met = p99_quiet < GOAL_P99_MS and quiet_errors == 0
        print(f"goal without a scan (p99 < {GOAL_P99_MS:.0f} ms, 0 errors): {'met' if met else 'NOT met'} "
              f"(p99 {p99_quiet:.1f} ms, {quiet_errors} errors)")  # fmt: skip
        return 0 if not missing and not all_errors else 1
    finally:
        for process in (scan, server):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
