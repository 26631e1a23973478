"""The detector protocols and the one function both ``scan`` and ``detect`` call.

Two levels, both small protocols:

- a :class:`FaceModel` is one pass of a model over one array (CenterFace's ``__call__``);
- a :class:`Detector` is what the services take: ``detect(rgb)`` gives the *final* faces of
  one working-scale image, and ``info`` names what produced them. The real one is
  :class:`MultiscaleDetector` over CenterFace (:func:`detector_for`); a test injects a fake
  one that returns fixed boxes, with no model and no passes.

The real pipeline detects every image at working scale and on its mirror image; images with
small faces (or none) get an upscaled pass, also mirrored, and big images with big faces (or
none) a coarse one; the passes are fused by weighted box fusion (docs/detection.md has the
measurements behind each choice, chosen by cross-validation in bench/detect_sweep.py).
:func:`pipeline_version` names the passes and the threshold in the detector's version, so every
detection records what produced it.

Example::

    detector = detector_for(settings)          # MultiscaleDetector(CenterFace(threshold=...))
    result = detect_image(Path("group.jpg"), detector, max_pixels=120_000_000, max_side=1600)
    result.faces[0].box   # in the original image's displayed pixels
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

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
#: The upscaled pass (see :func:`pass_plan`); measured in docs/detection.md.
UPSCALE = 2.0
UPSCALE_MAX_PIXELS = 2048 * 2048
_MIN_UPSCALE = 1.25
SMALL_FACE = 64
FUSION = "wbf"
#: Test-time flip: every pass at working scale or upscaled also runs on its mirror image.
MIRROR_PASS = True
_VERSION_WIDTH = 64  # the ledger's detector_version column
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class FaceModel(Protocol):
    """One pass of a face model over an ``(h, w, 3)`` uint8 RGB array (CenterFace)."""

    @property
    def info(self) -> DetectorInfo: ...

    def __call__(self, rgb: np.ndarray) -> list[FaceDetection]: ...


class Detector(Protocol):
    """What scan, detect and matching take: the final faces of one working-scale ``(h, w, 3)``
    uint8 RGB image (boxes and landmarks in its pixels), and what produced them (``info``:
    name, version, threshold, recorded with every face)."""

    @property
    def info(self) -> DetectorInfo: ...

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]: ...


@dataclass(frozen=True)
class MultiscaleDetector:
    """The real detector: ``model``'s passes (:func:`detect_multiscale`), fused."""

    model: FaceModel

    @property
    def info(self) -> DetectorInfo:
        return self.model.info

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        return detect_multiscale(self.model, rgb)


def as_detector(detector: Detector | FaceModel) -> Detector:
    """``detector`` itself, or a bare model (CenterFace) wrapped in its passes."""
    if callable(getattr(type(detector), "detect", None)):
        return cast(Detector, detector)
    return MultiscaleDetector(cast(FaceModel, detector))


def detector_for(settings: Any, *, threads: int = 2, shared: bool = True) -> Detector:
    """The real detector of ``settings``: CenterFace at ``detector_threshold``, every pass.
    ``shared``: one model per (threshold, threads) per process (it loads on first use)."""
    from faceledger.vision.centerface import CenterFace

    threshold = float(settings.detector_threshold)
    model = (
        CenterFace.shared(threshold=threshold, threads=threads)
        if shared
        else CenterFace(threshold=threshold, threads=threads)
    )
    return MultiscaleDetector(model)


@dataclass(frozen=True)
class ImageDetections:
    """Faces found in one image, in its original displayed pixels, best score first."""

    width: int
    height: int
    format: str | None
    faces: list[FaceDetection]
    image: LoadedImage  # the decoded pixels, for a caller that goes on to embed the faces


def detect_image(
    path: Path | bytes, detector: Detector | FaceModel, *, max_pixels: int, max_side: int
) -> ImageDetections:
    """Decode ``path`` (a file, or image bytes held in memory) safely, detect faces, map boxes back to original pixels, add quality.

    ``detector`` is a :class:`Detector`, or a bare :class:`FaceModel` (run with every pass).
    Raises :class:`faceledger.errors.ImageError` for images that cannot be used.
    """
    finder = as_detector(detector)
    image = load_image(path, max_pixels=max_pixels, max_side=max_side)
    faces = []
    for face in finder.detect(image.rgb):
        b = face.box
        crop = image.rgb[int(b.y1) : int(np.ceil(b.y2)), int(b.x1) : int(np.ceil(b.x2))]
        gray = crop.astype(np.float32) @ _LUMA
        faces.append(
            FaceDetection(
                box=image.to_original(b),
                score=face.score,
                landmarks=five_landmarks(image.points_to_original(face.landmarks).tolist()),
                quality=round(sharpness(gray), 2),
            )
        )
    return ImageDetections(image.width, image.height, image.format, faces, image)


def fuse_detections(
    detections: Sequence[FaceDetection],
    *,
    method: str = "wbf",
    passes: int = 1,
    iou_threshold: float = 0.55,
) -> list[FaceDetection]:
    """Merge the detections of several passes into one list, best score first.

    ``nms``: of overlapping faces keep the best scored. ``wbf`` (weighted box fusion, Solovyev
    et al. 2021): faces overlapping at ``iou_threshold`` form a cluster whose box and landmarks
    are the score-weighted mean of its members and whose score is the best member's, so a face
    found by one pass only (a small face seen only upscaled) keeps its score. ``wbf-avg`` scales
    the score by the share of ``passes`` that found it, as the paper does. Both end with NMS at
    0.3, the detector's own, so fused boxes never duplicate.
    """
    if method == "nms":
        return merge_detections(detections)
    clusters: list[list[FaceDetection]] = []
    fused: list[BBox] = []
    for face in sorted(detections, key=lambda f: -f.score):
        best, best_iou = -1, iou_threshold
        for index, box in enumerate(fused):
            iou = face.box.iou(box)
            if iou >= best_iou:
                best, best_iou = index, iou
        if best < 0:
            clusters.append([face])
            fused.append(face.box)
        else:
            clusters[best].append(face)
            fused[best] = _weighted(clusters[best]).box
    out = []
    for members in clusters:
        face = _weighted(members)
        if method == "wbf-avg":
            share = min(len(members), passes) / max(1, passes)
            face = FaceDetection(
                face.box, sum(m.score for m in members) / len(members) * share, face.landmarks
            )
        out.append(face)
    return merge_detections(out)


def _weighted(members: Sequence[FaceDetection]) -> FaceDetection:
    weights = np.array([m.score for m in members], dtype=np.float64)
    weights /= weights.sum()
    box = np.array([m.box.as_list() for m in members]).T @ weights
    points = np.einsum(
        "k,kpc->pc", weights, np.array([m.landmarks for m in members], dtype=np.float64)
    )
    return FaceDetection(
        BBox(*(float(v) for v in box)), max(m.score for m in members), five_landmarks(points)
    )


def pass_plan(rgb_shape: tuple[int, ...], first: Sequence[FaceDetection]) -> list[float]:
    """The extra passes (resize factors of the working image) that ``first`` calls for.

    - coarse (``COARSE_SIDE`` px longer side): images over ``_COARSE_TRIGGER`` px whose first
      pass found no face or one over ``_BIG_FACE`` px (CenterFace's boxes shrink on big faces);
    - upscaled (``UPSCALE``, at most ``UPSCALE_MAX_PIXELS``): when the first pass found no face
      or one under ``SMALL_FACE`` px high, where faces of 20-40 px hide (multi-scale testing,
      as CenterFace's own evaluation does). Portraits and close-ups pay nothing for it.
    """
    h, w = rgb_shape[:2]
    longer = max(h, w)
    heights = [face.box.height for face in first]
    factors = []
    if longer > _COARSE_TRIGGER and (not heights or max(heights) > _BIG_FACE):
        factors.append(COARSE_SIDE / longer)
    up = min(UPSCALE, (UPSCALE_MAX_PIXELS / max(1, h * w)) ** 0.5)
    if up >= _MIN_UPSCALE and (not heights or min(heights) < SMALL_FACE):
        factors.append(up)
    return factors


def resized(rgb: np.ndarray, factor: float) -> np.ndarray:
    """``rgb`` resized by ``factor`` (bicubic up, bilinear down)."""
    size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
    method = Image.Resampling.BICUBIC if factor > 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(rgb).resize(size, method))


def _mirrored(detector: FaceModel, rgb: np.ndarray) -> list[FaceDetection]:
    """Detect on the mirror image; boxes and landmarks mapped back (left and right swapped)."""
    width = rgb.shape[1]
    out = []
    for face in detector(np.ascontiguousarray(rgb[:, ::-1])):
        b = face.box
        p = [(width - x, y) for x, y in face.landmarks]
        out.append(FaceDetection(BBox(width - b.x2, b.y1, width - b.x1, b.y2), face.score,
                                 five_landmarks([p[1], p[0], p[2], p[4], p[3]])))  # fmt: skip
    return out


def passes_tag() -> str:
    """The passes of :func:`detect_multiscale` in a few characters, e.g.
    ``x1m+x2m<64+c640/wbf``: working scale, upscaled 2x where a face is under 64 px (or none),
    coarse at 640 px; ``m``: also mirrored; then the fusion."""
    m = "m" if MIRROR_PASS else ""
    return f"x1{m}+x{UPSCALE:g}{m}<{SMALL_FACE}+c{COARSE_SIDE}/{FUSION}"


def pipeline_version(model_version: str, threshold: float) -> str:
    """The detector version a detection records: the model's, its passes and its threshold,
    e.g. ``centerface+09189deaaf86/x1m+x2m<64+c640/wbf@0.425`` (at most 64 characters)."""
    version = f"{model_version}/{passes_tag()}@{threshold:g}"
    if len(version) > _VERSION_WIDTH:
        raise ValueError(f"detector version {version!r} is longer than {_VERSION_WIDTH} characters")
    return version


def detect_multiscale(detector: FaceModel, rgb: np.ndarray) -> list[FaceDetection]:
    """Detect at working scale and on its mirror image, add the passes :func:`pass_plan` calls
    for (the upscaled one mirrored too), and fuse them all (WBF). Measured in docs/detection.md."""
    first = detector(rgb)
    faces = list(first)
    passes = 1
    if MIRROR_PASS:
        faces += _mirrored(detector, rgb)
        passes += 1
    for factor in pass_plan(rgb.shape, first):
        image = resized(rgb, factor)
        faces += [face.scaled(1 / factor) for face in detector(image)]
        passes += 1
        if MIRROR_PASS and factor > 1:
            faces += [face.scaled(1 / factor) for face in _mirrored(detector, image)]
            passes += 1
    if passes == 1:
        return merge_detections(faces)
    return fuse_detections(faces, method=FUSION, passes=passes)
