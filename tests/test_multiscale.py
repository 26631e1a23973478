"""Multi-scale detection without the model: which passes run, and how they are fused."""

from __future__ import annotations

import numpy as np
import pytest

from faceledger.core.faces import BBox, DetectorInfo, FaceDetection
from faceledger.vision import detector as detector_module
from faceledger.vision.detector import (
    detect_multiscale,
    fuse_detections,
    pass_plan,
    pipeline_version,
)


def _face(x1: float, y1: float, x2: float, y2: float, score: float = 0.9) -> FaceDetection:
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return FaceDetection(
        BBox(x1, y1, x2, y2),
        score,
        ((cx - 5, cy), (cx + 5, cy), (cx, cy + 3), (cx - 4, cy + 6), (cx + 4, cy + 6)),
    )


class _Fake:
    """Returns ``faces`` (in the pixels of the image it is given) and records each call's shape."""

    info = DetectorInfo("fake", "0", 0.4)

    def __init__(self, by_width: dict[int, list[FaceDetection]]) -> None:
        self.by_width = by_width
        self.shapes: list[tuple[int, int]] = []

    def __call__(self, rgb: np.ndarray) -> list[FaceDetection]:
        self.shapes.append(rgb.shape[:2])
        return self.by_width.get(rgb.shape[1], [])


def test_a_portrait_needs_no_upscaled_pass() -> None:
    assert pass_plan((480, 640, 3), [_face(100, 100, 300, 340)]) == []


def test_small_faces_or_none_call_for_an_upscaled_pass() -> None:
    assert pass_plan((480, 640, 3), [_face(10, 10, 40, 40), _face(100, 100, 300, 340)]) == [2.0]
    assert pass_plan((480, 640, 3), []) == [2.0]
    (factor,) = pass_plan((1600, 1200, 3), [_face(0, 0, 20, 20)])
    assert factor * factor * 1600 * 1200 <= 2048 * 2048 + 1  # the upscaled pass is capped


def test_a_face_found_only_upscaled_keeps_its_score_and_maps_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(detector_module, "MIRROR_PASS", False)
    small = _face(20, 20, 50, 50, 0.8)
    detector = _Fake(
        {640: [small], 1280: [_face(40, 40, 100, 100, 0.85), _face(600, 200, 640, 240, 0.7)]}
    )
    faces = detect_multiscale(detector, np.zeros((480, 640, 3), dtype=np.uint8))
    assert detector.shapes == [(480, 640), (960, 1280)]
    assert len(faces) == 2
    fused = max(faces, key=lambda f: f.score)
    assert fused.score == 0.85 and abs(fused.box.x1 - 20) < 0.01 and abs(fused.box.x2 - 50) < 0.01
    only_upscaled = min(faces, key=lambda f: f.score)
    assert only_upscaled.score == 0.7 and only_upscaled.box.as_list() == [300, 100, 320, 120]


def test_fusion_averages_boxes_by_score_and_never_duplicates() -> None:
    a, b = _face(0, 0, 100, 100, 0.9), _face(10, 10, 110, 110, 0.3)
    (fused,) = fuse_detections([a, b], method="wbf", passes=2)
    assert fused.score == 0.9 and abs(fused.box.x1 - 2.5) < 1e-9
    (avg,) = fuse_detections([a, b], method="wbf-avg", passes=2)
    assert abs(avg.score - 0.6) < 1e-9
    assert fuse_detections([a, b], method="nms") == [a]
    assert len(fuse_detections([a, _face(60, 0, 160, 100, 0.5)], method="wbf", passes=2)) == 2


def test_the_mirror_pass_maps_faces_back_with_left_and_right_swapped() -> None:
    seen = _face(500, 100, 600, 220, 0.8)  # what the fake "finds" in whatever it is shown
    detector = _Fake({640: [seen]})
    faces = detect_multiscale(detector, np.zeros((480, 640, 3), dtype=np.uint8))
    assert detector.shapes == [(480, 640), (480, 640)]  # working scale and mirror; no small face
    mirrored = next(f for f in faces if f.box.x1 < 320)
    assert mirrored.box.as_list() == [40, 100, 140, 220]
    (rx, _), (lx, _) = mirrored.landmarks[:2]
    assert rx < lx  # still image-left first after mapping back


class _Sequence:
    """Returns the n-th list of ``answers`` on its n-th call and records each call's shape."""

    info = DetectorInfo("fake", "0", 0.4)

    def __init__(self, answers: list[list[FaceDetection]]) -> None:
        self.answers = answers
        self.shapes: list[tuple[int, int]] = []

    def __call__(self, rgb: np.ndarray) -> list[FaceDetection]:
        self.shapes.append(rgb.shape[:2])
        return self.answers[len(self.shapes) - 1]


def test_the_upscaled_pass_is_mirrored_too_and_maps_back() -> None:
    small = _face(20, 20, 50, 50, 0.8)  # under SMALL_FACE: calls for the upscaled pass
    seen_mirrored = _face(1000, 200, 1060, 260, 0.7)  # only in the upscaled mirror image
    detector = _Sequence([[small], [], [], [seen_mirrored]])
    faces = detect_multiscale(detector, np.zeros((480, 640, 3), dtype=np.uint8))
    # working scale, its mirror, upscaled 2x, then the upscaled image's mirror
    assert detector.shapes == [(480, 640), (480, 640), (960, 1280), (960, 1280)]
    assert [f.score for f in faces] == [0.8, 0.7]
    mapped = faces[1]
    assert mapped.box.as_list() == [110, 100, 140, 130]  # (1280 - 1060) / 2 .. (1280 - 1000) / 2
    (rx, _), (lx, _) = mapped.landmarks[:2]
    assert rx < lx  # left and right swapped back


def test_the_version_names_the_passes_and_the_threshold() -> None:
    version = pipeline_version("centerface+09189deaaf86", 0.425)
    assert version == "centerface+09189deaaf86/x1m+x2m<64+c640/wbf@0.425"
    assert len(version) <= 64  # the ledger's detector_version column
    assert pipeline_version("centerface+09189deaaf86", 0.4) != version


def test_a_version_too_long_for_the_ledger_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than 64"):
        pipeline_version("x" * 60, 0.425)


def test_the_loaded_image_maps_boxes_and_points_both_ways_per_axis() -> None:
    from faceledger.vision.images import LoadedImage

    image = LoadedImage(
        np.zeros((800, 1600, 3), dtype=np.uint8), width=4000, height=2001, format="JPEG", mode="RGB"
    )
    box = BBox(100, 100, 200, 300)
    original = image.to_original(box)
    assert original.as_list() == pytest.approx([250, 100 * 2001 / 800, 500, 300 * 2001 / 800])
    assert image.to_working(original).as_list() == pytest.approx(box.as_list())
    assert image.to_original(BBox(1500, 700, 1700, 900)).as_list() == pytest.approx(
        [3750, 1750.875, 4000, 2001]
    )
    points = [[100.0, 100.0], [200.0, 300.0]]
    assert image.points_to_working(image.points_to_original(points)) == pytest.approx(
        np.array(points)
    )


def test_a_detector_is_run_as_it_is_and_a_bare_model_with_every_pass(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from faceledger.vision.detector import MultiscaleDetector, as_detector, detect_image

    Image.new("RGB", (640, 480), "gray").save(tmp_path / "a.png")
    model = _Fake({640: [_face(500, 100, 600, 220, 0.8)]})
    assert isinstance(as_detector(model), MultiscaleDetector)
    found = detect_image(tmp_path / "a.png", model, max_pixels=10**7, max_side=1600)
    assert len(model.shapes) == 2 and len(found.faces) == 2  # working scale and its mirror

    class _Final:
        info = DetectorInfo("fake", "0", 0.4)

        def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
            return [_face(500, 100, 600, 220, 0.8)]

    final = _Final()
    assert as_detector(final) is final
    (face,) = detect_image(tmp_path / "a.png", final, max_pixels=10**7, max_side=1600).faces
    assert face.box.as_list() == [500, 100, 600, 220]
