"""``faceledger evaluate detect|verify``: the models' error rates on an owner's labelled file.

Thin: parse, call :mod:`faceledger.services.biometrics.evaluate`, print (text, ``--json``, ``--html``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceledger.cli._common import CliState, echo_json

_CSV = click.Path(exists=True, dir_okay=False, path_type=Path)
_HTML = click.Path(dir_okay=False, path_type=Path)


@click.group()
def evaluate() -> None:
    """Measure the detector and the matcher on your own labelled data, per group.

    Recall and precision (detect) or accuracy, TPR and FPR (verify), each with its 95% Wilson
    interval, broken down by face size, by skin-tone band (ITA, computed in memory and never
    stored) and by every label column of the file. The summary is saved under
    <data_dir>/evaluations/ (the audit report shows the latest) and audited (counts only).

    \b
    Example:
      faceledger evaluate detect labels/boxes.csv --html detect.html
      faceledger evaluate verify labels/pairs.csv --json
    """


def _finish(state: CliState, summary: dict[str, Any], as_json: bool, html: Path | None) -> None:
    from faceledger.services.biometrics.evaluate import save_evaluation

    saved = save_evaluation(state.ledger(), state.settings(), summary)
    if html is not None:
        from faceledger.report.evaluation import render_evaluation_page

        html.write_text(render_evaluation_page(summary), encoding="utf-8")
    if as_json:
        echo_json({**summary, "saved": str(saved), "html": str(html) if html else None})
        return
    from faceledger.services.biometrics.evaluate import interval_text

    overall = summary["overall"]
    for metric, item in overall.items():
        click.echo(f"{metric:10} {interval_text(item)}")
    for breakdown, groups in summary["breakdowns"].items():
        click.echo(f"by {breakdown.replace('label:', 'label ')}:")
        for group, metrics in groups.items():
            text = "; ".join(f"{m} {interval_text(v)}" for m, v in metrics.items())
            click.echo(f"  {group:16} {text}")
    for warning in summary["warnings"]:
        click.echo(f"warning: {warning}")
    for column, why in summary["labels_skipped"].items():
        click.echo(f"column {column} not broken down: {why}")
    click.echo(summary["skin_tone"]["note"])
    click.echo(f"saved: {saved}" + (f"; page: {html}" if html else ""))


@evaluate.command("detect")
@click.argument("boxes", type=_CSV)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--html", type=_HTML, metavar="OUT", help="Also write an HTML page with the charts.")
@click.pass_obj
def detect(state: CliState, boxes: Path, as_json: bool, html: Path | None) -> None:
    """Detection recall and precision on BOXES.csv (image, x, y, w, h[, invalid], labels...).

    A labelled face counts when it is at least 20 px high and not invalid; a detection matches
    it at IoU >= 0.5 (the WIDER FACE protocol). Image paths are relative to the CSV's folder.

    \b
    Example:
      faceledger evaluate detect labels/boxes.csv
      faceledger evaluate detect labels/boxes.csv --json --html detect.html
    """
    from faceledger.services.biometrics.evaluate import evaluate_detect

    _finish(state, evaluate_detect(boxes, state.settings()), as_json, html)


@evaluate.command("verify")
@click.argument("pairs", type=_CSV)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--html", type=_HTML, metavar="OUT", help="Also write an HTML page with the charts.")
@click.pass_obj
def verify(state: CliState, pairs: Path, as_json: bool, html: Path | None) -> None:
    """Verification accuracy, TPR and FPR at match_threshold on PAIRS.csv (image1, image2, same).

    Each image's largest face is embedded as `faceledger compare` does; a pair where either
    image has no face counts as "not the same". Image paths are relative to the CSV's folder.

    \b
    Example:
      faceledger evaluate verify labels/pairs.csv
      faceledger evaluate verify labels/pairs.csv --html verify.html
    """
    from faceledger.services.biometrics.evaluate import evaluate_verify

    _finish(state, evaluate_verify(pairs, state.settings()), as_json, html)


def register(main: click.Group) -> None:
    """Add ``evaluate`` to the top-level command."""
    main.add_command(evaluate)
