"""Opt-out lists (`faceledger optouts import`) on SQLite and PostgreSQL, and the pure signal
readers (headers, tdmrep.json rules) without any I/O."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from faceledger.core.signals import TdmrepRules, reservation_from_bytes, reservation_from_headers
from faceledger.errors import ManifestError
from faceledger.services.collection.fetch import fetch_pending
from faceledger.services.people.optouts import classify, import_optouts, normalize_url
from faceledger.store.schema import AuditEvent, Photo

PHOTOS = Photo.__table__


def _reservations(ledger: Any) -> dict[int, Any]:
    with ledger.read() as conn:
        rows = conn.execute(select(PHOTOS.c.id, PHOTOS.c.reservation, PHOTOS.c.scan_status)).all()
    return {r.id: (r.reservation, r.scan_status) for r in rows}


def test_a_plain_list_reserves_photos_by_url_domain_and_owner_before_any_request(
    ledger: Any, tmp_path: Path, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    urls = [server.add(f"/{i}.jpg", body=images.jpeg(i)) for i in range(4)]
    urls[2] = "http://photos.blocked.example/x.jpg"
    ids = remote_photos(ledger, urls, owners=[None, None, None, "12345@N01"])
    listing = tmp_path / "optouts.txt"
    listing.write_text(f"# do not train\n{urls[0]}\nblocked.example\n12345@N01\nnot an entry!\n")
    report = import_optouts(ledger, listing, actor="tester")
    assert report.by_kind == {"url": 1, "domain": 1, "owner": 1} and report.rejected == 1
    assert report.reserved == 3
    states = _reservations(ledger)
    assert [states[i] for i in ids] == [("optout-list", "reserved"), (None, "remote"),
                                        ("optout-list", "reserved"), ("optout-list", "reserved")]  # fmt: skip
    fetched = fetch_pending(ledger, fetch_settings())
    assert fetched.fetched == 1 and server.hits["/0.jpg"] == 0 and server.hits["/3.jpg"] == 0
    again = import_optouts(ledger, listing)
    assert again.added == 0 and again.reserved == 0
    with ledger.read() as conn:
        payload = (
            conn.execute(select(AuditEvent.payload).where(AuditEvent.name == "optouts.import"))
            .scalars()
            .first()
        )
    assert payload["photos_reserved"] == 3 and "12345@N01" not in json.dumps(payload)


def test_spawning_shaped_json_honours_the_opt_out_flag(
    ledger: Any, tmp_path: Path, remote_photos: Any
) -> None:
    a, b = remote_photos(ledger, ["https://cdn.example.org/a.jpg", "https://cdn.example.org/b.jpg"])
    listing = tmp_path / "spawning.json"
    listing.write_text(json.dumps({"urls": [{"url": "https://CDN.example.org:443/a.jpg#frag", "optOut": True},
                                            {"url": "https://cdn.example.org/b.jpg", "optOut": False}]}))  # fmt: skip
    report = import_optouts(ledger, listing)
    assert report.added == 1 and report.reserved == 1
    states = _reservations(ledger)
    assert states[a][0] == "optout-list" and states[b][0] is None


def test_a_list_entry_found_at_fetch_time_reserves_without_a_request(
    ledger: Any, tmp_path: Path, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text("owner_id,optOut\n777@N01,true\n")
    import_optouts(ledger, listing)  # before the photo is ingested
    (photo_id,) = remote_photos(
        ledger, [server.add("/late.jpg", body=images.jpeg(9))], owners=["777@N01"]
    )
    report = fetch_pending(ledger, fetch_settings())
    assert report.reserved_by_signal == {"optout-list": 1} and server.hits["/late.jpg"] == 0
    with ledger.read() as conn:
        evidence = conn.execute(
            select(PHOTOS.c.reservation_evidence).where(PHOTOS.c.id == photo_id)
        ).scalar_one()
    assert evidence["file"] == "list.csv" and evidence["rule"] == "owner 777@N01"


def test_the_most_specific_list_entry_is_recorded_whatever_order_the_lists_came_in(
    ledger: Any, tmp_path: Path, remote_photos: Any, fetch_settings: Any
) -> None:
    url = "http://photos.blocked.example/mine.jpg"
    broad, narrow = tmp_path / "a-broad.txt", tmp_path / "b-narrow.txt"
    broad.write_text("blocked.example\n555@N01\n")
    narrow.write_text(f"photos.blocked.example\n{url}\n")
    import_optouts(ledger, broad)  # imported first, listed first: neither decides
    import_optouts(ledger, narrow)
    ids = remote_photos(
        ledger, [url, "http://photos.blocked.example/other.jpg", "http://x.blocked.example/y.jpg"],
        owners=["555@N01", None, "555@N01"],
    )  # fmt: skip
    report = fetch_pending(ledger, fetch_settings())
    assert report.reserved_by_signal == {"optout-list": 3}
    with ledger.read() as conn:
        evidence = dict(conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.reservation_evidence).where(PHOTOS.c.id.in_(ids))
        ).all())  # fmt: skip
    assert [(evidence[i]["file"], evidence[i]["rule"]) for i in ids] == [
        ("b-narrow.txt", f"url {normalize_url(url)}"),  # its URL, over its owner and domains
        ("b-narrow.txt", "domain photos.blocked.example"),  # the longer domain
        ("a-broad.txt", "owner 555@N01"),  # its owner, over its domain
    ]


def test_a_table_without_a_known_column_is_refused(ledger: Any, tmp_path: Path) -> None:
    listing = tmp_path / "bad.csv"
    listing.write_text("name,comment\nx,y\n")
    with pytest.raises(ManifestError, match="url, domain or owner column"):
        import_optouts(ledger, listing)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("https://Example.org/a.jpg", ("url", "https://example.org/a.jpg")), ("12@N01", ("owner", "12@N01")),
     ("*.Example.org", ("domain", "example.org")), ("owner:someone", ("owner", "someone")),
     ("hello world", None)],
)  # fmt: skip
def test_plain_list_entries_are_classified(text: str, expected: Any) -> None:
    assert classify(text) == expected


def test_header_signals_are_read_case_insensitively_and_scoped_bots_count() -> None:
    assert reservation_from_headers({"x-robots-tag": ["NoImageAI"]}).code == "x-robots-tag"  # type: ignore[union-attr]
    assert reservation_from_headers({"x-robots-tag": ["noindex, nofollow"]}) is None
    assert reservation_from_headers({"tdm-reservation": ["0"]}) is None
    assert reservation_from_headers({"tdm-reservation": [" 1 "]}).code == "tdm-reservation"  # type: ignore[union-attr]


def test_tdmrep_rules_reserve_if_any_matching_rule_does() -> None:
    rules = TdmrepRules.parse(json.dumps([
        {"location": "/public/*", "tdm-reservation": 0},
        {"location": "/", "tdm-reservation": 1},
        {"location": "/exact.jpg$", "tdm-reservation": 1},
    ]))  # fmt: skip
    assert rules.reservation_for("/public/a.jpg", file_url="f") is not None  # "/" matches all
    only_exact = TdmrepRules.parse('[{"location": "/exact.jpg$", "tdm-reservation": 1}]')
    assert only_exact.reservation_for("/exact.jpg", file_url="f") is not None
    assert only_exact.reservation_for("/exact.jpg.png", file_url="f") is None
    for bad in (
        '{"location": "/"}',
        '[{"tdm-reservation": 1}]',
        '[{"location": "/", "tdm-reservation": true}]',
    ):
        with pytest.raises(ValueError):
            TdmrepRules.parse(bad)


def test_plain_image_bytes_carry_no_reservation(images: Any) -> None:
    assert reservation_from_bytes(images.jpeg(1)) is None


def test_a_listed_photo_whose_bytes_are_held_keeps_them_but_carries_the_reservation(
    ledger: Any, tmp_path: Path, server: Any, images: Any, remote_photos: Any, fetch_settings: Any
) -> None:
    (photo_id,) = remote_photos(
        ledger, [server.add("/held.jpg", body=images.jpeg(21))], owners=["55@N01"]
    )
    fetch_pending(ledger, fetch_settings())
    listing = tmp_path / "owners.txt"
    listing.write_text("55@N01\n")
    report = import_optouts(ledger, listing)
    assert (report.reserved, report.already_held) == (0, 1)
    with ledger.read() as conn:
        row = conn.execute(select(PHOTOS).where(PHOTOS.c.id == photo_id)).mappings().one()
    assert row["reservation"] == "optout-list" and row["path"] and row["scan_status"] == "pending"
