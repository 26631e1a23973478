"""A local stand-in for Flickr's image servers, for `make demo` (nothing comes from the internet).

Usage::

    python scripts/demo_server.py -- COMMAND...   # serve, run COMMAND, stop; exit with its code

Serves every download URL of ``examples/yfcc100m_sample.tsv`` at
``http://127.0.0.1:PORT/<host>/<path>`` (the sample photos of ``examples/photos/``, in turn),
and runs COMMAND with ``FACELEDGER_FETCH_MIRRORS={"http://": "http://127.0.0.1:PORT/"}`` and
``FACELEDGER_FETCH_ALLOW_PRIVATE=1``, so ``faceledger fetch`` downloads through it while the
ledger keeps the real URLs. A few rows carry opt-out signals, as real servers may:

- row 3: ``X-Robots-Tag: noai``; row 7: ``tdm-reservation: 1``; row 11: gone (404);
- every host's ``/.well-known/tdmrep.json`` is absent (404), except that on one farm host it
  reserves ``/3171/*`` (row 2's photo).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "yfcc100m_sample.tsv"
PHOTOS = sorted((REPO / "examples" / "photos").glob("*.jpg"))
DOWNLOAD_URL = 16  # the YFCC100M column
HEADERS = {3: {"X-Robots-Tag": "noai"}, 7: {"tdm-reservation": "1"}}
GONE = {11}


def routes() -> dict[str, tuple[int, dict[str, str], bytes, str]]:
    table: dict[str, tuple[int, dict[str, str], bytes, str]] = {}
    for row, line in enumerate(SAMPLE.read_text(encoding="utf-8").splitlines()):
        url = line.split("\t")[DOWNLOAD_URL]
        if not url.startswith("http://"):
            continue
        key = "/" + url[len("http://") :]
        if row in GONE:
            continue
        table[key] = (200, HEADERS.get(row, {}), PHOTOS[row % len(PHOTOS)].read_bytes(), "image/jpeg")
        if row == 2:
            host = key.split("/")[1]
            rule = json.dumps([{"location": "/3171/*", "tdm-reservation": 1}]).encode()
            table[f"/{host}/.well-known/tdmrep.json"] = (200, {}, rule, "application/json")
    return table


def make_server() -> ThreadingHTTPServer:
    table = routes()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            status, headers, body, kind = table.get(self.path, (404, {}, b"not found", "text/plain"))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.stderr.write(__doc__ or "")
        return 2
    command = argv[argv.index("--") + 1 :]
    server = make_server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    env = {**os.environ, "FACELEDGER_FETCH_ALLOW_PRIVATE": "1",
           "FACELEDGER_FETCH_MIRRORS": json.dumps({"http://": f"http://127.0.0.1:{port}/"})}  # fmt: skip
    try:
        return subprocess.call(command, env=env)
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
