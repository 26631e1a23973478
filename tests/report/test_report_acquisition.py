"""The report counts what `faceledger fetch` did (fetched, reserved by signal, failed by reason)
exactly as raw SQL counts it, on both backends, and the page says each signal in plain words."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from faceledger.core.law import load_policies
from faceledger.core.signals import RESERVATION_WORDS
from faceledger.report.charts import render_charts
from faceledger.report.html import render_html
from faceledger.services.oversight.report_numbers import report_numbers
from faceledger.store import Ledger
from faceledger.store.ledger import utcnow
from faceledger.store.schema import Photo, Source

PHOTOS, SOURCES = Photo.__table__, Source.__table__
# (fetch_status, scan_status, reservation, fetch_error, has bytes)
OUTCOMES = [
    ("fetched", "pending", None, None, True),
    ("fetched", "pending", None, None, True),
    ("fetched", "pending", None, None, True),
    ("reserved", "reserved", "x-robots-tag", None, False),
    ("reserved", "reserved", "x-robots-tag", None, False),
    ("reserved", "reserved", "tdmrep-unreadable", None, False),
    ("reserved", "reserved", "c2pa-training-mining", None, False),
    ("failed", "remote", None, "http-404", False),
    ("failed", "remote", None, "http-404", False),
    ("failed", "remote", None, "too-large", False),
    (None, "remote", None, None, False),  # not fetched yet
    (None, "remote", None, None, False),
]


def _record_fetch_outcomes(ledger: Ledger) -> None:
    now = utcnow()
    with ledger.begin() as conn:
        source = conn.execute(
            SOURCES.insert().values(uri="manifest:/test/yfcc.tsv", kind="manifest", format="tsv",
                                    name="yfcc.tsv", created_at=now).returning(SOURCES.c.id)
        ).scalar_one()  # fmt: skip
        for index, (fetch, scan, reservation, error, held) in enumerate(OUTCOMES):
            conn.execute(PHOTOS.insert().values(
                source_id=source, source_key=str(index), download_url=f"https://example.org/{index}.jpg",
                scan_status=scan, fetch_status=fetch, reservation=reservation, fetch_error=error,
                reservation_evidence={"header": "X-Robots-Tag", "value": "noai"} if reservation else None,
                path=f"/data/images/{index:064x}" if held else None,
                content_hash=f"{index:064x}" if held else None, created_at=now,
            ))  # fmt: skip


def _grouped(ledger: Ledger, column: str, where: str) -> dict[str, int]:
    with ledger.read() as conn:
        rows = conn.execute(
            text(f"SELECT {column}, count(*) FROM photos WHERE {where} GROUP BY {column}")
        ).all()
    return {str(key): int(n) for key, n in rows}


def _count(ledger: Ledger, where: str) -> int:
    with ledger.read() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM photos WHERE {where}")).scalar_one())


def test_fetched_reserved_and_failed_equal_independent_counts(ledger: Any) -> None:
    _record_fetch_outcomes(ledger)
    doc = report_numbers(
        ledger, purpose="train-face-recognition", vault=None, policies=load_policies()
    )
    acquisition = doc["collection"]["acquisition"]
    expected = {
        "fetched": _count(ledger, "fetch_status = 'fetched'"),
        "reserved": _count(ledger, "reservation IS NOT NULL"),
        "failed": _count(ledger, "fetch_status = 'failed'"),
        "not_fetched": _count(
            ledger, "download_url IS NOT NULL AND path IS NULL AND fetch_status IS NULL"
        ),
        "reserved_by_signal": _grouped(ledger, "reservation", "reservation IS NOT NULL"),
        "failed_by_reason": _grouped(ledger, "fetch_error", "fetch_status = 'failed'"),
    }
    assert {key: acquisition[key] for key in expected} == expected
    assert expected["reserved_by_signal"] == {
        "x-robots-tag": 2,
        "tdmrep-unreadable": 1,
        "c2pa-training-mining": 1,
    }
    assert expected["failed_by_reason"] == {"http-404": 2, "too-large": 1}
    head = doc["headline"]
    assert (head["photos_fetched"], head["photos_reserved"], head["photos_fetch_failed"]) == (
        3,
        4,
        3,
    )
    assert doc["collection"]["totals"]["reserved"] == 4  # per source too
    assert doc["collection"]["sources"][0]["reserved"] == 4
    # a reserved photo is neither scanned nor metadata-only-waiting
    assert head["photos_metadata_only"] == _count(ledger, "scan_status = 'remote'") == 5


def test_the_page_names_each_signal_in_plain_words_and_each_failure(ledger: Any) -> None:
    _record_fetch_outcomes(ledger)
    doc = report_numbers(
        ledger, purpose="train-face-recognition", vault=None, policies=load_policies()
    )
    page = render_html(doc, render_charts(doc))
    section = page.split('id="acquisition"')[1].split("</section>")[0]
    assert "3 photos fetched" in section and "4 reserved" in section and "3 failed" in section
    assert "2 with a download URL not fetched yet" in section
    for code in ("x-robots-tag", "tdmrep-unreadable", "c2pa-training-mining"):
        assert code in section
        assert RESERVATION_WORDS[code].replace("'", "&#x27;") in section
    assert "http-404" in section and "too-large" in section
    assert "xmp-datamining" not in section  # only signals that reserved something are listed
    assert (
        "photos reserved by their rights holder"
        in page.split("Key figures")[1].split("</section>")[0]
    )
    assert "https://example.org/" not in page  # no URL of a reserved photo in the report
