"""``faceledger report``: the audit report of the ledger (HTML, PDF or JSON).

Thin: parse, call :func:`faceledger.services.oversight.report.write_report`, print the path.
"""

from __future__ import annotations

from pathlib import Path

import click

from faceledger.cli._common import CliState, echo_json


@click.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (default: <data_dir>/report).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "json"]), default="html",
              show_default=True, help="html: one self-contained page; pdf: that page printed by "
              "headless Chromium; json: the numbers only. report.json is always written.")  # fmt: skip
@click.option("--compare", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="OLD.json", help="An earlier report.json: show what changed since.")  # fmt: skip
@click.option("--purpose", help="The purpose whose decisions the report reads (setting: purpose).")
@click.option("--chromium", type=click.Path(dir_okay=False), metavar="PATH",
              help="Chromium for --format pdf (default: chromium on PATH, /usr/bin/chromium).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report's numbers as JSON.")
@click.pass_obj
def report(state: CliState, out: Path | None, fmt: str, compare: Path | None,
           purpose: str | None, chromium: str | None, as_json: bool) -> None:  # fmt: skip
    """Write the audit report: what is in the dataset, who it exposes, what was done.

    Sections: collection, jurisdictions (with a map), decisions, exposure, consent,
    requests, retention and releases, diversity (DiF measures of the faces lawfully
    measured, and why the others were not), audit log. Works offline: charts are inline
    SVG, nothing is fetched. Reading the stored DiF measures is audited (one event).

    \b
    Example:
      faceledger report --out report/
      faceledger report --format pdf --out report/
      faceledger report --out report-new/ --compare report/report.json
    """
    from faceledger.services.oversight.report import write_report

    settings = state.settings()
    files = write_report(
        state.ledger(), settings, out=out or settings.data_dir / "report", fmt=fmt,
        vault=state.vault, compare=compare, purpose=purpose, chromium=chromium,
    )  # fmt: skip
    if as_json:
        echo_json({**files.document, "changes": files.changes})
        return
    head = files.document["headline"]
    click.echo(
        f"{head['faces']:,} faces in {head['photos']:,} photos; {head['faces_blocked']:,} blocked, "
        f"{head['faces_allowed']:,} allowed; audit chain {'intact' if head['audit_chain_ok'] else 'BROKEN'}"
    )
    if files.changes is not None:
        lines = files.changes["changes"]
        click.echo(
            f"changes since {files.changes['old']['generated_at']}:"
            if lines
            else "no figure changed"
        )
        for change in lines[:20]:
            click.echo(f"  {change['text']}")
        if len(lines) > 20:
            click.echo(f"  ... {len(lines) - 20} more in {files.json.parent / 'changes.json'}")
    click.echo(f"report: {files.main}")


def register(main: click.Group) -> None:
    """Add ``report`` to the top-level command."""
    main.add_command(report)
