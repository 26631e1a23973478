"""Jurisdiction inference: geotags and place text -> ISO 3166 codes with confidence.

Example::

    from faceledger.geo import evidence_for_photo, locate, parse_place

    locate(latitude=41.62, longitude=-87.50).subdivision     # 'US-IN' (Hammond, Indiana)
    parse_place("Springfield, MO").code                       # 'US-MO'
    parse_place("Springfield").code                           # None: ambiguous, not a guess
    evidence_for_photo(latitude=42.1476, longitude=-87.7877, accuracy=16,
                       owner_location="Chicago, IL")          # [Evidence(...), Evidence(...)]

Public functions and their signatures:

- ``evidence_for_photo(*, latitude: float | None, longitude: float | None,
  accuracy: int | None = None, owner_location: str | None = None,
  index: BoundaryIndex | None = None) -> list[Evidence]``
- ``evidence_from_geotag(*, latitude, longitude, accuracy=None, index=None) -> Evidence``
- ``evidence_from_place_text(text: str) -> Evidence``
- ``evidence_from_declaration(code: str) -> Evidence`` (ValueError on a malformed code)
- ``locate(*, latitude: float, longitude: float) -> Place`` and
  ``BoundaryIndex(*, max_fallback_km: float = 25.0).locate(...)``
- ``parse_place(text: str | None) -> PlaceGuess``
- ``candidate_jurisdictions(evidence) -> tuple[Jurisdiction, ...]`` (from ``core.law``)

Boundary polygons (US Census 2010 states, Natural Earth 50m countries) ship gzipped in
``faceledger/geo/data`` and load lazily, once, on the first lookup.
"""

from __future__ import annotations

from faceledger.core.law.territory import candidate_jurisdictions
from faceledger.geo.boundaries import BoundaryIndex, Place, default_index, locate
from faceledger.geo.evidence import (
    evidence_for_photo,
    evidence_from_declaration,
    evidence_from_geotag,
    evidence_from_place_text,
)
from faceledger.geo.places import PlaceGuess, parse_place

__all__ = [
    "BoundaryIndex",
    "Place",
    "PlaceGuess",
    "candidate_jurisdictions",
    "default_index",
    "evidence_for_photo",
    "evidence_from_declaration",
    "evidence_from_geotag",
    "evidence_from_place_text",
    "locate",
    "parse_place",
]
