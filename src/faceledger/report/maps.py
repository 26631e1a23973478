"""The map of geotagged faces over the territories the loaded laws cover, as inline SVG.

Example::

    chart = faces_map(document["jurisdictions"]["map"])   # a charts.Chart, or None

Drawn from the boundary files bundled for jurisdiction lookup (``faceledger/geo/data``:
Natural Earth 1:50m countries, US Census 1:500k states), simplified for display; no map
tiles, no network. Territories named in a law's ``territory.codes`` are shaded; points are
the rounded geotags of assessed faces, sized by how many faces they hold and coloured (and
shaped, for greyscale print) by whether any of those faces is blocked.
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from shapely.geometry import MultiPolygon, Polygon, shape

from faceledger.geo.boundaries import COUNTRIES_FILE, STATES_FILE
from faceledger.geo.iso import country_code, us_state_code
from faceledger.report.figure import ALLOW, BLOCK, Chart, draw

COVERED, LAND = "#A6D4F2", "#EEEEEE"  # a light Okabe-Ito sky blue; neutral land
US_BOX = (-125.0, -66.5, 24.0, 49.8)  # contiguous states: lon min, lon max, lat min, lat max
WORLD_BOX = (-180.0, 180.0, -58.0, 84.0)
Rings = list[tuple[str | None, list[tuple[float, float]]]]


def _rings(filename: str, *, states: bool, tolerance: float) -> Rings:
    with resources.files("faceledger.geo.data").joinpath(filename).open("rb") as raw:
        features = json.loads(gzip.decompress(raw.read()))["features"]
    out: Rings = []
    for feature in features:
        props = feature["properties"]
        name = str(props.get("NAME") or props.get("name") or "")
        code = us_state_code(name) if states else country_code(props)
        geom = shape(feature["geometry"]).simplify(tolerance, preserve_topology=True)
        parts = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
        for part in parts:
            if isinstance(part, Polygon) and not part.is_empty and part.area > tolerance**2:
                out.append((code, [(round(x, 3), round(y, 3)) for x, y in part.exterior.coords]))
    return out


@lru_cache(maxsize=1)
def _layers() -> tuple[Rings, Rings]:
    return (_rings(COUNTRIES_FILE, states=False, tolerance=0.3),
            _rings(STATES_FILE, states=True, tolerance=0.05))  # fmt: skip


def _shade(
    ax: Axes, rings: Rings, covered: set[str], box: tuple[float, float, float, float]
) -> None:
    """Draw the rings that reach into ``box`` (the others would only bloat the SVG)."""
    shown = [(code, ring) for code, ring in rings if _meets(ring, box)]
    colours = [COVERED if code in covered else LAND for code, _ in shown]
    ax.add_collection(
        PolyCollection(
            [r for _, r in shown], facecolors=colours, edgecolors="#FFFFFF", linewidths=0.3
        )
    )


def _meets(ring: list[tuple[float, float]], box: tuple[float, float, float, float]) -> bool:
    xs, ys = [x for x, _ in ring], [y for _, y in ring]
    return max(xs) >= box[0] and min(xs) <= box[1] and max(ys) >= box[2] and min(ys) <= box[3]


def _points(ax: Axes, points: list[dict[str, Any]], box: tuple[float, float, float, float]) -> int:
    shown = 0
    for blocked in (False, True):
        chosen = [p for p in points if (p["blocked"] > 0) == blocked
                  and box[0] <= p["lon"] <= box[1] and box[2] <= p["lat"] <= box[3]]  # fmt: skip
        if not chosen:
            continue
        shown += sum(p["faces"] for p in chosen)
        ax.scatter([p["lon"] for p in chosen], [p["lat"] for p in chosen],
                   s=[30 + 25 * math.sqrt(p["faces"]) for p in chosen],
                   c=BLOCK if blocked else ALLOW, marker="o" if blocked else "s",
                   edgecolors="black", linewidths=0.6, zorder=3, alpha=0.9)  # fmt: skip
    return shown


def _frame(ax: Axes, box: tuple[float, float, float, float], title: str) -> None:
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect(1 / math.cos(math.radians((box[2] + box[3]) / 2)))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_linewidth(0.5)
    ax.set_title(title, loc="left")


def faces_map(section: dict[str, Any]) -> Chart | None:
    """The map chart of the report's ``jurisdictions.map`` section; None without geotags."""
    points = section["points"]
    if not points:
        return None
    covered = set(section["covered"])
    in_us = any(
        US_BOX[0] <= p["lon"] <= US_BOX[1] and US_BOX[2] <= p["lat"] <= US_BOX[3] for p in points
    )
    countries, states = _layers()

    def paint(figure: Figure) -> None:
        panels = figure.subplots(2 if in_us else 1, 1, squeeze=False,
                                 height_ratios=[1, 1.1] if in_us else [1])[:, 0]  # fmt: skip
        world = panels[0]
        _shade(world, countries, covered, WORLD_BOX)
        _shade(world, [(c, r) for c, r in states if c in covered], covered, WORLD_BOX)
        _points(world, points, WORLD_BOX)
        _frame(world, WORLD_BOX, "Geotagged faces, world")
        if in_us:
            us = panels[1]
            _shade(us, countries, set(), US_BOX)
            _shade(us, states, covered, US_BOX)
            _points(us, points, US_BOX)
            _frame(us, US_BOX, "Geotagged faces, contiguous United States")
            for code in sorted(c for c in covered if c.startswith("US-")):
                xs = [x for c, r in states if c == code for x, _ in r]
                ys = [y for c, r in states if c == code for _, y in r]
                if xs:
                    us.annotate(code[3:], ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2),
                                ha="center", va="center", fontsize=7, color="#333333")  # fmt: skip
        world.legend(
            handles=[
                Patch(facecolor=COVERED, edgecolor="#777777", label="territory of a loaded law"),
                Line2D([], [], marker="o", color="none", markerfacecolor=BLOCK,
                       markeredgecolor="black", label="faces, some blocked"),
                Line2D([], [], marker="s", color="none", markerfacecolor=ALLOW,
                       markeredgecolor="black", label="faces, all allowed"),
            ],
            loc="lower left", fontsize=7, frameon=True, framealpha=0.9,
        )  # fmt: skip

    blocked = sum(p["faces"] for p in points if p["blocked"])
    total = sum(p["faces"] for p in points)
    alt = (f"Map of {total:,} geotagged faces at {len(points):,} places; {blocked:,} of them at "
           f"places where at least one face is blocked. Shaded: {len(covered)} territories "
           "covered by a loaded law.")  # fmt: skip
    return draw("jurisdictions.map", height=6.6 if in_us else 3.4, alt=alt, paint=paint,
                caption=f"Where geotagged faces were photographed (rounded to {section['precision_deg']}°), "
                "over the states and countries whose laws the policies cover.")  # fmt: skip
