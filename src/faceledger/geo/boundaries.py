"""Point-in-polygon lookup: WGS84 lon/lat -> country (ISO 3166-1) and US state (ISO 3166-2).

Example::

    index = BoundaryIndex()                   # nothing is read until the first lookup
    place = index.locate(latitude=41.62, longitude=-87.50)
    place.country, place.subdivision          # ('US', 'US-IN')  -- Hammond, Indiana

The US Census 2010 1:500k state outlines decide US points (they are far finer than Natural
Earth's coastlines); Natural Earth 1:50m countries decide the rest. Geometries are loaded
once, lazily, into a shapely ``STRtree`` and prepared for fast ``contains``. A point no
polygon contains (waterfronts the simplified outlines miss) falls back to the nearest polygon
within ``max_fallback_km`` (default 25 km), with lower confidence; beyond that it is unknown.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from shapely.strtree import STRtree

from faceledger.geo.iso import country_code, us_state_code

STATES_FILE = "us_states_500k.geojson.gz"
COUNTRIES_FILE = "ne_50m_countries.geojson.gz"
EARTH_RADIUS_KM = 6371.0088

#: Confidence of a point well inside a polygon / within ~1 km of its (generalized) edge.
CONTAINS_CONFIDENCE = 0.95
EDGE_CONFIDENCE = 0.8
EDGE_KM = 1.0


@dataclass(frozen=True)
class Place:
    """Where a point lies. ``method``: ``contains``, ``nearest`` (fallback) or ``none``."""

    country: str | None
    subdivision: str | None
    confidence: float
    method: Literal["contains", "nearest", "none"]
    distance_km: float = 0.0
    name: str = ""


@dataclass(frozen=True)
class _Layer:
    tree: STRtree
    geoms: tuple[BaseGeometry, ...]
    codes: tuple[tuple[str | None, str | None, str], ...]  # (country, subdivision, name)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _read(filename: str) -> list[dict[str, object]]:
    with resources.files("faceledger.geo.data").joinpath(filename).open("rb") as raw:
        features: list[dict[str, object]] = json.loads(gzip.decompress(raw.read()))["features"]
    return features


def _layer(features: list[dict[str, object]], *, states: bool) -> _Layer:
    geoms: list[BaseGeometry] = []
    codes: list[tuple[str | None, str | None, str]] = []
    for feature in features:
        props = feature["properties"]
        assert isinstance(props, dict)
        geom = shape(feature["geometry"])
        shapely.prepare(geom)
        name = str(props.get("NAME") or props.get("name") or "")
        if states:
            codes.append(("US", us_state_code(name), name))
        else:
            codes.append((country_code(props), None, name))
        geoms.append(geom)
    return _Layer(STRtree(geoms), tuple(geoms), tuple(codes))


class BoundaryIndex:
    """Lazily loaded state + country polygons. Thread-safe; build once and reuse."""

    def __init__(self, *, max_fallback_km: float = 25.0) -> None:
        self.max_fallback_km = max_fallback_km
        self._layers: tuple[_Layer, _Layer] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[_Layer, _Layer]:
        with self._lock:
            if self._layers is None:
                self._layers = (
                    _layer(_read(STATES_FILE), states=True),
                    _layer(_read(COUNTRIES_FILE), states=False),
                )
            return self._layers

    def locate(self, *, latitude: float, longitude: float) -> Place:
        """The state/country containing the point, else the nearest within the fallback."""
        if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
            return Place(None, None, 0.0, "none", name="coordinates out of range")
        point = Point(longitude, latitude)
        for layer in self._load():
            hit = self._contains(layer, point)
            if hit is not None:
                return hit
        best: Place | None = None
        for layer in self._load():
            near = self._nearest(layer, point)
            if near is not None and (best is None or near.distance_km < best.distance_km):
                best = near
        return best or Place(None, None, 0.0, "none", name="no polygon nearby")

    def _contains(self, layer: _Layer, point: Point) -> Place | None:
        for idx in layer.tree.query(point, predicate="intersects"):
            geom = layer.geoms[int(idx)]
            country, subdivision, name = layer.codes[int(idx)]
            edge = self._km_to_boundary(geom, point)
            confidence = CONTAINS_CONFIDENCE if edge > EDGE_KM else EDGE_CONFIDENCE
            return Place(country, subdivision, confidence, "contains", 0.0, name)
        return None

    def _nearest(self, layer: _Layer, point: Point) -> Place | None:
        # a degree bound generous enough at any latitude we care about, refined in km below
        bound = self.max_fallback_km / (111.0 * max(0.1, math.cos(math.radians(point.y))))
        found = layer.tree.query_nearest(point, max_distance=bound)
        best: Place | None = None
        for idx in found:
            geom = layer.geoms[int(idx)]
            _, on_geom = nearest_points(point, geom)
            km = haversine_km(point.y, point.x, on_geom.y, on_geom.x)
            if km > self.max_fallback_km or (best is not None and km >= best.distance_km):
                continue
            country, subdivision, name = layer.codes[int(idx)]
            confidence = 0.7 - 0.3 * (km / self.max_fallback_km)
            best = Place(country, subdivision, confidence, "nearest", km, name)
        return best

    @staticmethod
    def _km_to_boundary(geom: BaseGeometry, point: Point) -> float:
        _, on_edge = nearest_points(point, geom.boundary)
        return haversine_km(point.y, point.x, on_edge.y, on_edge.x)


@lru_cache(maxsize=1)
def default_index() -> BoundaryIndex:
    """The process-wide index (its polygons load on first lookup)."""
    return BoundaryIndex()


def locate(*, latitude: float, longitude: float) -> Place:
    """Shortcut for ``default_index().locate(...)``."""
    return default_index().locate(latitude=latitude, longitude=longitude)
