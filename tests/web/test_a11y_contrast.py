"""WCAG 2.1 AA contrast of the portal's palette, computed from portal.css itself (no browser):
every text colour the stylesheet pairs with a background reaches 4.5:1. axe-core checks the
rendered pages too (tests/web/test_a11y_pages.py); this test says which pair fails and by how
much, and runs everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src" / "faceledger" / "web" / "static" / "portal.css"
AA_TEXT = 4.5


def _luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two sRGB colours (#rgb or #rrggbb)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _css() -> str:
    return re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)


def _variables(css: str) -> dict[str, str]:
    root = re.search(r":root\s*\{([^}]*)\}", css)
    assert root, "portal.css has no :root palette"
    return dict(re.findall(r"--([\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})", root.group(1)))


def _resolve(value: str, palette: dict[str, str]) -> str | None:
    value = value.strip()
    named = re.fullmatch(r"var\(--([\w-]+)\)", value)
    if named:
        return palette.get(named.group(1))
    if value in ("#fff", "#ffffff", "white"):
        return "#ffffff"
    return value if re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", value) else None


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    rules = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = dict(
            (name.strip(), value.strip())
            for name, value in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body)
        )
        rules.append((selector.strip(), declarations))
    return rules


def test_the_contrast_formula_matches_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#D55E00", "#ffffff") == pytest.approx(3.87, abs=0.01)  # the old orange buttons
    assert contrast("#009E73", "#ffffff") == pytest.approx(3.42, abs=0.01)  # the old green text


def test_every_rule_that_sets_both_colours_reaches_aa() -> None:
    css = _css()
    palette = _variables(css)
    checked, failing = 0, []
    for selector, rule in _rules(css):
        background = rule.get("background") or rule.get("background-color")
        if "color" not in rule or background is None:
            continue
        fg, bg = _resolve(rule["color"], palette), _resolve(background.split()[0], palette)
        if fg is None or bg is None:
            continue
        checked += 1
        ratio = contrast(fg, bg)
        if ratio < AA_TEXT:
            failing.append(f"{selector}: {fg} on {bg} is {ratio:.2f}:1")
    assert checked >= 3, "expected buttons and notices that set both colours"
    assert not failing, failing


def test_text_colours_reach_aa_on_every_page_background() -> None:
    """Status and link colours are used as text on the page, cards, notices and overdue rows."""
    css = _css()
    palette = _variables(css)
    backgrounds = {"page": "#fafafa", "card": "#ffffff"}
    for selector in (".notice", ".error", "tr.overdue td", ".banner-overdue"):
        rule = dict(_rules(css)).get(selector, {})
        tint = (
            _resolve((rule.get("background") or "").split()[0], palette)
            if rule.get("background")
            else None
        )
        if tint:
            backgrounds[selector] = tint
    assert len(backgrounds) >= 4, backgrounds
    failing = [
        f"--{name} {palette[name]} on {where} {bg}: {contrast(palette[name], bg):.2f}:1"
        for name in ("ink", "muted", "accent", "warn", "ok")
        for where, bg in backgrounds.items()
        if contrast(palette[name], bg) < AA_TEXT
    ]
    assert not failing, failing


def test_white_text_on_the_button_colours_reaches_aa() -> None:
    palette = _variables(_css())
    for name in ("accent", "warn"):
        assert contrast("#ffffff", palette[name]) >= AA_TEXT, (name, palette[name])
    assert contrast("#ffffff", "#666666") >= AA_TEXT  # button.quiet
