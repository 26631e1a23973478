"""Face verification on LFW pairs through the same code as `faceledger compare`.

Measured here (2026-11-28, again 2026-12-01 with bench/verify.py): 60 LFW View-2 fold-1 pairs,
accuracy 1.00 at the 0.6 threshold; same-person distances up to 0.561 (median 0.40),
different-person from 0.738 (median 0.84). The test asserts what was measured: every pair
right (a single error fails) and the threshold inside the gap.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from faceledger.config import load_settings
from faceledger.services.matching import compare_files

pytestmark = pytest.mark.integration


def test_lfw_pairs_verification_accuracy(lfw_dir: Path) -> None:
    root = lfw_dir
    settings = load_settings()
    same: list[float] = []
    different: list[float] = []
    correct = 0
    with (root / "pairs.csv").open() as handle:
        pairs = list(csv.DictReader(handle))
    for pair in pairs:
        result = compare_files(root / pair["image1"], root / pair["image2"], settings)
        expected = pair["same_identity"] == "1"
        (same if expected else different).append(result["distance"])
        correct += result["same_person"] == expected
    accuracy = correct / len(pairs)
    assert len(pairs) == 60
    assert accuracy == 1.0, f"accuracy {accuracy:.3f}"
    assert max(same) < settings.match_threshold < min(different)
    assert statistics.median(same) < 0.45 and statistics.median(different) > 0.8
