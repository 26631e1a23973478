"""The detector protocol and the one function both ``scan`` and ``detect`` call.

Example::

    detector = CenterFace(threshold=0.5)
    result = detect_image(Path("group.jpg"), detector, max_pixels=120_000_000, max_side=1600)
    result.faces[0].box   # in the original image's displayed pixels
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from faceledger.core.faces import (
    BBox,
    DetectorInfo,
    FaceDetection,
    five_landmarks,
    merge_detections,
)
from faceledger.core.quality import sharpness
from faceledger.vision.images import LoadedImage, load_image

# A second, coarse pass catches faces too large for the detector at working scale: CenterFace
# was trained on WIDER FACE, where few faces exceed ~500 px, and its boxes shrink on bigger
# ones. It runs only on big images where the first pass found a big face or none at all, so
# crowd photos pay nothing for it.
COARSE_SIDE = 640
_COARSE_TRIGGER = 1000
_BIG_FACE = 256
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class Detector(Protocol):
    """Anything that finds faces in an ``(h, w, 3)`` uint8 RGB array."""

    @property
    def info(self) -> DetectorInfo: ...

    def __call__(self, rgb: np.ndarray) -> list[FaceDetection]: ...


@dataclass(frozen=True)
class ImageDetections:
    """Faces found in one image, in its original displayed pixels, best score first."""

    width: int
    height: int
    format: str | None
    faces: list[FaceDetection]
    image: LoadedImage  # the decoded pixels, for a caller that goes on to embed the faces


def detect_image(
    path: Path | bytes, detector: Detector, *, max_pixels: int, max_side: int
) -> ImageDetections:
    """Decode ``path`` (a file, or image bytes held in memory) safely, detect faces, map boxes back to original pixels, add quality.

    Raises :class:`faceledger.errors.ImageError` for images that cannot be used.
    """
    image = load_image(path, max_pixels=max_pixels, max_side=max_side)
    sx = image.width / image.rgb.shape[1]
    sy = image.height / image.rgb.shape[0]
    faces = []
    for face in detect_multiscale(detector, image.rgb):
        b = face.box
        crop = image.rgb[int(b.y1) : int(np.ceil(b.y2)), int(b.x1) : int(np.ceil(b.x2))]
        gray = crop.astype(np.float32) @ _LUMA
        faces.append(
            FaceDetection(
                box=BBox(b.x1 * sx, b.y1 * sy, b.x2 * sx, b.y2 * sy).clipped(image.width, image.height),
                score=face.score,
                landmarks=five_landmarks([(x * sx, y * sy) for x, y in face.landmarks]),
                quality=round(sharpness(gray), 2),
            )
        )
    return ImageDetections(image.width, image.height, image.format, faces, image)


def detect_multiscale(detector: Detector, rgb: np.ndarray) -> list[FaceDetection]:
    """Detect at working scale and, for big images, at a coarse scale; merge by score."""
    faces = detector(rgb)
    longer = max(rgb.shape[:2])
    needs_coarse = not faces or any(face.box.height > _BIG_FACE for face in faces)
    if longer > _COARSE_TRIGGER and needs_coarse:
        factor = COARSE_SIDE / longer
        size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
        small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
        faces = faces + [face.scaled(1 / factor) for face in detector(small)]
    return merge_detections(faces)
