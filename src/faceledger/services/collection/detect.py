"""One-off detection for ``faceledger detect``: the same detector and thresholds as ``scan``,
no ledger. Output follows the stable contract in ARCHITECTURE.md.

Example::

    document = detect_files([Path("a.jpg")], settings)
    document["images"][0]["faces"][0]["box"]   # [x1, y1, x2, y2] in displayed pixels
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from faceledger.config import Settings
from faceledger.errors import ImageError
from faceledger.services.collection.scan import DetectorConfig
from faceledger.vision.centerface import CenterFace
from faceledger.vision.detector import detect_image


def detect_files(paths: Iterable[Path], settings: Settings) -> dict[str, Any]:
    """``{"images": [{"path", "width", "height", "faces": [...]}]}``; errors per image."""
    config = DetectorConfig.from_settings(settings.model_copy(update={"workers": 1}))
    detector = CenterFace(threshold=config.threshold, threads=config.threads)
    images: list[dict[str, Any]] = []
    for path in paths:
        try:
            result = detect_image(
                path, detector, max_pixels=config.max_pixels, max_side=config.max_side
            )
        except ImageError as exc:
            images.append({"path": str(path), "error": str(exc), "reason": exc.reason})
            continue
        images.append(
            {
                "path": str(path),
                "width": result.width,
                "height": result.height,
                "faces": [
                    {
                        "box": [round(v, 1) for v in face.box.as_list()],
                        "score": round(face.score, 4),
                        "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks],
                        "face_size": round(face.face_size, 1),
                        "quality": face.quality,
                    }
                    for face in result.faces
                ],
            }
        )
    info = detector.info
    return {"detector": {"name": info.name, "version": info.version, "threshold": info.threshold},
            "images": images}  # fmt: skip
