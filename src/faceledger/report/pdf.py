"""Print the report's HTML to PDF with a headless Chromium already on the machine.

Example::

    print_pdf(Path("report/report.html"), Path("report/report.pdf"))   # /usr/bin/chromium

Playwright for Python drives the browser (``pip install 'faceledger[report]'``); it is given
the system Chromium's ``executable_path`` and never downloads a browser (do not run
``playwright install``). The browser starts without sandbox, GPU, background networking,
component updates, first-run or sync, and every request other than ``file:``, ``data:`` and
``about:`` is aborted, so printing cannot reach the network. A missing Chromium or
Playwright is a :class:`PdfUnavailable` error that says what to install, never a crash.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from faceledger.errors import PdfUnavailable

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DEFAULT_PATH = Path("/usr/bin/chromium")
ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
)  # fmt: skip
LOCAL_SCHEMES = ("file:", "data:", "about:")


def find_chromium(explicit: str | Path | None = None) -> Path:
    """The Chromium to use: ``explicit``, else the first of :data:`CANDIDATES` on PATH."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise PdfUnavailable(f"no Chromium at {path}: install chromium or use --format html")
        return path
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    if DEFAULT_PATH.is_file():
        return DEFAULT_PATH
    raise PdfUnavailable(
        "no Chromium found (looked for chromium, chromium-browser, google-chrome on PATH): "
        "install chromium (apt-get install chromium) or use --format html"
    )


def _local_only(route: Any) -> None:
    if route.request.url.startswith(LOCAL_SCHEMES):
        route.continue_()
    else:
        route.abort()


def print_pdf(
    html: Path, pdf: Path, *, chromium: str | Path | None = None, timeout_s: float = 120
) -> Path:
    """Render ``html`` (a file) to ``pdf`` on A4 with backgrounds; returns ``pdf``."""
    executable = find_chromium(chromium)
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfUnavailable(
            "PDF output needs Playwright for Python: pip install 'faceledger[report]' "
            "(no browser download needed), or use --format html"
        ) from None
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(executable), args=list(ARGS), timeout=timeout_s * 1000
            )
            try:
                page = browser.new_page()
                page.route("**/*", _local_only)
                page.goto(html.resolve().as_uri(), wait_until="load", timeout=timeout_s * 1000)
                page.pdf(
                    path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PdfUnavailable(
            f"Chromium at {executable} could not print the report ({first}): "
            "install chromium or use --format html"
        ) from None
    return pdf
