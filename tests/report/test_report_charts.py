"""The report's charts and tiles say exactly what the numbers say (issue 13): statute sections
print as written, the BIPA tile shows its grade split and is coloured by the strongest grade,
licences are counted once per SPDX id, and small diversity samples carry a warning."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import text
from tests.report.conftest import Sample

from faceledger.report.charts import render_charts
from faceledger.report.html import render_html
from faceledger.services.oversight.report import build_report

SECTIONS = {"us-wa-mhmda 19.373.030(1)(a)": 27, "us-tx-cubi 503.001(b)": 9, "us-ca-cpra 1798.100(a)": 2,
            "eu-gdpr Art. 9(1)": 2, "us-co-biometric 6-1-1314(3)(a)": 1, "x 0.12345": 1}  # fmt: skip
#: Flickr licence ids of the sample and their SPDX ids (written out here, not computed).
SPDX = {1: "CC-BY-NC-SA-2.0", 2: "CC-BY-NC-2.0", 3: "CC-BY-NC-ND-2.0", 4: "CC-BY-2.0", 5: "CC-BY-SA-2.0",
        6: "CC-BY-ND-2.0", 11: "CC-BY-4.0", 12: "CC-BY-SA-4.0", 13: "CC-BY-ND-4.0", 14: "CC-BY-NC-4.0"}  # fmt: skip


@pytest.fixture
def document(sample: Sample) -> dict[str, Any]:
    return build_report(sample.ledger, sample.settings, vault=sample.vault)


def _texts(svg: str) -> list[str]:
    """Every text the SVG draws (the alt text in <title> excluded)."""
    return [el.text or "" for el in ET.fromstring(svg).iter("text")]


def test_blocked_by_law_section_chart_prints_the_exact_section_numbers(
    document: dict[str, Any],
) -> None:
    doc = copy.deepcopy(document)
    doc["decisions"]["blocked_by"] = {k: {"faces": n} for k, n in SECTIONS.items()}
    chart = render_charts(doc)["decisions.blocked_by"]
    assert chart is not None
    texts = _texts(chart.svg)
    for section in SECTIONS:
        assert section in texts, f"{section!r} not drawn as written: {texts}"
    assert "us-wa-mhmda 19.37.030(1)(a)" not in chart.svg and "503.00(b)" not in chart.svg


def test_the_same_document_gives_the_same_svg_with_ids_unique_on_the_page(
    document: dict[str, Any],
) -> None:
    first, second = render_charts(document), render_charts(document)
    assert {k: c.svg for k, c in first.items() if c} == {k: c.svg for k, c in second.items() if c}
    svgs = "".join(c.svg for c in first.values() if c)
    ids = re.findall(r'\bid="([^"]+)"', svgs)
    assert ids and len(ids) == len(set(ids))
    assert "<metadata" not in svgs and "<?xml" not in svgs and "http://" not in svgs
    for reference in re.findall(r'(?:url\(#|href="#)([^")]+)', svgs):
        assert reference in ids  # every clip path, hatch and marker still resolves


def test_bipa_tile_shows_the_grade_split_and_is_coloured_by_the_strongest_grade(
    document: dict[str, Any],
) -> None:
    head = document["headline"]
    grades = head["bipa_faces_at_risk_by_grade"]
    assert sum(grades.values()) == head["bipa_faces_at_risk"] > 0
    page = render_html(document, render_charts(document))
    label = (f"faces at risk under BIPA ({grades['yes']} yes, {grades['likely']} likely, "
             f"{grades['uncertain']} uncertain)")  # fmt: skip
    assert label in page
    tone = "bad" if grades["yes"] else "warn" if grades["likely"] else "uncertain"
    assert f'<div class="card {tone}"><span class="value">{head["bipa_faces_at_risk"]}</span>' \
           f'<span class="label">{label}' in page  # fmt: skip
    only_uncertain = copy.deepcopy(document)
    only_uncertain["headline"]["bipa_faces_at_risk_by_grade"] = {
        "yes": 0,
        "likely": 0,
        "uncertain": 9,
    }
    page = render_html(only_uncertain, render_charts(only_uncertain))
    assert '<div class="card uncertain"><span class="value">' in page  # not red


def test_licences_are_counted_once_per_spdx_id(sample: Sample, document: dict[str, Any]) -> None:
    with sample.ledger.read() as conn:
        by_id = dict(
            conn.execute(text("SELECT license_id, count(*) FROM photos GROUP BY license_id")).all()
        )
        names = {
            n
            for (n,) in conn.execute(
                text("SELECT DISTINCT license_name FROM photos WHERE license_id = 4")
            )
        }
    assert {"Attribution License", "CC BY 2.0"} <= names  # the sample spells CC BY 2.0 both ways
    expected = {SPDX[int(i)]: int(n) for i, n in by_id.items()}
    assert document["collection"]["licences"] == dict(
        sorted(expected.items(), key=lambda i: (-i[1], i[0]))
    )
    chart = render_charts(document)["collection.licences"]
    assert chart is not None and "CC-BY-2.0" in _texts(chart.svg)
    assert "Attribution License" not in chart.svg


def test_small_diversity_samples_carry_a_warning(document: dict[str, Any]) -> None:
    diversity = document["diversity"]
    assert 0 < diversity["measured"] < diversity["small_sample_threshold"]
    charts = render_charts(document)
    for key in ("diversity.skin_band", "diversity.yaw", "diversity.roll", "diversity.iod"):
        chart = charts[key]
        assert chart is not None, key
        assert any("small sample" in t for t in _texts(chart.svg)), key  # in the figure itself
        assert chart.caption.startswith("Warning: small sample") and chart.alt.startswith(
            "Warning:"
        )
    page = render_html(document, charts)
    assert page.count('<p class="warning" role="note"><b>Warning:</b> small sample') == 1
    large = copy.deepcopy(document)
    large["diversity"]["small_sample"] = None
    assert not any("small sample" in t for t in _texts(render_charts(large)["diversity.yaw"].svg))  # type: ignore[union-attr]
