"""How well the models see these faces: evaluation summaries as charts, a report section and a page.

Example::

    charts = evaluation_charts(summary)              # {"evaluation.detect.band": Chart, ...}
    html = evaluation_section({"detect": summary})   # the audit report's section body
    page = render_evaluation_page(summary)           # `faceledger evaluate ... --html OUT`

Summaries come from :mod:`faceledger.services.biometrics.evaluate`; this module computes nothing but
presents them in the report's chart style (:func:`faceledger.report.figure.draw`): one dot per
group at the measured rate with its 95% Wilson interval as a bar; a group whose interval is
wider than 0.2 is drawn in orange and hatched, and listed as "too few faces to tell".
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from matplotlib.figure import Figure

from faceledger.report.css import CSS
from faceledger.report.figure import OKABE_ITO, Chart, draw

TITLES = {"band": "skin-tone band (ITA)", "size": "face height (px)"}
PRIMARY = {"detect": "recall", "verify": "accuracy"}
KIND_TITLE = {"detect": "Detection", "verify": "Verification"}


def _what(breakdown: str) -> str:
    return TITLES.get(breakdown, breakdown.replace("label:", "label "))


def _interval_chart(key: str, groups: Mapping[str, Mapping[str, Any]], metric: str, *, title: str,
                    caption: str) -> Chart | None:  # fmt: skip
    rows = [
        (g, m[metric]) for g, m in groups.items() if metric in m and m[metric]["value"] is not None
    ]
    if not rows:
        return None
    wide = [g for g, item in rows if item["wide"]]
    alt = f"{title}: " + ", ".join(
        f"{g} {item['value']:.2f} ({item['k']}/{item['n']})" for g, item in rows
    )
    if wide:
        alt += f"; too few to tell: {', '.join(wide)}"

    def paint(figure: Figure) -> None:
        ax = figure.add_subplot()
        for y, (_, item) in enumerate(rows):
            colour = OKABE_ITO["orange"] if item["wide"] else OKABE_ITO["blue"]
            ax.barh(y, item["high"] - item["low"], left=item["low"], height=0.5, color=colour,
                    alpha=0.35, edgecolor=colour, hatch="///" if item["wide"] else "", linewidth=0.6)  # fmt: skip
            ax.plot([item["value"]], [y], "o", color=OKABE_ITO["black"], markersize=4)
            ax.annotate(f"{item['value']:.2f}  ({item['k']}/{item['n']})", (1.0, y), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=8,
                        annotation_clip=False)  # fmt: skip
        ax.set_yticks(range(len(rows)), labels=[g for g, _ in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"{metric} with 95% Wilson interval")
        ax.set_title(title, loc="left")

    return draw(key, height=0.9 + 0.3 * len(rows), alt=alt, caption=caption, paint=paint)


def evaluation_charts(summary: Mapping[str, Any]) -> dict[str, Chart | None]:
    """One chart per breakdown of ``summary``, for its primary metric (recall / accuracy)."""
    kind = str(summary["kind"])
    metric = PRIMARY[kind]
    charts: dict[str, Chart | None] = {}
    for breakdown, groups in summary["breakdowns"].items():
        key = f"evaluation.{kind}.{breakdown}"
        charts[key] = _interval_chart(
            key, groups, metric, title=f"{KIND_TITLE[kind]} {metric} by {_what(breakdown)}",
            caption=f"{metric.capitalize()} per {_what(breakdown)} on {summary['source']}; orange, "
            "hatched: interval wider than 0.2 (too few to tell).",
        )  # fmt: skip
    return charts


def _rate(item: Mapping[str, Any] | None) -> str:
    if not item or item.get("value") is None:
        return "–"
    return f"{item['value']:.3f} [{item['low']:.2f}–{item['high']:.2f}]"


def _table(summary: Mapping[str, Any], breakdown: str) -> str:
    groups = summary["breakdowns"][breakdown]
    metrics = sorted(
        {m for g in groups.values() for m in g},
        key=["recall", "precision", "accuracy", "tpr", "fpr"].index,
    )
    head = "".join(f"<th>{escape(m)}</th>" for m in metrics)
    primary = PRIMARY[str(summary["kind"])]
    body = "".join(
        f"<tr><td>{escape(g)}</td>"
        + "".join(f'<td class="n">{_rate(v.get(m))}</td>' for m in metrics)
        + f'<td class="n">{v.get(primary, {}).get("n", "")}</td>'
        + (
            "<td class=status-bad>too few to tell</td>"
            if v.get(primary, {}).get("wide")
            else "<td></td>"
        )
        + "</tr>"
        for g, v in groups.items()
    )
    return (f"<table><thead><tr><th scope=col>{escape(_what(breakdown))}</th>{head}<th>n</th><th></th>"
            f"</tr></thead><tbody>{body}</tbody></table>")  # fmt: skip


def _figure(chart: Chart | None) -> str:
    if chart is None:
        return ""
    return (f'<figure data-chart="{escape(chart.key)}">{chart.svg}'
            f"<figcaption>{escape(chart.caption)}</figcaption></figure>")  # fmt: skip


def _summary_html(summary: Mapping[str, Any]) -> str:
    kind = str(summary["kind"])
    overall = summary["overall"]
    figures = ", ".join(
        f"{escape(m)} <b>{_rate(v)}</b> ({v['k']}/{v['n']})" for m, v in overall.items()
    )
    if kind == "detect":
        scope = (f"{summary['faces']:,} labelled faces of at least {summary['min_height']} px in "
                 f"{summary['images']:,} images, IoU ≥ {summary['iou']}")  # fmt: skip
        model = summary["detector"]
        model_text = f"{model['name']} {model['version']}, threshold {model['threshold']}"
    else:
        scope = f"{summary['pairs']:,} pairs ({summary['same_pairs']:,} same person)"
        model = summary["embedder"]
        model_text = (
            f"{model['name']} {model['version']}, distance threshold {summary['threshold']}"
        )
    charts = evaluation_charts(summary)
    parts = [
        f"<h3>{KIND_TITLE[kind]}: {escape(str(summary['source']))} ({escape(str(summary['generated_at']))})</h3>",
        f"<p>{scope}; {escape(model_text)}. {figures}.</p>",
    ]
    warnings = summary.get("warnings") or []
    if warnings:
        parts.append('<ul class="warnings">' + "".join(
            f'<li class="status-bad">{escape(w)}</li>' for w in warnings) + "</ul>")  # fmt: skip
    for breakdown in summary["breakdowns"]:
        parts += [_figure(charts.get(f"evaluation.{kind}.{breakdown}")), _table(summary, breakdown)]
    parts.append(f'<p class="note">{escape(summary["skin_tone"]["note"])}</p>')
    if summary.get("labels_skipped"):
        parts.append('<p class="note">Not broken down: ' + "; ".join(
            f"{escape(c)} ({escape(w)})" for c, w in summary["labels_skipped"].items()) + ".</p>")  # fmt: skip
    return "".join(parts)


def evaluation_section(latest: Mapping[str, Mapping[str, Any]]) -> str:
    """The body of the audit report's "How well the models see these faces" section."""
    if not latest:
        return ('<p class="empty">No evaluation has been run: <code>faceledger evaluate detect '
                "BOXES.csv</code> and <code>faceledger evaluate verify PAIRS.csv</code> measure the "
                "models on your own labelled faces.</p>")  # fmt: skip
    return "".join(_summary_html(latest[k]) for k in ("detect", "verify") if k in latest)


def render_evaluation_page(summary: Mapping[str, Any]) -> str:
    """A self-contained page (no script, no external URL) for ``evaluate --html``."""
    title = f"faceledger evaluation: {KIND_TITLE[str(summary['kind'])].lower()}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>{_summary_html(summary)}</body></html>\n"
    )
