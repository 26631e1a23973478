"""Report: what is in the dataset, who it exposes, and what was done about it.

Example::

    files = write_report(ledger, settings, out=Path("report"), fmt="html",
                         vault=lambda: KeyVault.open(settings))
    files.main                          # report/report.html
    files.document["headline"]["faces_blocked"]
    write_report(..., compare=Path("old/report.json")).changes["changes"][0]["text"]

Every run writes ``report.json`` (the numbers: what ``--compare`` reads next time); ``html``
adds ``report.html`` (self-contained, offline), ``pdf`` adds ``report.pdf`` printed from that
page by headless Chromium. Reading the DiF measures appends one ``template.read`` audit
event; nothing else is written to the ledger.

The numbers are gathered here, in the services (:mod:`.report_numbers` with
:mod:`.report_diversity` and :mod:`.report_lifecycle`); :mod:`faceledger.report` only renders
the finished document (HTML, PDF, charts, maps) and compares two of them, and imports no
service or store module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from faceledger.config import Settings
from faceledger.core.law import Policy
from faceledger.errors import ReportFormatError
from faceledger.report.compare import compare_reports
from faceledger.services.decisions.assess import DEFAULT_ACTION
from faceledger.services.decisions.policy import laws_for
from faceledger.services.oversight.report_numbers import report_numbers
from faceledger.store import Ledger
from faceledger.store.vault import KeyVault

FORMATS = ("html", "pdf", "json")
JSON_NAME, HTML_NAME, PDF_NAME, CHANGES_NAME = (
    "report.json",
    "report.html",
    "report.pdf",
    "changes.json",
)


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote, the document itself and, with ``compare``, the changes."""

    json: Path
    html: Path | None
    pdf: Path | None
    document: dict[str, Any]
    changes: dict[str, Any] | None = None

    @property
    def main(self) -> Path:
        """The file a reader opens: the PDF, else the HTML, else the JSON."""
        return self.pdf or self.html or self.json


def build_report(
    ledger: Ledger,
    settings: Settings,
    *,
    vault: KeyVault | Callable[[], KeyVault] | None,
    purpose: str | None = None,
    action: str = DEFAULT_ACTION,
    policies: list[Policy] | None = None,
    today: date | None = None,
    actor: str = "cli",
) -> dict[str, Any]:
    """The report's numbers (see :func:`faceledger.services.oversight.report_numbers.report_numbers`), with the
    latest ``faceledger evaluate`` summaries under ``evaluation``."""
    from faceledger.services.biometrics.evaluate import latest_evaluations

    document = report_numbers(
        ledger,
        purpose=settings.purpose_or(purpose),
        action=action,
        vault=vault,
        policies=policies if policies is not None else laws_for(settings),
        today=today,
        actor=actor,
        retention_limit_days=settings.retention_limit_days,
    )
    document["evaluation"] = latest_evaluations(settings)
    return document


def load_report(path: Path) -> dict[str, Any]:
    """A report JSON written earlier; :class:`ReportFormatError` if it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportFormatError(f"cannot read {path} as a report: {exc}") from None
    if not isinstance(document, dict):
        raise ReportFormatError(f"{path} is not a faceledger report")
    return document


def write_report(
    ledger: Ledger,
    settings: Settings,
    *,
    out: Path,
    vault: KeyVault | Callable[[], KeyVault] | None,
    fmt: str = "html",
    compare: Path | None = None,
    purpose: str | None = None,
    chromium: str | Path | None = None,
    today: date | None = None,
    actor: str = "cli",
) -> ReportFiles:
    """Build the report and write it to ``out`` in ``fmt`` (see the module docs).

    ``compare`` is an older ``report.json``: it is read before anything is written (so it may
    be the file this run replaces) and the changes go to ``changes.json`` and the page.
    Raises :class:`~faceledger.report.pdf.PdfUnavailable` for ``pdf`` without Chromium (before
    anything is written) or when it cannot print (after the JSON and HTML are written).
    """
    if fmt not in FORMATS:
        raise ReportFormatError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "pdf":  # no Chromium: say so before any work is done
        from faceledger.report.pdf import find_chromium

        chromium = find_chromium(chromium)
    old = load_report(compare) if compare is not None else None
    document = build_report(
        ledger, settings, vault=vault, purpose=purpose, today=today, actor=actor
    )
    changes = compare_reports(old, document) if old is not None else None
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / JSON_NAME
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    if changes is not None:
        (out / CHANGES_NAME).write_text(
            json.dumps(changes, indent=2, default=str) + "\n", encoding="utf-8"
        )
    html_path = pdf_path = None
    if fmt in ("html", "pdf"):
        from faceledger.report.charts import render_charts
        from faceledger.report.html import render_html

        html_path = out / HTML_NAME
        page = render_html(document, render_charts(document), changes=changes)
        html_path.write_text(page, encoding="utf-8")
    if fmt == "pdf":
        from faceledger.report.pdf import print_pdf

        assert html_path is not None
        pdf_path = print_pdf(html_path, out / PDF_NAME, chromium=chromium)
    return ReportFiles(json_path, html_path, pdf_path, document, changes)
