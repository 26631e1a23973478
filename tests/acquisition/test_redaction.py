"""Redacted release images (services/lifecycle/redaction.py) checked with the real detector: no face is
found in any redacted region, the faces left alone are still found, metadata is dropped, and a
licence that forbids derivatives is not redacted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from faceledger.core.faces import BBox
from faceledger.services.lifecycle.redaction import (
    faces_left,
    may_redact,
    redact_file,
    redact_pixels,
)
from faceledger.vision.detector import detect_image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "photos"
LIMITS = {"max_pixels": 120_000_000, "max_side": 1600}


def _iou(a: BBox, b: BBox) -> float:
    w = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    h = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = w * h
    return inter / (a.width * a.height + b.width * b.height - inter)


@pytest.mark.integration
@pytest.mark.parametrize(
    "name", ["2008_001322.jpg", "2007_007763.jpg", "19_Couple_Couple_19_110.jpg"]
)
def test_redacted_faces_are_not_found_by_the_detector_and_allowed_faces_still_are(
    detector: Any, tmp_path: Path, name: str
) -> None:
    source = EXAMPLES / name
    found = [f.box for f in detect_image(source, detector, **LIMITS).faces]
    assert len(found) >= 2, "the fixture needs at least two faces"
    blocked, allowed = found[::2], found[1::2]
    image = redact_file(source, blocked, tmp_path / "out.jpg", max_pixels=LIMITS["max_pixels"])
    after = [f.box for f in detect_image(Path(image.path), detector, **LIMITS).faces]
    assert faces_left(after, image.regions) == []
    for face in allowed:  # untouched: still detected where it was
        assert any(_iou(face, other) > 0.5 for other in after), face
    assert image.sha256 != image.source_sha256 and len(image.regions) == len(blocked)


def test_the_redacted_file_keeps_no_metadata_and_the_input_is_not_changed(tmp_path: Path) -> None:
    source = tmp_path / "in.jpg"
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    Image.new("RGB", (200, 100), (200, 150, 100)).save(source, "JPEG", exif=exif)
    before = source.read_bytes()
    out = redact_file(source, [BBox(10, 10, 60, 60)], tmp_path / "out.jpg", max_pixels=10**8)
    assert source.read_bytes() == before
    with Image.open(out.path) as im:
        assert not im.getexif() and im.size == (200, 100)


def test_pixels_outside_the_grown_boxes_are_untouched() -> None:
    import numpy as np

    rgb = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    out, regions = redact_pixels(rgb, [BBox(40, 40, 80, 80)], margin=0.25)
    assert regions == ((30, 30, 90, 90),)
    mask = np.ones(rgb.shape[:2], bool)
    mask[30:90, 30:90] = False
    assert (out[mask] == rgb[mask]).all() and not (out[~mask] == rgb[~mask]).all()
    assert out is not rgb


@pytest.mark.parametrize(
    ("name", "url", "allowed"),
    [("Attribution-NonCommercial-NoDerivs License", "http://creativecommons.org/licenses/by-nc-nd/2.0/", False),
     ("CC BY-ND 4.0", None, False), ("Attribution License", None, True), ("CC BY-SA 4.0", None, True),
     ("All Rights Reserved", None, False), ("something else", None, False), (None, None, False)],
)  # fmt: skip
def test_only_licences_that_permit_derivatives_may_be_redacted(
    name: str | None, url: str | None, allowed: bool
) -> None:
    check = may_redact(name, url)
    assert check.allowed is allowed and check.reason
