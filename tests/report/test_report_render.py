"""The HTML report renders in headless Chromium with every chart drawn and nothing fetched
from outside; the PDF prints; the command writes the files and fails clearly without Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.report.conftest import ARTIFACTS, Sample, chromium_or_skip

from faceledger.cli import main
from faceledger.errors import PdfUnavailable
from faceledger.report.charts import render_charts
from faceledger.report.pdf import print_pdf
from faceledger.services.oversight.report import write_report

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
LOCAL = ("file:", "data:", "about:")


def test_html_renders_every_chart_and_requests_nothing_external(
    sample: Sample, tmp_path: Path
) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    files = write_report(
        sample.ledger, sample.settings, out=tmp_path / "report", vault=sample.vault
    )
    assert files.html is not None
    page_text = files.html.read_text()
    assert "http://" not in page_text and "https://" not in page_text and "<script" not in page_text
    expected = sorted(
        key for key, chart in render_charts(files.document).items() if chart is not None
    )
    requested: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL)
                       else route.abort())  # fmt: skip
            page.goto(files.html.as_uri(), wait_until="load")
            page.screenshot(path=str(ARTIFACTS / "report-full-page.png"), full_page=True)
            charts = page.eval_on_selector_all(
                "figure[data-chart]",
                """figures => figures.map(f => {
                    const svg = f.querySelector('svg'), img = f.querySelector('img');
                    const box = (svg || img).getBoundingClientRect();
                    return {key: f.dataset.chart, width: box.width, height: box.height,
                            shapes: svg ? svg.querySelectorAll('path, rect, use, text').length : 0,
                            natural: img ? img.naturalWidth * img.naturalHeight : null,
                            title: svg ? (svg.querySelector('title') || {}).textContent : img.alt,
                            caption: f.querySelector('figcaption').textContent};
                })""",
            )
            cards = page.locator(".card").count()
        finally:
            browser.close()
    assert requested and all(url.startswith(LOCAL) for url in requested), requested
    assert sorted(c["key"] for c in charts) == expected and "jurisdictions.map" in expected
    for chart in charts:
        assert chart["width"] > 0 and chart["height"] > 0, chart["key"]
        assert chart["shapes"] > 5 or (chart["natural"] or 0) > 0, chart["key"]
        assert chart["title"] and chart["caption"], chart["key"]  # alt text and a caption
    assert cards >= 10
    assert (ARTIFACTS / "report-full-page.png").stat().st_size > 50_000


def test_pdf_is_printed_by_headless_chromium(sample: Sample, tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    files = write_report(sample.ledger, sample.settings, out=tmp_path / "report", fmt="pdf",
                         vault=sample.vault, chromium=chromium)  # fmt: skip
    assert files.pdf is not None and files.main == files.pdf
    data = files.pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(b"/Type/Page") > 1 \
        or len(data) > 100_000  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report.pdf").write_bytes(data)


def test_missing_chromium_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text("<p>hi</p>")
    with pytest.raises(PdfUnavailable, match="install chromium or use --format html"):
        print_pdf(page, tmp_path / "report.pdf", chromium=tmp_path / "no-such-chromium")


def test_report_command_writes_the_files_and_prints_the_path(
    sample: Sample, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    base = [
        "--database-url",
        sample.settings.database_url,
        "--data-dir",
        str(sample.settings.data_dir),
    ]
    env = {"FACELEDGER_PROCESSOR_LOCATION": "US-WA"}
    result = CliRunner().invoke(
        main, [*base, "report", "--out", str(out), "--format", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.json'}" in result.output and not (out / "report.html").exists()
    assert json.loads((out / "report.json").read_text())["headline"]["faces"] > 0
    result = CliRunner().invoke(main, [*base, "report", "--out", str(out), "--format", "pdf",
                                       "--chromium", str(tmp_path / "nope")], env=env)  # fmt: skip
    assert result.exit_code == 2
    assert "install chromium or use --format html" in result.output
    help_text = CliRunner().invoke(main, ["report", "--help"]).output
    assert "Example:" in help_text
