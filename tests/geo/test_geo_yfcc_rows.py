"""Jurisdiction lookups on the 81 real geotagged YFCC100M rows (tests/geo/data, see README)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from faceledger.geo import evidence_from_geotag, locate
from faceledger.geo.iso import us_state_code

CSV = Path(__file__).parent / "data" / "geotagged_rows_jurisdiction.csv"
with CSV.open(encoding="utf-8", newline="") as handle:
    ROWS = list(csv.DictReader(handle))
#: Rows no polygon contains: expected by the nearest-polygon fallback (Richmond, BC).
FALLBACK = {"49.102336,-123.183603": "CA"}


def expected(row: dict[str, str]) -> tuple[str, str | None]:
    state = us_state_code(row["us_state_NAME_census2010_500k"]) if row[
        "us_state_NAME_census2010_500k"] else None  # fmt: skip
    if state:
        return "US", state
    for column in ("ne50m_iso_a2", "ne110m_ISO_A2"):
        if row[column] and row[column] != "-99":
            return row[column], None
    if row["ne110m_country_NAME"] == "France":
        return "FR", None
    return FALLBACK[f"{row['latitude']},{row['longitude']}"], None


def test_the_copied_sample_has_81_rows() -> None:
    assert len(ROWS) == 81


@pytest.mark.parametrize("row", ROWS, ids=[r["photo_id"] for r in ROWS])
def test_yfcc_geotag_resolves_to_expected_jurisdiction(row: dict[str, str]) -> None:
    place = locate(latitude=float(row["latitude"]), longitude=float(row["longitude"]))
    assert (place.country, place.subdivision) == expected(row), place


def test_the_one_illinois_row_is_illinois() -> None:
    ev = evidence_from_geotag(latitude=42.147639, longitude=-87.787681, accuracy=16)
    assert ev.code == "US-IL" and ev.confidence > 0.9


def test_st_louis_row_is_missouri_not_illinois() -> None:
    assert locate(latitude=38.591166, longitude=-90.303667).subdivision == "US-MO"
