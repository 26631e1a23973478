"""A local HTTP server on 127.0.0.1 serving fixtures that carry each opt-out signal, image
builders (XMP, C2PA, a decompression bomb) and a helper that adds URL-only photos to a ledger.

Everything is bounded: a blocked route waits at most ``BLOCK_SECONDS`` for its release, and
the server thread is joined on teardown.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

BLOCK_SECONDS = 30.0


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "image/jpeg"
    headers: dict[str, str] = field(default_factory=dict)
    fail_first: list[int] = field(default_factory=list)  # statuses sent before the real answer
    block: bool = False  # hold the request until the test releases it


class _QuietServer(ThreadingHTTPServer):
    """A client closing its connection early (a HEAD probe, a refused download) is not an
    error of the server: count it instead of printing a traceback into the test's output."""

    resets = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        type(self).resets += 1


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.served: Counter[str] = Counter()  # 200 responses whose body was fully written
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        handler = self._handler()
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, **route: Any) -> str:
        self.routes[path] = Route(**route)
        return self.url(path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path
                with server._lock:
                    server.hits[path] += 1
                    route = server.routes.get(path)
                    failure = route.fail_first.pop(0) if route and route.fail_first else None
                if route is None:
                    return self._send(404, b"not found", "text/plain", {})
                if route.block:
                    server.entered.set()
                    server.release.wait(BLOCK_SECONDS)
                if failure is not None:
                    return self._send(failure, b"try later", "text/plain", {"Retry-After": "0"})
                self._send(route.status, route.body, route.content_type, route.headers)
                if route.status == 200:
                    with server._lock:
                        server.served[path] += 1

            def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str]) -> None:
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

        return Handler


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    local.thread.start()
    try:
        yield local
    finally:
        local.release.set()
        local.httpd.shutdown()
        local.httpd.server_close()
        local.thread.join(timeout=10)


# --- image builders ---------------------------------------------------------------------------


def jpeg(seed: int, size: tuple[int, int] = (96, 72), segments: tuple[bytes, ...] = ()) -> bytes:
    """A small noise JPEG, distinct per seed, with extra marker segments after SOI."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80)
    data = out.getvalue()
    return data[:2] + b"".join(segments) + data[2:]


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def xmp_jpeg(seed: int, value: str) -> bytes:
    packet = (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        f'plus:DataMining="{value}"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()
    return jpeg(seed, segments=(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + packet),))


def broken_xmp_jpeg(seed: int) -> bytes:
    packet = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><unclosed></x:xmpmeta>'
    return jpeg(seed, segments=(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + packet),))


def _cbor(value: Any) -> bytes:
    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        return bytes([major << 5 | 25]) + struct.pack(">H", n)

    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(_cbor(k) + _cbor(v) for k, v in value.items())
    raise TypeError(value)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload) + 8) + kind + payload


def _superbox(label: str, uuid4: bytes, *children: bytes) -> bytes:
    description = _box(
        b"jumd",
        uuid4
        + b"\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71"
        + b"\x03"
        + label.encode()
        + b"\x00",
    )
    return _box(b"jumb", description + b"".join(children))


def c2pa_store(use: str) -> bytes:
    """A C2PA manifest store with one training-mining assertion (unsigned: structure only)."""
    assertion = _superbox(
        "c2pa.training-mining", b"cbor",
        _box(b"cbor", _cbor({"entries": {"c2pa.ai_training": {"use": use},
                                         "c2pa.data_mining": {"use": use}}})),
    )  # fmt: skip
    assertions = _superbox("c2pa.assertions", b"c2as", assertion)
    manifest = _superbox("urn:uuid:0b5f1c3e-0000-4000-8000-000000000001", b"c2ma", assertions)
    return _superbox("c2pa", b"c2pa", manifest)


def c2pa_jpeg(seed: int, store: bytes) -> bytes:
    payload = b"JP" + b"\x00\x01" + struct.pack(">I", 1) + store
    return jpeg(seed, segments=(segment(0xEB, payload),))


def bomb_png(side: int = 100_000) -> bytes:
    """A PNG whose header claims side x side pixels (10 G): a few hundred bytes on the wire."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def images() -> SimpleNamespace:
    return SimpleNamespace(jpeg=jpeg, xmp_jpeg=xmp_jpeg, broken_xmp_jpeg=broken_xmp_jpeg,
                           c2pa_store=c2pa_store, c2pa_jpeg=c2pa_jpeg, bomb_png=bomb_png)  # fmt: skip


# --- ledger helpers ---------------------------------------------------------------------------


def add_remote_photos(
    ledger: Any, urls: list[str], owners: list[str | None] | None = None
) -> list[int]:
    """URL-only photos (as a YFCC100M row gives them), in one source; returns their ids."""
    from sqlalchemy import select

    from faceledger.store.ledger import utcnow
    from faceledger.store.schema import Photo, Source

    photos, sources = Photo.__table__, Source.__table__
    now = utcnow()
    with ledger.begin() as conn:
        source_id = conn.execute(
            sources.insert().values(uri="manifest:/test/remote.tsv", kind="manifest", format="tsv",
                                    name="remote.tsv", created_at=now).returning(sources.c.id)
        ).scalar_one()  # fmt: skip
        for index, url in enumerate(urls):
            conn.execute(photos.insert().values(
                source_id=source_id, source_key=str(index), download_url=url, scan_status="remote",
                owner_id=(owners or [None] * len(urls))[index], created_at=now,
            ))  # fmt: skip
        ids = conn.execute(
            select(photos.c.id).where(photos.c.source_id == source_id).order_by(photos.c.id)
        ).scalars()
        return [int(i) for i in ids]


@pytest.fixture
def remote_photos() -> Any:
    return add_remote_photos


@pytest.fixture
def fetch_settings(tmp_path: Path, ledger_url: str) -> Any:
    """Settings for a fetch against the local server: private addresses allowed, fast retries."""
    from faceledger.config import load_settings

    def build(**more: Any) -> Any:
        values = {"database_url": ledger_url, "data_dir": tmp_path / "data", "fetch_allow_private": True,
                  "fetch_backoff": 0.0, "fetch_timeout": 20.0, "fetch_workers": 4} | more  # fmt: skip
        return load_settings(**values)

    return build
