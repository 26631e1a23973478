"""What a Ray actor runs for `fetch --engine ray` (``fetch_batch``), called here in-process
against the local server: the same outcomes as the local fetch, the checked bytes handed
back instead of stored, TDMRep read once per origin and reported to the driver, a driver's
cached entry used without a request. No Ray, no ledger, nothing written."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from faceledger.config import load_settings
from faceledger.services.collection.fetch import WorkerConfig
from faceledger.services.collection.fetch_ray import (
    close_fetch_worker,
    fetch_batch,
    init_fetch_worker,
)


def _run(items: list[Any]) -> Any:
    async def batch() -> Any:
        try:
            return await fetch_batch(items)
        finally:
            await close_fetch_worker()

    return asyncio.run(batch())


def _config(**more: Any) -> WorkerConfig:
    settings = load_settings(fetch_allow_private=True, fetch_backoff=0.0, fetch_per_host=2, **more)
    return WorkerConfig.from_settings(settings)


def test_a_batch_gives_back_outcomes_and_only_the_bytes_to_keep(
    server: Any, images: Any, tmp_path: Any
) -> None:
    ok = images.jpeg(1)
    urls = [
        server.add("/ok.jpg", body=ok),
        server.add("/noai.jpg", body=images.jpeg(2), headers={"X-Robots-Tag": "noai"}),
        server.add("/xmp.jpg", body=images.xmp_jpeg(3, "DMI-PROHIBITED")),
        server.add("/gone.jpg", status=404),
        server.add("/text.jpg", body=b"not an image", content_type="text/plain"),
    ]
    init_fetch_worker(_config())
    items = [(i, url, None, None) for i, url in enumerate(urls)]
    results, read, (_, reads) = _run(items)
    kinds = [
        (o.photo_id, o.kind, o.reason or (o.reservation or {}).get("code")) for o, _ in results
    ]
    assert kinds == [
        (0, "fetched", None),
        (1, "reserved", "x-robots-tag"),
        (2, "reserved", "xmp-datamining"),
        (3, "failed", "http-404"),
        (4, "failed", "bad-content-type"),
    ]
    assert results[0][1] == ok and results[0][0].sha256 is None, "the driver hashes and stores"
    assert [body for _, body in results[1:]] == [None] * 4
    assert server.hits["/noai.jpg"] == 1
    assert reads == 1 and server.hits["/.well-known/tdmrep.json"] == 1, "once per origin"
    assert read == {server.base: {"state": "absent", "at": read[server.base]["at"]}}
    assert not list(tmp_path.rglob("*.json")), "an actor writes no cache file"


def test_a_seeded_tdmrep_entry_is_used_without_asking_the_origin(server: Any, images: Any) -> None:
    url = server.add("/photos/a.jpg", body=images.jpeg(4))
    init_fetch_worker(_config())
    seed = {"state": "rules", "at": time.time(),
            "rules": [{"location": "/photos/*", "tdm-reservation": 1}]}  # fmt: skip
    results, read, (_, reads) = _run([(7, url, None, seed)])
    ((outcome, body),) = results
    assert outcome.kind == "reserved" and outcome.reservation["code"] == "tdmrep"
    assert body is None and read == {} and reads == 0
    assert server.hits["/.well-known/tdmrep.json"] == 0 and server.hits["/photos/a.jpg"] == 0
