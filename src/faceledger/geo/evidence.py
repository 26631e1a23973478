"""Turn a photo's raw location facts into jurisdiction :class:`Evidence` for the law engine.

Example::

    evidence = evidence_for_photo(latitude=42.1476, longitude=-87.7877, accuracy=16,
                                  owner_location="Chicago, IL")
    [e.code for e in evidence]      # ['US-IL', 'US-IL']

Geotag confidence is the boundary lookup's confidence scaled by the YFCC/Flickr accuracy
level (16 = street, 1 = world): a country-level geotag says little about a state line.
Owner-location text goes through :func:`~faceledger.geo.places.parse_place`; ambiguous or
unknown text yields evidence with ``code=None`` so the reason is kept, never a guess.
"""

from __future__ import annotations

from faceledger.core.law.model import Evidence
from faceledger.geo.boundaries import BoundaryIndex, default_index
from faceledger.geo.iso import is_iso_code
from faceledger.geo.places import parse_place


def accuracy_factor(accuracy: int | None) -> float:
    """Scale for a Flickr geo accuracy level (1..16); None (not recorded) -> 0.9."""
    if accuracy is None:
        return 0.9
    if accuracy >= 11:
        return 1.0
    if accuracy >= 6:
        return 0.8
    return 0.5


def evidence_from_geotag(
    *,
    latitude: float,
    longitude: float,
    accuracy: int | None = None,
    index: BoundaryIndex | None = None,
) -> Evidence:
    """One ``geotag`` evidence: the state (US) or country containing the point."""
    place = (index or default_index()).locate(latitude=latitude, longitude=longitude)
    where = f"{latitude:.5f},{longitude:.5f}"
    if place.country is None:
        return Evidence("geotag", None, 0.0, f"{where}: no boundary within reach")
    code = place.subdivision or place.country
    detail = f"{where} in {place.name} ({place.method}"
    detail += f", {place.distance_km:.1f} km away)" if place.method == "nearest" else ")"
    if accuracy is not None:
        detail += f", accuracy {accuracy}"
    return Evidence("geotag", code, place.confidence * accuracy_factor(accuracy), detail)


def evidence_from_place_text(text: str) -> Evidence:
    """One ``owner-location`` evidence from free text (code None when unknown/ambiguous)."""
    guess = parse_place(text)
    return Evidence("owner-location", guess.code, guess.confidence, f"{text!r}: {guess.reason}")


def evidence_from_declaration(code: str) -> Evidence:
    """A stated residence (``US-IL``, ``DE``). Raises ValueError on a malformed code."""
    if not is_iso_code(code):
        raise ValueError(f"not an ISO 3166 code: {code!r} (use e.g. 'US-IL', 'DE', 'GB')")
    return Evidence("declared", code, 1.0, f"declared residence {code}")


def evidence_for_photo(
    *,
    latitude: float | None,
    longitude: float | None,
    accuracy: int | None = None,
    owner_location: str | None = None,
    index: BoundaryIndex | None = None,
) -> list[Evidence]:
    """All evidence one photo carries: its geotag (if any) and its owner's location text."""
    found: list[Evidence] = []
    if latitude is not None and longitude is not None:
        found.append(
            evidence_from_geotag(
                latitude=latitude, longitude=longitude, accuracy=accuracy, index=index
            )
        )
    if owner_location and owner_location.strip():
        found.append(evidence_from_place_text(owner_location))
    return found
