"""Charts of the report as inline SVG, drawn with matplotlib (no pyplot, no GUI backend).

Example::

    charts = render_charts(document)          # {"decisions.blocked_by": Chart(...), ...}
    charts["audit.events"].svg                # '<svg role="img" ...>...</svg>'

Why matplotlib: it is the long-maintained, dependency-light standard; it renders offline to
SVG that prints sharply and needs no JavaScript, CDN or browser at render time (Altair and
Plotly both need a JavaScript runtime in the page to draw). Figures are built with
:class:`matplotlib.figure.Figure` directly, which selects no global backend and is safe in
threads. Colours are the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies), and grades also differ by hatching, so the charts read in greyscale print.

Every chart carries a one-line caption (what it shows) and alt text (what it says); a chart
with nothing to draw is ``None`` and the page says so instead.

The drawing primitives (palette, :class:`Chart`, :func:`draw`) live in
:mod:`faceledger.report.figure`; the map in :mod:`faceledger.report.maps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from faceledger.report.figure import ALLOW, BLOCK, OKABE_ITO, Chart, draw
from faceledger.report.maps import faces_map

GRADE_STYLE = {  # applies grade -> (colour, hatch)
    "yes": (OKABE_ITO["vermillion"], ""),
    "likely": (OKABE_ITO["orange"], "///"),
    "uncertain": (OKABE_ITO["yellow"], "\\\\\\"),
    "no": (OKABE_ITO["grey"], ""),
}


def _hbar(
    ax: Axes, labels: Sequence[str], values: Sequence[float], colour: str | list[str]
) -> None:
    positions = range(len(labels))
    bars = ax.barh(list(positions), list(values), color=colour, edgecolor="black", linewidth=0.4)
    ax.set_yticks(list(positions), labels=list(labels))
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=8)
    ax.margins(x=0.12)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))


def _listing(items: dict[str, Any], limit: int = 6) -> str:
    shown = [f"{k} {v:,}" for k, v in list(items.items())[:limit]]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(shown) + more


def _bar_chart(key: str, items: dict[str, int], *, title: str, xlabel: str, caption: str,
               alt: str, colour: str | list[str] = OKABE_ITO["blue"]) -> Chart | None:  # fmt: skip
    if not any(items.values()):
        return None

    def paint(figure: Figure) -> None:
        ax = figure.add_subplot()
        _hbar(ax, [_short(k) for k in items], list(items.values()), colour)
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")

    return draw(key, height=0.9 + 0.28 * len(items), alt=alt, caption=caption, paint=paint)


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _columns(key: str, items: dict[str, int], *, title: str, xlabel: str, ylabel: str,
             caption: str, alt: str, colour: str = OKABE_ITO["blue"],
             warning: str | None = None) -> Chart | None:  # fmt: skip
    """Vertical bars; a ``warning`` (a small sample) is printed in the chart, under its title,
    and leads its caption and alt text."""
    if not any(items.values()):
        return None
    if warning:
        caption, alt = f"Warning: {warning}. {caption}", f"Warning: {warning}. {alt}"

    def paint(figure: Figure) -> None:
        ax = figure.add_subplot()
        bars = ax.bar(
            list(items), list(items.values()), color=colour, edgecolor="black", linewidth=0.4
        )
        ax.bar_label(bars, fontsize=8, padding=2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        if warning:
            ax.text(
                0,
                1.0,
                f"⚠ {warning}",
                transform=ax.transAxes,
                ha="left",
                va="bottom",
                fontsize=8,
                color="#1b1b1b",
                fontweight="bold",
            )
            ax.set_title(title + "\n", loc="left")
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.margins(y=0.15)
        if sum(len(str(k)) for k in items) > 60:  # long labels would overlap
            ax.tick_params(axis="x", labelrotation=45)

    return draw(key, height=2.4, alt=alt, caption=caption, paint=paint)


def _grades(section: dict[str, Any]) -> Chart | None:
    laws = section["laws"]
    if not laws:
        return None
    names = list(laws)

    def paint(figure: Figure) -> None:
        ax = figure.add_subplot()
        left = [0] * len(names)
        for grade, (colour, hatch) in GRADE_STYLE.items():
            values = [laws[n]["faces"][grade] for n in names]
            ax.barh(names, values, left=left, color=colour, hatch=hatch, edgecolor="black",
                    linewidth=0.4, label=grade)  # fmt: skip
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.invert_yaxis()
        ax.set_xlabel("faces")
        ax.set_title("Faces by law and how the law applies", loc="left")
        figure.legend(title="applies", ncols=4, loc="outside lower center", frameon=False)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))

    in_scope = {n: laws[n]["in_scope_faces"] for n in names if laws[n]["in_scope_faces"]}
    alt = f"Faces in scope (yes, likely or uncertain) per law: {_listing(in_scope, 9) or 'none'}."
    return draw("jurisdictions.grades", height=1.2 + 0.3 * len(names), alt=alt, paint=paint,
                caption="Each bar is one law; its segments count the assessed faces the law "
                "reaches (yes, likely, uncertain) or does not (no).")  # fmt: skip


def _histogram(key: str, hist: dict[str, Any], *, title: str, xlabel: str, caption: str,
               warning: str | None = None) -> Chart | None:  # fmt: skip
    counts = hist["counts"]
    if not any(counts):
        return None
    edges = hist["edges"]
    labels = [f"{edges[i]:g}–{edges[i + 1]:g}" if edges[i + 1] is not None else f"≥{edges[i]:g}"
              for i in range(len(counts))]  # fmt: skip
    items = dict(zip(labels, counts, strict=True))
    nonzero = {k: v for k, v in items.items() if v}
    return _columns(key, items, title=title, xlabel=xlabel, ylabel="faces", caption=caption,
                    alt=f"{title}: {_listing(nonzero, 8)} faces.", colour=OKABE_ITO["sky"],
                    warning=warning)  # fmt: skip


def _no_deadline(retention: dict[str, Any]) -> str | None:
    n = retention.get("templates_without_deadline", 0)
    return f"{n:,} faces hold templates with no deadline (set retention_limit_days)" if n else None


def render_charts(doc: dict[str, Any]) -> dict[str, Chart | None]:
    """Every chart of the report document ``doc`` (``None`` where there is nothing to draw)."""
    col, dec, div = doc["collection"], doc["decisions"], doc["diversity"]
    blocked = {k: v["faces"] for k, v in dec["blocked_by"].items()}
    hist = div["histograms"]
    retention = doc["retention"]
    due = {k: v for k, v in retention["faces_due_by_month"].items() if k != "no deadline"}
    small = (
        (
            f"small sample: only {div['measured']:,} measured faces (fewer than "
            f"{div.get('small_sample_threshold', 30)})"
        )
        if div.get("small_sample")
        else None
    )
    not_measured = {"measured": div["measured"], **div["not_measured"]}
    charts: dict[str, Chart | None] = {
        "collection.faces_per_photo": _columns(
            "collection.faces_per_photo", col["faces_per_photo"], title="Faces per scanned photo",
            xlabel="faces found in the photo", ylabel="photos",
            caption="How many scanned photos hold 0, 1, 2, ... detected faces.",
            alt=f"Photos by number of faces: {_listing(col['faces_per_photo'], 11)}."),
        "collection.licences": _bar_chart(
            "collection.licences", col["licences"], title="Photos by licence", xlabel="photos",
            caption="The licence each photo was published under, as its SPDX identifier (LicenseRef- "
            "where SPDX has none): 'Attribution License' and 'CC BY 2.0' are both CC-BY-2.0.",
            alt=f"Photos by licence: {_listing(col['licences'])}.", colour=OKABE_ITO["sky"]),
        "jurisdictions.grades": _grades(doc["jurisdictions"]),
        "jurisdictions.map": faces_map(doc["jurisdictions"]["map"]),
        "decisions.blocked_by": _bar_chart(
            "decisions.blocked_by", blocked, title="Blocked faces by law section", xlabel="faces",
            caption="Faces whose template is blocked, under each law section that blocks them "
            "(a face may count under several).",
            alt=f"Blocked faces by law section: {_listing(blocked)}.", colour=BLOCK),
        "consent.expiry": _columns(
            "consent.expiry", doc["consent"]["expiring_by_month"], title="Active consents by expiry month",
            xlabel="month the consent expires", ylabel="consents",
            caption="When the consents active today run out (consents without an end date are not shown).",
            alt=f"Active consents expiring per month: {_listing(doc['consent']['expiring_by_month'], 12)}.",
            colour=OKABE_ITO["green"]),
        "retention.due": _columns(
            "retention.due", due, title="Faces due for destruction, by month", xlabel="destroy by",
            ylabel="faces", caption="Faces that hold biometric data (a stored template), by the month "
            "it must be destroyed: the laws' deadline, else the organisation's retention limit.",
            alt=f"Faces holding templates due for destruction per month: {_listing(due, 12)}.",
            colour=OKABE_ITO["purple"], warning=_no_deadline(retention)),
        "diversity.not_measured": _bar_chart(
            "diversity.not_measured", not_measured, title="Faces measured, and why the rest were not",
            xlabel="faces", caption="Every detected face once: measured (DiF measures stored) or "
            "the first reason it was not.",
            alt=f"Faces measured {div['measured']:,} of {div['faces']:,}; not measured: "
            f"{_listing(div['not_measured'])}.",
            colour=[ALLOW] + [OKABE_ITO["blue"]] * (len(not_measured) - 1)),
        "diversity.skin_band": _columns(
            "diversity.skin_band", div["skin_band"], title="Skin-tone band (ITA) of measured faces",
            xlabel="ITA band, lightest to darkest", ylabel="faces",
            caption="Individual Typology Angle bands of the faces that were lawfully measured only.",
            alt=f"Measured faces by ITA band: {_listing(div['skin_band'])}.", colour=OKABE_ITO["orange"],
            warning=small),
        "diversity.yaw": _histogram(
            "diversity.yaw", hist["pose.yaw_deg"], title="Head yaw of measured faces",
            xlabel="yaw, degrees (0 = frontal)", caption="How far measured faces turn left or right.",
            warning=small),
        "diversity.roll": _histogram(
            "diversity.roll", hist["pose.roll_deg"], title="Head roll of measured faces",
            xlabel="roll, degrees (0 = upright)", caption="How far measured faces tilt sideways.",
            warning=small),
        "diversity.iod": _histogram(
            "diversity.iod", hist["resolution.iod_px"], title="Face size of measured faces",
            xlabel="inter-ocular distance, pixels",
            caption="Face resolution as the distance between the eyes, in original-image pixels.",
            warning=small),
        "audit.events": _bar_chart(
            "audit.events", doc["audit"]["by_name"], title="Audit events by type", xlabel="events",
            caption="Every audited action in the hash-chained log, by event type.",
            alt=f"Audit events by type: {_listing(doc['audit']['by_name'], 12)}.", colour=OKABE_ITO["blue"]),
    }  # fmt: skip
    return charts
