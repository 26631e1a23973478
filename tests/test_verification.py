"""Face verification on LFW pairs through the same code as `faceledger compare`.

60 LFW View-2 fold-1 pairs (30 same, 30 different), all through ``compare_files``.

Default embedder ``sface-2021dec`` (measured 2026-12-02, bench/verify.py agrees): accuracy
1.00 at its threshold 1.095 (L2 on unit vectors = cosine 0.40); same-person distances up to
0.986 (median 0.777), different-person from 1.193 (median 1.367): a gap of 0.207 around the
threshold. ``dlib-resnet-v1`` (2026-11-28 and 2026-12-01): accuracy 1.00 at 0.6; same-person up
to 0.561 (median 0.40), different-person from 0.738 (median 0.84).

The tests assert what was measured, so a drop fails: every pair right (a single error fails),
the threshold inside the gap, and the hardest pairs no closer to it than measured (rounded
outward by about 0.01).
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

import pytest

from faceledger.config import load_settings
from faceledger.services.biometrics.matching import compare_files

pytestmark = pytest.mark.integration


def _scores(
    root: Path, embedder: str
) -> tuple[float, float, list[float], list[float], dict[str, str]]:
    """Accuracy, threshold, same- and different-person distances of ``compare`` on all pairs."""
    settings = load_settings(embedder=embedder)
    same: list[float] = []
    different: list[float] = []
    correct = 0
    with (root / "pairs.csv").open() as handle:
        pairs = list(csv.DictReader(handle))
    assert len(pairs) == 60
    result: dict[str, Any] = {}
    for pair in pairs:
        result = compare_files(root / pair["image1"], root / pair["image2"], settings)
        expected = pair["same_identity"] == "1"
        (same if expected else different).append(result["distance"])
        correct += result["same_person"] == expected
    return correct / len(pairs), result["threshold"], same, different, result["embedder"]


def test_lfw_pairs_verification_with_the_default_sface(lfw_dir: Path) -> None:
    accuracy, threshold, same, different, embedder = _scores(lfw_dir, load_settings().embedder)
    assert embedder["name"] == "sface-2021dec"
    assert threshold == 1.095  # the embedder's own (match_threshold unset)
    assert accuracy == 1.0, f"accuracy {accuracy:.3f}"
    assert max(same) < threshold < min(different)
    assert max(same) <= 1.0 and min(different) >= 1.18  # measured 0.986 and 1.193
    assert statistics.median(same) < 0.80 and statistics.median(different) > 1.33  # 0.777, 1.367


def test_lfw_pairs_verification_with_dlib(lfw_dir: Path) -> None:
    accuracy, threshold, same, different, embedder = _scores(lfw_dir, "dlib-resnet-v1")
    assert embedder["name"] == "dlib-resnet-v1"
    assert threshold == 0.6
    assert accuracy == 1.0, f"accuracy {accuracy:.3f}"
    assert max(same) < threshold < min(different)
    assert statistics.median(same) < 0.45 and statistics.median(different) > 0.8
