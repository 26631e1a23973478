"""Benchmark: `faceledger fetch` against a bare httpx async loop over the same URLs, same run.

Run by hand (`make bench` or `.venv/bin/python bench/fetch.py [--photos N] [--workers W]`).
Starts a local HTTP server (a separate process, HTTP/1.1 keep-alive) serving N distinct JPEGs
of about Flickr's 500-px size (``--latency-ms`` adds a per-request delay, as a remote server
has; at 0 both sides are CPU-bound on this machine), then prints, in one run:
  - the limit: a bare `httpx.AsyncClient` loop that GETs every URL and reads the body
    (W concurrent, same connection limits), run before and after;
  - `faceledger fetch` into a fresh SQLite ledger: opt-out checks (tdmrep.json, headers,
    XMP/C2PA), safe decode, sha256, content-addressed store, journal, batched commits;
with photos/s, MB/s and the ratio to the limit (goal >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def _images(count: int) -> list[bytes]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    base = []
    for _ in range(16):
        small = rng.integers(0, 255, (47, 63, 3), dtype=np.uint8)
        im = Image.fromarray(small).resize((500, 375), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        im.save(out, "JPEG", quality=85)
        base.append(out.getvalue())
    # distinct bytes per URL (a COM segment with the index), the same pixels
    return [
        b[:2] + b"\xff\xfe\x00\x0a" + f"{i:08d}".encode() + b[2:]
        for i, b in ((i, base[i % 16]) for i in range(count))
    ]


def serve(count: int, latency: float) -> None:
    bodies = _images(count)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            name = self.path.rsplit("/", 1)[-1]
            if latency:
                time.sleep(latency)  # a remote server's round trip, per request
            if (
                self.path.startswith("/img/")
                and name.split(".")[0].isdigit()
                and int(name.split(".")[0]) < count
            ):
                body, kind, status = bodies[int(name.split(".")[0])], "image/jpeg", 200
            else:
                body, kind, status = b"not found", "text/plain", 404
            head = (f"HTTP/1.1 {status} OK\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
            self.wfile.write(head + body)  # one write: no Nagle / delayed-ACK stall

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


async def bare_loop(urls: list[str], workers: int) -> tuple[float, int]:
    import httpx

    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    total = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal total
        while not queue.empty():
            response = await client.get(queue.get_nowait())
            total += len(response.content)

    start = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        await asyncio.gather(*(worker(client) for _ in range(workers)))
    return time.perf_counter() - start, total


def run_fetch(urls: list[str], workers: int, folder: Path) -> tuple[float, object]:
    from faceledger.config import load_settings
    from faceledger.services.collection.fetch import fetch_pending
    from faceledger.store import open_ledger
    from faceledger.store.ledger import utcnow
    from faceledger.store.schema import Photo, Source

    url = f"sqlite:///{folder / 'bench.db'}"
    ledger = open_ledger(url)
    now = utcnow()
    with ledger.begin() as conn:
        source_id = conn.execute(
            Source.__table__.insert().values(uri="manifest:bench", kind="manifest", format="tsv", name="bench",
                                             created_at=now).returning(Source.__table__.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(Photo.__table__.insert(), [
            {"source_id": source_id, "source_key": str(i), "download_url": u, "scan_status": "remote",
             "created_at": now} for i, u in enumerate(urls)
        ])  # fmt: skip
    settings = load_settings(database_url=url, data_dir=folder / "data", fetch_workers=workers,
                             fetch_per_host=workers, fetch_allow_private=True)  # fmt: skip
    start = time.perf_counter()
    report = fetch_pending(ledger, settings)
    seconds = time.perf_counter() - start
    ledger.dispose()
    return seconds, report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="server delay per request (0: localhost, CPU-bound; 50: like a CDN)",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency_ms / 1000)
        return
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(args.photos),
            "--latency-ms",
            str(args.latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    import faceledger.services.collection.fetch  # noqa: F401  (imports are not part of a fetch)
    import faceledger.vision.images  # noqa: F401

    bare, ours, reports = [], [], []
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        urls = [f"http://127.0.0.1:{port}/img/{i}.jpg" for i in range(args.photos)]
        asyncio.run(bare_loop(urls[:50], args.workers))  # warm the server up
        for _ in range(args.rounds):  # interleaved, best of each: this machine is shared
            seconds, size = asyncio.run(bare_loop(urls, args.workers))
            bare.append(seconds)
            with tempfile.TemporaryDirectory() as tmp:
                seconds, report = run_fetch(urls, args.workers, Path(tmp))
            ours.append(seconds)
            reports.append(report)
    finally:
        server.terminate()
        server.wait(timeout=10)
    mb = size / 1e6
    limit, mine = args.photos / min(bare), args.photos / min(ours)
    report = reports[ours.index(min(ours))]
    print(f"{args.photos:,} photos, {mb:,.1f} MB, {args.workers} concurrent, one local server process, "
          f"{args.latency_ms:g} ms server latency, best of {args.rounds} interleaved rounds")  # fmt: skip
    print(f"  bare httpx loop : {limit:8,.0f} photos/s, {mb / min(bare):,.1f} MB/s  "
          f"(rounds: {', '.join(f'{args.photos / s:,.0f}' for s in bare)})")  # fmt: skip
    print(
        f"  faceledger fetch: {mine:8,.0f} photos/s, {mb / min(ours):,.1f} MB/s  "
        f"(rounds: {', '.join(f'{args.photos / s:,.0f}' for s in ours)}; "
        f"fetched {report.fetched:,}, failed {report.failed:,}, reserved {report.reserved:,})"
    )  # type: ignore[attr-defined]
    print(f"  ratio           : {mine / limit:.2f} of the bare loop (goal >= 0.8)")


if __name__ == "__main__":
    main()
