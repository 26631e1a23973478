from __future__ import annotations

import numpy as np
import pytest

from faceledger.core.faces import BBox, FaceDetection, five_landmarks, match_detections
from faceledger.core.quality import sharpness


def test_bbox_from_xywh_and_measures() -> None:
    box = BBox.from_xywh(10, 20, 30, 40)
    assert box.as_list() == [10, 20, 40, 60]
    assert (box.width, box.height, box.area) == (30, 40, 1200)


def test_degenerate_box_is_refused() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        BBox(10, 10, 5, 20)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (BBox(0, 0, 10, 10), BBox(0, 0, 10, 10), 1.0),
        (BBox(0, 0, 10, 10), BBox(5, 0, 15, 10), 50 / 150),
        (BBox(0, 0, 10, 10), BBox(20, 20, 30, 30), 0.0),
        (BBox(0, 0, 0, 0), BBox(0, 0, 0, 0), 0.0),
    ],
)
def test_iou(a: BBox, b: BBox, expected: float) -> None:
    assert a.iou(b) == pytest.approx(expected)
    assert b.iou(a) == pytest.approx(expected)


def test_clipped_keeps_box_inside_image() -> None:
    assert BBox(-5, -5, 120, 50).clipped(100, 40).as_list() == [0, 0, 100, 40]


def test_matching_is_one_to_one_and_best_first() -> None:
    truth = [BBox(0, 0, 10, 10), BBox(100, 100, 110, 110)]
    predicted = [BBox(1, 1, 11, 11), BBox(0, 0, 10, 10), BBox(50, 50, 60, 60)]
    assert match_detections(predicted, truth) == [(1, 0)]


def test_face_scaling_scales_box_and_landmarks() -> None:
    face = FaceDetection(BBox(10, 10, 20, 30), 0.9, five_landmarks([(12, 14)] * 5))
    scaled = face.scaled(2.0)
    assert scaled.box.as_list() == [20, 20, 40, 60]
    assert scaled.landmarks[0] == (24, 28)
    assert scaled.face_size == 40


def test_five_landmarks_needs_five_points() -> None:
    with pytest.raises(ValueError, match="5 landmarks"):
        five_landmarks([(1, 2)] * 4)


def test_sharpness_ranks_sharp_above_blurred() -> None:
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, size=(64, 64)).astype(np.float32)
    blurred = (sharp[:-1, :-1] + sharp[1:, :-1] + sharp[:-1, 1:] + sharp[1:, 1:]) / 4
    flat = np.full((64, 64), 128.0)
    assert sharpness(sharp) > sharpness(blurred) > sharpness(flat) == 0.0
    assert sharpness(np.zeros((2, 2))) == 0.0
