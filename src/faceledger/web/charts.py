"""A small horizontal bar chart as inline SVG (no script, no style attribute: CSP-safe)."""

from __future__ import annotations

from html import escape


def bar_chart(items: list[tuple[str, int]], *, title: str, unit: str = "faces") -> str:
    """SVG bars for ``(label, value)`` pairs, largest first; empty string when nothing to draw."""
    items = [(label, value) for label, value in items if value > 0]
    if not items:
        return ""
    width, label_w, bar_h, gap = 640, 190, 22, 8
    top = max(value for _, value in items)
    height = 30 + len(items) * (bar_h + gap)
    rows = []
    for i, (label, value) in enumerate(items):
        y = 30 + i * (bar_h + gap)
        length = max(2, int((width - label_w - 80) * value / top))
        rows.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(label[:28])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{length}" height="{bar_h}" fill="#D55E00"/>'
            f'<text x="{label_w + length + 6}" y="{y + 16}">{value:,}</text>'
        )
    alt = "; ".join(f"{label}: {value} {unit}" for label, value in items)
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}: {escape(alt)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{escape(title)}</title><text x="0" y="16" font-weight="bold">{escape(title)}</text>'
        + "".join(rows)
        + "</svg>"
    )
