"""Point-in-polygon edge cases: borders, coasts, Natural Earth -99 codes, bad input."""

from __future__ import annotations

import pytest

from faceledger.geo import BoundaryIndex, evidence_for_photo, locate
from faceledger.geo.evidence import accuracy_factor, evidence_from_declaration
from faceledger.geo.iso import country_code


@pytest.mark.parametrize(
    ("lat", "lon", "country", "state"),
    [
        pytest.param(41.62, -87.50, "US", "US-IN", id="hammond-indiana"),
        pytest.param(41.66, -87.56, "US", "US-IL", id="chicago-south-side-near-border"),
        pytest.param(41.8781, -87.6298, "US", "US-IL", id="chicago-loop"),
        pytest.param(38.6245, -90.1507, "US", "US-IL", id="east-st-louis"),
        pytest.param(47.6062, -122.3321, "US", "US-WA", id="seattle"),
        pytest.param(45.5152, -122.6784, "US", "US-OR", id="portland-or"),
        pytest.param(40.7484, -73.9857, "US", "US-NY", id="manhattan"),
        pytest.param(24.5551, -81.7800, "US", "US-FL", id="key-west"),
        pytest.param(48.8566, 2.3522, "FR", None, id="paris-france-not-minus-99"),
        pytest.param(59.9139, 10.7522, "NO", None, id="oslo-norway"),
        pytest.param(42.6629, 21.1655, "XK", None, id="pristina-kosovo-minus-99"),
        pytest.param(52.52, 13.405, "DE", None, id="berlin"),
        pytest.param(51.5074, -0.1278, "GB", None, id="london"),
        pytest.param(18.4655, -66.1057, "US", "US-PR", id="san-juan-puerto-rico"),
    ],
)
def test_point_resolves(lat: float, lon: float, country: str, state: str | None) -> None:
    place = locate(latitude=lat, longitude=lon)
    assert (place.country, place.subdivision) == (country, state), place


def test_coastal_point_outside_outlines_uses_nearest_with_lower_confidence() -> None:
    place = locate(latitude=49.102336, longitude=-123.183603)
    assert place.method == "nearest" and place.country == "CA"
    assert place.confidence < 0.75 and 0 < place.distance_km <= 25


def test_open_ocean_is_unknown() -> None:
    place = locate(latitude=0.0, longitude=-30.0)
    assert place.country is None and place.method == "none"


def test_fallback_distance_is_bounded() -> None:
    tight = BoundaryIndex(max_fallback_km=1.0)
    assert tight.locate(latitude=49.102336, longitude=-123.183603).country is None


def test_out_of_range_coordinates_are_unknown() -> None:
    assert locate(latitude=123.0, longitude=0.0).country is None


def test_natural_earth_minus_99_falls_back_to_adm0_and_name() -> None:
    assert country_code({"ISO_A2": "-99", "ADM0_A3": "FRA", "NAME": "France"}) == "FR"
    assert country_code({"iso_a2": "-99", "adm0_a3": "XXX", "name": "Norway"}) == "NO"
    assert country_code({"iso_a2": "-99", "adm0_a3": "KAS", "name": "Siachen Glacier"}) is None


def test_accuracy_lowers_geotag_confidence() -> None:
    assert accuracy_factor(16) > accuracy_factor(8) > accuracy_factor(3)
    precise = evidence_for_photo(latitude=41.88, longitude=-87.63, accuracy=16)[0]
    vague = evidence_for_photo(latitude=41.88, longitude=-87.63, accuracy=3)[0]
    assert vague.confidence < precise.confidence


def test_evidence_for_photo_combines_geotag_and_owner_text() -> None:
    found = evidence_for_photo(latitude=42.147639, longitude=-87.787681, accuracy=16,
                               owner_location="Springfield")  # fmt: skip
    assert [(e.kind, e.code) for e in found] == [("geotag", "US-IL"), ("owner-location", None)]
    assert "ambiguous" in found[1].detail


def test_evidence_for_photo_without_location_is_empty() -> None:
    assert evidence_for_photo(latitude=None, longitude=None, owner_location="  ") == []


def test_declaration_rejects_malformed_codes() -> None:
    assert evidence_from_declaration("US-IL").code == "US-IL"
    with pytest.raises(ValueError, match="ISO 3166"):
        evidence_from_declaration("Illinois")
