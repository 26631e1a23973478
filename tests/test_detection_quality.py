"""Detection quality of the shipped detector, passes and default threshold on labelled photos.

Figures come from measurement (docs/detection.md, bench/detect_sweep.py): at the default
threshold (0.425, chosen by cross-validation over both sets for these passes), with the mirror
pass, the upscaled pass for small faces and its mirror, and weighted box fusion, WIDER FACE val
subset faces >= 20 px: 241 of 259 found (recall 0.931), 23 false positives (precision 0.913);
by height 49/56 (20-32 px), 96/100 (32-64), 41/45 (64-128), 55/58 (>= 128); dlib's PASCAL group
photos: 18/18 faces, 2 false positives. The assertions are those figures less one face (or one
false positive) of room for onnxruntime's numeric drift; a real drop fails.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from faceledger.config import load_settings
from faceledger.core.evaluation import TruthFace, count_detections, size_bucket
from faceledger.core.faces import BBox
from faceledger.vision.centerface import CenterFace
from faceledger.vision.detector import detect_image

pytestmark = pytest.mark.integration


def _truth(root: Path) -> dict[str, list[TruthFace]]:
    boxes: dict[str, list[TruthFace]] = {}
    with (root / "boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            box = BBox.from_xywh(*(float(row[k]) for k in ("x", "y", "w", "h")))
            boxes.setdefault(row["image"], []).append(
                TruthFace(box, row.get("invalid", "0") == "1")
            )
    return boxes


def _evaluate(root: Path) -> tuple[int, int, int, Counter[str], Counter[str]]:
    """(tp, fn, fp, found per size bucket, faces per size bucket), WIDER protocol
    (core/evaluation.count_detections: IoU >= 0.5, faces >= 20 px, ignored faces neither way)."""
    settings = load_settings()
    detector = CenterFace(threshold=settings.detector_threshold, threads=2)
    tp = fn = fp = 0
    found, total = Counter[str](), Counter[str]()
    for image, faces in _truth(root).items():
        result = detect_image(
            root / image, detector, max_pixels=settings.max_image_pixels,
            max_side=settings.detect_max_side,
        )  # fmt: skip
        counts = count_detections([face.box for face in result.faces], faces)
        tp, fn, fp = tp + counts.tp, fn + counts.fn, fp + counts.fp
        for j, hit in counts.truth_hits:
            bucket = size_bucket(faces[j].box.height)
            total[bucket] += 1
            found[bucket] += hit
    return tp, fn, fp, found, total


def test_wider_face_recall_and_precision(wider_dir: Path) -> None:
    tp, fn, fp, found, total = _evaluate(wider_dir)
    recall, precision = tp / (tp + fn), tp / (tp + fp)
    assert tp + fn == 259  # the subset's valid faces of at least 20 px
    assert tp >= 240, (
        f"recall {recall:.3f} ({tp} of {tp + fn}); by size {dict(found)} of {dict(total)}"
    )
    assert fp <= 24, f"precision {precision:.3f} ({fp} false positives)"
    assert found["20-32"] >= 48, f"small faces: {found['20-32']} of {total['20-32']}"
    assert found["32-64"] >= 95 and found["64-128"] >= 40 and found[">=128"] >= 54, (
        f"by size {dict(found)}"
    )


def test_dlib_group_photos_find_every_face(dlib_dir: Path) -> None:
    tp, fn, fp, _, _ = _evaluate(dlib_dir)
    assert (tp, fn) == (18, 0)
    assert fp <= 3
