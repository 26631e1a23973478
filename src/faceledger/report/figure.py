"""The report's drawing primitives: the palette, :class:`Chart` and :func:`draw`, which runs a
painter on a fresh matplotlib figure and returns it as inline SVG.

Example::

    chart = draw("audit.events", height=2.0, alt="...", caption="...", paint=lambda fig: ...)
    chart.svg                                 # '<svg role="img" ...>...</svg>'

:mod:`faceledger.report.charts`, :mod:`faceledger.report.maps` and
:mod:`faceledger.report.evaluation` draw with these; this module imports none of them.

The SVG comes from matplotlib's own settings, never from rewriting its text: ``svg.fonttype
= none`` keeps labels as text, a per-chart ``svg.hashsalt`` makes the ids stable and unique
on the page, and empty metadata (no ``Date``, ``Creator``, ``Format``, ``Type``) writes no
``<metadata>`` block, so the same ledger gives the same bytes. To inline it, the document is
parsed as XML and re-serialised without its prologue and namespaces, and its root gets the
alt text as ``<title>``; no regular expression ever runs over the output, so a label such as
``19.373.030(1)(a)`` reaches the page exactly as written.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.figure import Figure

#: Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
    "grey": "#BBBBBB",
}  # fmt: skip
ALLOW, BLOCK = OKABE_ITO["green"], OKABE_ITO["vermillion"]
STYLE = {
    "svg.fonttype": "none",  # text stays text: selectable, searchable, small
    "svg.hashsalt": "faceledger",  # stable ids: the same ledger gives the same file
    "font.size": 9,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: the same metrics everywhere
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "hatch.linewidth": 0.6,
}
WIDTH = 7.0  # inches: an A4 page's text width


@dataclass(frozen=True)
class Chart:
    """One rendered chart: inline ``svg``, ``alt`` text and a one-line ``caption``."""

    key: str
    svg: str
    alt: str
    caption: str


#: Empty metadata: matplotlib then writes no ``<metadata>`` element (and no date) at all.
SVG_METADATA: dict[str, Any] = {"Date": None, "Creator": None, "Format": None, "Type": None}
_SVG_NS, _XLINK_NS = "{http://www.w3.org/2000/svg}", "{http://www.w3.org/1999/xlink}"


def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key.lower())  # the chart key, not the SVG


def _inline(svg: str, key: str, alt: str) -> str:
    """matplotlib's SVG document as an element that can sit inside an HTML page.

    Parsed as XML (no text is rewritten): tags lose their namespace (HTML puts an inline
    ``<svg>`` in the SVG namespace itself), ``xlink:href`` becomes SVG 2 ``href``, the
    ``<g id="figure_1">``-style group ids that would repeat from chart to chart are dropped
    (nothing refers to them), and the alt text becomes the root's ``<title>``.
    """
    root = ET.fromstring(svg)
    for element in root.iter():
        element.tag = element.tag.removeprefix(_SVG_NS)
        if _XLINK_NS + "href" in element.attrib:
            element.set("href", element.attrib.pop(_XLINK_NS + "href"))
        if element.tag == "g":
            element.attrib.pop("id", None)
    prefix = _slug(key)
    root.set("role", "img")
    root.set("aria-labelledby", f"{prefix}-title")
    root.set("class", "chart")
    title = ET.Element("title", {"id": f"{prefix}-title"})
    title.text = alt
    root.insert(0, title)
    return ET.tostring(root, encoding="unicode", short_empty_elements=True)


def draw(key: str, *, height: float, alt: str, caption: str,
         paint: Callable[[Figure], None], width: float = WIDTH) -> Chart:  # fmt: skip
    """Run ``paint`` on a fresh figure and return it as an inline :class:`Chart`."""
    style = {**STYLE, "svg.hashsalt": f"{STYLE['svg.hashsalt']}:{key}"}  # ids unique per chart
    with matplotlib.rc_context(style):  # type: ignore[arg-type]
        figure = Figure(figsize=(width, height), layout="constrained")
        paint(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    return Chart(key, _inline(buffer.getvalue(), key, alt), alt, caption)
