"""Face detection values: one box type, one detection type.

Example::

    box = BBox(x1=10, y1=20, x2=110, y2=140)
    face = FaceDetection(box=box, score=0.93, landmarks=((40, 60),) * 5)
    face.scaled(0.5).box.height  # 60.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class BBox:
    """An axis-aligned box in pixel coordinates of the image *as displayed*.

    Convention: ``(x1, y1)`` is the top-left corner, ``(x2, y2)`` the bottom-right corner,
    both as floats, ``x2 >= x1`` and ``y2 >= y1``. Other conventions (``x, y, w, h``;
    ``top, right, bottom, left``) are converted only in adapters.
    """

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(f"degenerate box {self.as_list()}")

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> BBox:
        """Build from top-left corner plus width and height (WIDER FACE, dlib XML)."""
        return cls(x, y, x + w, y + h)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    def scaled(self, factor: float) -> BBox:
        return BBox(self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor)

    def clipped(self, width: float, height: float) -> BBox:
        """The part of the box inside an image of ``width`` x ``height``."""
        x1 = min(max(self.x1, 0.0), width)
        y1 = min(max(self.y1, 0.0), height)
        return BBox(x1, y1, max(x1, min(self.x2, width)), max(y1, min(self.y2, height)))

    def iou(self, other: BBox) -> float:
        """Intersection over union; 0.0 for disjoint or empty boxes."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class FaceDetection:
    """One detected face: box, confidence and 5 landmarks.

    Landmarks are, in order: right eye, left eye (from the viewer: the subject's right eye is
    on the left of the image), nose tip, right mouth corner, left mouth corner. ``quality`` is
    a sharpness measure (variance of the Laplacian over the face crop, grayscale 0-255), or
    ``None`` when it was not computed. A detection is *not* a biometric template: it locates a
    face, it does not measure it.
    """

    box: BBox
    score: float
    landmarks: tuple[Point, Point, Point, Point, Point]
    quality: float | None = None

    @property
    def face_size(self) -> float:
        """The face's height in pixels (the WIDER FACE convention for "face size")."""
        return self.box.height

    def scaled(self, factor: float) -> FaceDetection:
        lm = tuple((x * factor, y * factor) for x, y in self.landmarks)
        return FaceDetection(self.box.scaled(factor), self.score, _five(lm), self.quality)

    def with_quality(self, quality: float) -> FaceDetection:
        return FaceDetection(self.box, self.score, self.landmarks, quality)


def _five(points: Sequence[Point]) -> tuple[Point, Point, Point, Point, Point]:
    if len(points) != 5:
        raise ValueError(f"expected 5 landmarks, got {len(points)}")
    return (points[0], points[1], points[2], points[3], points[4])


def five_landmarks(points: Sequence[Sequence[float]]) -> tuple[Point, Point, Point, Point, Point]:
    """Normalise any sequence of five (x, y) pairs into the landmark tuple."""
    return _five([(float(p[0]), float(p[1])) for p in points])


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    """Which detector produced a detection, for the ledger and for reproducibility."""

    name: str
    version: str
    threshold: float


def match_detections(
    predicted: Sequence[BBox], truth: Sequence[BBox], *, iou_threshold: float = 0.5
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by IoU, highest first; returns (pred, truth) index pairs."""
    pairs = sorted(
        ((p.iou(t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)),
        reverse=True,
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    matches: list[tuple[int, int]] = []
    for iou, i, j in pairs:
        if iou < iou_threshold:
            break
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        matches.append((i, j))
    return matches


def merge_detections(
    detections: Sequence[FaceDetection], *, iou_threshold: float = 0.3
) -> list[FaceDetection]:
    """Non-maximum suppression across passes: of overlapping faces keep the best scored."""
    kept: list[FaceDetection] = []
    for face in sorted(detections, key=lambda f: -f.score):
        if all(face.box.iou(other.box) < iou_threshold for other in kept):
            kept.append(face)
    return kept


@dataclass(frozen=True)
class Similarity:
    """``p -> scale * R(angle) @ p + offset`` as a 2x2 ``matrix`` and an ``offset``."""

    matrix: np.ndarray
    offset: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(points, dtype=np.float64) @ self.matrix.T + self.offset)

    def inverse(self) -> Similarity:
        inv = np.linalg.inv(self.matrix)
        return Similarity(inv, -inv @ self.offset)


def fit_similarity(source: np.ndarray, target: np.ndarray) -> Similarity:
    """The least-squares similarity taking ``source`` points onto ``target`` (Umeyama 1991)."""
    src, dst = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    u, sigma, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ d @ vt
    variance = a.var(axis=0).sum()
    if variance <= 0:
        raise ValueError("landmarks are degenerate (all at one point)")
    scale = float(np.trace(np.diag(sigma) @ d) / variance)
    matrix = scale * rotation
    return Similarity(matrix, mu_d - matrix @ mu_s)
