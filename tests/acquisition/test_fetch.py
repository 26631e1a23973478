"""`fetch_pending` against a local HTTP server, on SQLite and PostgreSQL: what is stored, what is
reserved (by each signal, fail closed), what fails and why, and that a rerun adds nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from faceledger.services.collection.fetch import fetch_pending
from faceledger.store.schema import AuditEvent, Photo

PHOTOS = Photo.__table__


def _photo(ledger: Any, photo_id: int) -> Any:
    with ledger.read() as conn:
        return conn.execute(select(PHOTOS).where(PHOTOS.c.id == photo_id)).mappings().one()


def test_fetched_bytes_are_stored_once_under_their_hash_and_become_scannable(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    same = images.jpeg(1)
    urls = [server.add("/a.jpg", body=same), server.add("/b.jpg", body=same),
            server.add("/c.jpg", body=images.jpeg(2))]  # fmt: skip
    ids = remote_photos(ledger, urls)
    settings = fetch_settings()
    report = fetch_pending(ledger, settings)
    assert (report.fetched, report.reserved, report.failed) == (3, 0, 0)
    assert report.files_stored == 2 and report.deduplicated == 1
    a, b, c = (_photo(ledger, i) for i in ids)
    digest = hashlib.sha256(same).hexdigest()
    assert a["content_hash"] == b["content_hash"] == digest
    assert (
        a["path"]
        == b["path"]
        == str((settings.data_dir / "images" / digest[:2] / digest[2:4] / digest).resolve())
    )
    assert Path(a["path"]).read_bytes() == same
    assert {a["scan_status"], c["scan_status"]} == {"pending"}
    assert a["fetch_status"] == "fetched" and a["reservation"] is None


def test_a_second_run_fetches_nothing_new(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    remote_photos(ledger, [server.add(f"/{i}.jpg", body=images.jpeg(i)) for i in range(5)])
    first = fetch_pending(ledger, fetch_settings())
    hits = sum(server.hits.values())
    second = fetch_pending(ledger, fetch_settings())
    assert first.fetched == 5
    assert (second.fetched, second.reserved, second.failed, second.skipped) == (0, 0, 0, 5)
    assert sum(server.hits.values()) == hits  # not one request more (tdmrep.json is cached too)


@pytest.mark.parametrize(
    ("route", "code"),
    [
        ({"headers": {"X-Robots-Tag": "noai"}}, "x-robots-tag"),
        ({"headers": {"X-Robots-Tag": "googlebot: noindex, otherbot: noimageai"}}, "x-robots-tag"),
        (
            {"headers": {"tdm-reservation": "1", "tdm-policy": "https://example.org/policy.json"}},
            "tdm-reservation",
        ),
        ({"headers": {"tdm-reservation": "maybe"}}, "tdm-reservation-unreadable"),
    ],
)
def test_an_opt_out_header_reserves_the_photo_and_keeps_no_bytes(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any,
    route: dict[str, Any], code: str,
) -> None:  # fmt: skip
    (photo_id,) = remote_photos(ledger, [server.add("/signal.jpg", body=images.jpeg(3), **route)])
    settings = fetch_settings()
    report = fetch_pending(ledger, settings)
    photo = _photo(ledger, photo_id)
    assert report.reserved == 1 and report.reserved_by_signal == {code: 1}
    assert photo["reservation"] == code and photo["scan_status"] == "reserved"
    assert photo["path"] is None and photo["content_hash"] is None
    header = next(iter(route["headers"]))
    assert photo["reservation_evidence"]["value"] == route["headers"][header]
    assert not any(
        p.is_file() for p in (settings.data_dir / "images").rglob("*") if ".journal" not in p.parts
    )


@pytest.mark.parametrize(
    ("build", "code", "evidence"),
    [
        (
            lambda im: im.xmp_jpeg(
                4, "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"
            ),
            "xmp-datamining",
            "DMI-PROHIBITED-AIMLTRAINING",
        ),
        (lambda im: im.broken_xmp_jpeg(5), "xmp-unreadable", "does not parse"),
        (
            lambda im: im.c2pa_jpeg(6, im.c2pa_store("notAllowed")),
            "c2pa-training-mining",
            "notAllowed",
        ),
        (
            lambda im: im.c2pa_jpeg(7, im.c2pa_store("notAllowed")[:-9]),
            "c2pa-unreadable",
            "overruns",
        ),
    ],
)
def test_embedded_metadata_reserves_the_photo_fail_closed(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any,
    build: Any, code: str, evidence: str,
) -> None:  # fmt: skip
    (photo_id,) = remote_photos(ledger, [server.add("/meta.jpg", body=build(images))])
    report = fetch_pending(ledger, fetch_settings())
    photo = _photo(ledger, photo_id)
    assert report.reserved_by_signal == {code: 1}
    assert photo["reservation"] == code and photo["path"] is None
    assert evidence in json.dumps(photo["reservation_evidence"])


def test_allowing_metadata_does_not_reserve(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    urls = [server.add("/x.jpg", body=images.xmp_jpeg(8, "http://ns.useplus.org/ldf/vocab/DMI-ALLOWED")),
            server.add("/c.jpg", body=images.c2pa_jpeg(9, images.c2pa_store("allowed")))]  # fmt: skip
    remote_photos(ledger, urls)
    report = fetch_pending(ledger, fetch_settings())
    assert (report.fetched, report.reserved) == (2, 0)


@pytest.mark.parametrize(
    ("tdmrep", "code"),
    [
        (
            '[{"location": "/photos/*", "tdm-reservation": 1, "tdm-policy": "https://x.test/p"}]',
            "tdmrep",
        ),
        ('[{"location": "/photos/", "tdm-reservation": "yes"}]', "tdmrep-unreadable"),
        ("{not json", "tdmrep-unreadable"),
    ],
)
def test_the_origins_tdmrep_file_reserves_matching_photos_before_any_request(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any,
    tdmrep: str, code: str,
) -> None:  # fmt: skip
    server.add("/.well-known/tdmrep.json", body=tdmrep.encode(), content_type="application/json")
    ids = remote_photos(ledger, [server.add("/photos/1.jpg", body=images.jpeg(10)),
                                 server.add("/photos/2.jpg", body=images.jpeg(11))])  # fmt: skip
    report = fetch_pending(ledger, fetch_settings())
    assert report.reserved_by_signal == {code: 2}
    assert server.hits["/photos/1.jpg"] == server.hits["/photos/2.jpg"] == 0
    assert server.hits["/.well-known/tdmrep.json"] == 1  # once per origin, shared by the workers
    evidence = _photo(ledger, ids[0])["reservation_evidence"]
    assert evidence["file"] == server.url("/.well-known/tdmrep.json")


def test_a_tdmrep_rule_for_other_paths_lets_the_photo_through(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    server.add("/.well-known/tdmrep.json", body=b'[{"location": "/private/*", "tdm-reservation": 1}]',
               content_type="application/json")  # fmt: skip
    remote_photos(ledger, [server.add("/public/1.jpg", body=images.jpeg(12))])
    assert fetch_pending(ledger, fetch_settings()).fetched == 1


def test_an_unreachable_tdmrep_file_reserves_and_is_asked_again_on_retry(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    server.add("/.well-known/tdmrep.json", status=403, body=b"no", content_type="text/plain")
    (photo_id,) = remote_photos(ledger, [server.add("/p.jpg", body=images.jpeg(13))])
    first = fetch_pending(ledger, fetch_settings())
    assert first.reserved_by_signal == {"tdmrep-unreachable": 1} and server.hits["/p.jpg"] == 0
    server.add("/.well-known/tdmrep.json", status=404, body=b"", content_type="text/plain")
    again = fetch_pending(ledger, fetch_settings(), retry=True)
    assert again.fetched == 1 and _photo(ledger, photo_id)["reservation"] is None


def test_503_then_200_is_fetched_after_a_retry(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    (photo_id,) = remote_photos(
        ledger, [server.add("/flaky.jpg", body=images.jpeg(14), fail_first=[503, 429])]
    )
    report = fetch_pending(ledger, fetch_settings())
    assert report.fetched == 1 and server.hits["/flaky.jpg"] == 3
    assert _photo(ledger, photo_id)["fetch_attempts"] == 3


def test_a_server_that_keeps_failing_fails_after_the_retries_with_its_reason(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    (photo_id,) = remote_photos(
        ledger, [server.add("/down.jpg", body=images.jpeg(15), fail_first=[503] * 10)]
    )
    report = fetch_pending(ledger, fetch_settings(fetch_retries=2))
    assert report.failed_by_reason == {"http-503": 1} and server.hits["/down.jpg"] == 3
    assert _photo(ledger, photo_id)["fetch_error"] == "http-503"


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ({"status": 404, "body": b"gone"}, "http-404"),
        ({"body": b"<html>hi</html>", "content_type": "text/html"}, "bad-content-type"),
        ({"body": b"\xff\xd8" + b"x" * 5000}, "too-many-bytes"),
        ({"body": b"not an image at all"}, "not-an-image"),
    ],
)
def test_a_failed_fetch_is_recorded_with_its_reason_and_keeps_no_bytes(
    ledger: Any,
    server: Any,
    remote_photos: Any,
    fetch_settings: Any,
    route: dict[str, Any],
    reason: str,
) -> None:
    (photo_id,) = remote_photos(ledger, [server.add("/bad.jpg", **route)])
    report = fetch_pending(ledger, fetch_settings(fetch_max_bytes=4000))
    photo = _photo(ledger, photo_id)
    assert report.to_dict()["reasons"] == {reason: 1} and report.failed == 1
    assert photo["fetch_status"] == "failed" and photo["fetch_error"] == reason
    assert photo["path"] is None and photo["scan_status"] == "remote"


def test_a_decompression_bomb_is_refused(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    bomb = images.bomb_png()
    assert len(bomb) < 1000
    (photo_id,) = remote_photos(
        ledger, [server.add("/bomb.png", body=bomb, content_type="image/png")]
    )
    report = fetch_pending(ledger, fetch_settings())
    assert report.failed_by_reason == {"too-large": 1}
    assert _photo(ledger, photo_id)["path"] is None


def test_redirects_are_followed_within_the_cap(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    server.add("/final.jpg", body=images.jpeg(16))
    server.add("/hop1", status=302, headers={"Location": "/hop2"}, content_type="text/plain")
    server.add(
        "/hop2",
        status=301,
        headers={"Location": server.url("/final.jpg")},
        content_type="text/plain",
    )
    two_hops, one_hop = remote_photos(ledger, [server.url("/hop1"), server.url("/hop2")])
    report = fetch_pending(ledger, fetch_settings(fetch_max_redirects=1))
    assert _photo(ledger, two_hops)["fetch_error"] == "too-many-redirects"
    assert _photo(ledger, one_hop)["fetch_status"] == "fetched"
    assert report.fetched == 1 and report.failed == 1


def test_loopback_urls_are_refused_without_the_setting(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    (photo_id,) = remote_photos(ledger, [server.add("/inside.jpg", body=images.jpeg(17))])
    report = fetch_pending(ledger, fetch_settings(fetch_allow_private=False))
    assert report.failed_by_reason == {"ssrf-refused": 1}
    assert sum(server.hits.values()) == 0  # not even tdmrep.json was requested
    assert "fetch_allow_private" in _photo(ledger, photo_id)["fetch_error_detail"]


def test_a_link_local_metadata_address_is_refused(
    ledger: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    (photo_id,) = remote_photos(ledger, ["http://169.254.169.254/latest/meta-data/"])
    report = fetch_pending(ledger, fetch_settings(fetch_allow_private=False))
    assert report.failed_by_reason == {"ssrf-refused": 1}
    assert _photo(ledger, photo_id)["fetch_status"] == "failed"


def test_each_run_is_audited_with_counts_only(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    remote_photos(
        ledger, [server.add("/a.jpg", body=images.jpeg(18)), server.add("/gone.jpg", status=404)]
    )
    fetch_pending(ledger, fetch_settings(), actor="tester")
    with ledger.read() as conn:
        events = (
            conn.execute(select(AuditEvent.__table__).where(AuditEvent.name == "fetch.run"))
            .mappings()
            .all()
        )
    assert len(events) == 1 and events[0]["actor"] == "tester"
    payload = events[0]["payload"]
    assert payload["fetched"] == 1 and payload["failed_by_reason"] == {"http-404": 1}
    assert "127.0.0.1" not in json.dumps(payload)


def test_mirrors_fetch_through_another_prefix_but_keep_the_original_url(
    ledger: Any, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    server.add("/farm1.example/1/a.jpg", body=images.jpeg(19))
    (photo_id,) = remote_photos(ledger, ["http://farm1.example/1/a.jpg"])
    report = fetch_pending(ledger, fetch_settings(fetch_mirrors={"http://": server.base + "/"}))
    assert report.fetched == 1
    assert server.hits["/farm1.example/.well-known/tdmrep.json"] == 1
    assert _photo(ledger, photo_id)["download_url"] == "http://farm1.example/1/a.jpg"
