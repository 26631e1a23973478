"""`faceledger evaluate` on small labelled sets with known answers, built from shared images.

Detection: dlib's 4 group photos with their 18 labelled faces (the detector finds all 18,
tests/test_detection_quality.py), plus one labelled "face" on a blank wall (a certain miss),
one invalid and one tiny face (ignored) and one face in a missing image (a miss): recall 18/20
exactly. Verification: 6 LFW pairs that
the matcher gets right (3 same, 3 different) and one "same" pair whose second image has no
face: accuracy 6/7, TPR 3/4, FPR 0/3. A label group with one face shows the "too few to tell"
warning; every skin-tone band's counts add up to the faces counted.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from faceledger.cli import main
from faceledger.config import load_settings
from faceledger.services.biometrics.evaluate import evaluate_detect, evaluate_verify

pytestmark = pytest.mark.integration


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def boxes_csv(dlib_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(dlib_dir / "images", tmp_path / "set" / "photos")
    rows: list[list[object]] = []
    with (dlib_dir / "boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            name = Path(row["image"]).name
            rows.append([f"photos/{name}", row["x"], row["y"], row["w"], row["h"], 0, "real"])
    first = rows[0][0]
    rows.append([first, 2, 2, 30, 30, 0, "wall"])  # top-left corner of 2007_007763: no face there
    rows.append([first, 300, 300, 40, 40, 1, "real"])  # invalid: ignored
    rows.append([first, 460, 330, 12, 12, 0, "real"])  # 12 px: under 20, ignored
    rows.append(["photos/missing.jpg", 10, 10, 50, 50, 0, "gone"])  # unreadable: a miss
    return _write(
        tmp_path / "set" / "boxes.csv", ["image", "x", "y", "w", "h", "invalid", "group"], rows
    )


def test_evaluate_detect_counts_the_known_answers(boxes_csv: Path) -> None:
    summary = evaluate_detect(boxes_csv, load_settings())
    counts = summary["counts"]
    assert (
        summary["images"],
        summary["images_failed"],
        summary["faces"],
        summary["faces_ignored"],
    ) == (5, 1, 20, 2)
    assert (counts["tp"], counts["fn"]) == (18, 2)
    recall = summary["overall"]["recall"]
    assert (recall["k"], recall["n"]) == (18, 20)
    assert recall["low"] < 18 / 20 < recall["high"]
    assert summary["overall"]["precision"]["n"] == 18 + counts["fp"]
    groups = summary["breakdowns"]["label:group"]
    assert groups["real"]["recall"]["k"] == groups["real"]["recall"]["n"] == 18
    assert (groups["wall"]["recall"]["k"], groups["wall"]["recall"]["n"]) == (0, 1)
    assert groups["wall"]["recall"]["wide"]
    assert any(w.startswith("group wall: recall over 1 faces") for w in summary["warnings"])
    bands = summary["breakdowns"]["band"]
    assert sum(b["recall"]["n"] for b in bands.values()) == 20
    assert bands["unknown"]["recall"]["n"] >= 1  # at least the unreadable image's face
    for name, band in bands.items():
        assert band["recall"]["wide"] == (band["recall"]["high"] - band["recall"]["low"] > 0.2)
        if band["recall"]["wide"]:
            assert any(w.startswith(f"skin-tone band {name}:") for w in summary["warnings"])
    assert (
        sum(s["recall"]["n"] for s in summary["breakdowns"]["size"].values() if "recall" in s) == 20
    )
    assert summary["skin_tone"]["stored"] is False
    text = json.dumps(summary)
    assert "ita_deg" not in text and "photos/" not in text  # no per-face measure, no image path


@pytest.fixture
def pairs_csv(lfw_dir: Path, tmp_path: Path) -> Path:
    with (lfw_dir / "pairs.csv").open() as handle:
        pairs = list(csv.DictReader(handle))
    chosen = [p for p in pairs if p["same_identity"] == "1"][:3] + [
        p for p in pairs if p["same_identity"] == "0"
    ][:3]
    folder = tmp_path / "lfw"
    rows: list[list[object]] = []
    for i, pair in enumerate(chosen):
        for key in ("image1", "image2"):
            target = folder / pair[key]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(lfw_dir / pair[key], target)
        rows.append([pair["image1"], pair["image2"], pair["same_identity"], "ab"[i % 2]])
    Image.fromarray(np.full((250, 250, 3), 128, dtype=np.uint8)).save(folder / "blank.jpg")
    rows.append([chosen[0]["image1"], "blank.jpg", 1, "c"])
    return _write(folder / "pairs.csv", ["image1", "image2", "same", "site"], rows)


def test_evaluate_verify_counts_the_known_answers(pairs_csv: Path) -> None:
    summary = evaluate_verify(pairs_csv, load_settings())
    overall = summary["overall"]
    assert (overall["accuracy"]["k"], overall["accuracy"]["n"]) == (6, 7)
    assert (overall["tpr"]["k"], overall["tpr"]["n"]) == (3, 4)
    assert (overall["fpr"]["k"], overall["fpr"]["n"]) == (0, 3)
    assert (summary["pairs_without_face"], summary["images_without_face"]) == (1, 1)
    assert summary["breakdowns"]["size"]["no face"]["accuracy"]["k"] == 0
    assert summary["breakdowns"]["label:site"]["c"]["accuracy"]["wide"]
    assert (
        summary["distances"]["same"]["max"]
        < summary["threshold"]
        < summary["distances"]["different"]["min"]
    )
    assert summary["embedder"]["name"] == "sface-2021dec"  # the default embedder


def test_evaluate_command_saves_the_summary_and_audits_counts_only(
    boxes_csv: Path, tmp_path: Path
) -> None:
    from faceledger.store import open_ledger
    from faceledger.store.schema import AuditEvent

    db = tmp_path / "eval.db"
    data = tmp_path / "data"
    page = tmp_path / "detect.html"
    args = ["--database-url", f"sqlite:///{db}", "--data-dir", str(data)]
    assert (
        CliRunner().invoke(main, [*args, "init"]).exit_code == 0
    )  # only ingest and init create a ledger
    result = CliRunner().invoke(
        main, [*args, "evaluate", "detect", str(boxes_csv), "--json", "--html", str(page)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    saved = json.loads((data / "evaluations" / "latest-detect.json").read_text())
    assert saved["counts"] == document["counts"]
    html = page.read_text()
    assert "<svg" in html and "too few" in html and "http" not in html.replace("http-equiv", "")
    from faceledger.report.evaluation import evaluation_section
    from faceledger.services.biometrics.evaluate import latest_evaluations

    latest = latest_evaluations(load_settings(data_dir=data))
    assert set(latest) == {"detect"}
    section = evaluation_section(latest)  # what the audit report shows
    assert "group wall: recall over 1 faces" in section and "boxes.csv" in section
    ledger = open_ledger(f"sqlite:///{db}")
    with ledger.read() as conn:
        events = (
            conn.execute(select(AuditEvent.__table__).where(AuditEvent.name == "evaluate.run"))
            .mappings()
            .all()
        )
    ledger.dispose()
    assert len(events) == 1
    payload = events[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload == {"kind": "detect", "images": 5, "faces": 20, **document["counts"]}


def test_bad_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.csv", ["image", "x", "y"], [["a.jpg", 1, 2]])
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "evaluate", "detect", str(bad)])
    assert result.exit_code == 2
    assert "missing column(s) w, h" in result.output
