"""Detection quality of the shipped detector and default threshold on labelled photos.

Thresholds come from measurement (docs/detection.md): at the default threshold 0.4,
WIDER FACE val subset faces >= 20 px high: recall 0.90, precision 0.96; dlib's PASCAL group
photos: 18/18 faces. The assertions leave a small margin below those figures.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from faceledger.config import load_settings
from faceledger.core.faces import BBox, match_detections
from faceledger.vision.centerface import CenterFace
from faceledger.vision.detector import detect_image

pytestmark = pytest.mark.integration
MIN_HEIGHT = 20


def _truth(root: Path) -> dict[str, list[tuple[BBox, bool]]]:
    boxes: dict[str, list[tuple[BBox, bool]]] = defaultdict(list)
    with (root / "boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            box = BBox.from_xywh(*(float(row[k]) for k in ("x", "y", "w", "h")))
            boxes[row["image"]].append((box, row.get("invalid", "0") == "1"))
    return boxes


def _evaluate(root: Path) -> tuple[int, int, int]:
    """(true positives, false negatives, false positives) at IoU >= 0.5 on faces >= 20 px.

    Detections matching an ignored face (invalid or smaller than 20 px) count neither way,
    as in the WIDER FACE protocol.
    """
    settings = load_settings()
    detector = CenterFace(threshold=settings.detector_threshold, threads=2)
    tp = fn = fp = 0
    for image, faces in _truth(root).items():
        found = detect_image(
            root / image, detector, max_pixels=settings.max_image_pixels,
            max_side=settings.detect_max_side,
        ).faces  # fmt: skip
        predicted = [face.box for face in found]
        valid = [b for b, invalid in faces if not invalid and b.height >= MIN_HEIGHT]
        ignored = [b for b, invalid in faces if invalid or b.height < MIN_HEIGHT]
        matches = match_detections(predicted, valid, iou_threshold=0.5)
        matched = {i for i, _ in matches}
        tp += len(matches)
        fn += len(valid) - len(matches)
        for i, box in enumerate(predicted):
            if i in matched or box.height < MIN_HEIGHT * 0.7:
                continue
            if any(box.iou(other) >= 0.3 for other in ignored):
                continue
            fp += 1
    return tp, fn, fp


def test_wider_face_recall_and_precision(wider_dir: Path) -> None:
    tp, fn, fp = _evaluate(wider_dir)
    recall, precision = tp / (tp + fn), tp / (tp + fp)
    assert tp + fn > 250  # the subset's valid faces of at least 20 px
    assert recall >= 0.88, f"recall {recall:.3f} ({tp} of {tp + fn})"
    assert precision >= 0.93, f"precision {precision:.3f} ({fp} false positives)"


def test_dlib_group_photos_find_every_face(dlib_dir: Path) -> None:
    tp, fn, fp = _evaluate(dlib_dir)
    assert (tp, fn) == (18, 0)
    assert fp <= 2
