"""Landmark schemes, input checks and the plane geometry every DiF measure shares.

Example::

    pts = as_landmarks68(shape)          # (68, 2) float64 copy, validated
    frame = face_frame(pts)              # eye-line frame: origin, u (to subject's left), v (down)
    frame.iod                            # pixels between the two eye centres
    polygon_area(pts[list(EYE_RIGHT)])   # shoelace area in pixels squared

Coordinates are image pixels, ``x`` to the right and ``y`` down, with the centre of the pixel in
row ``r``, column ``c`` at ``(x, y) = (c, r)`` (dlib's convention). "Right" and "left" name the
*subject's* sides, as anthropometry does: the subject's right eye is on the image's left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

#: dlib / iBUG 300-W 68-point groups. Subject's right = image left.
JAW = tuple(range(0, 17))
BROW_RIGHT = tuple(range(17, 22))
BROW_LEFT = tuple(range(22, 27))
NOSE_BRIDGE = tuple(range(27, 31))
NOSE_LOWER = tuple(range(31, 36))
EYE_RIGHT = tuple(range(36, 42))
EYE_LEFT = tuple(range(42, 48))
LIPS_OUTER = tuple(range(48, 60))
LIPS_INNER = tuple(range(60, 68))

#: ``MIRROR_68[i]`` is the counterpart of point ``i`` in the mirror image (the 300-W flip).
MIRROR_68: tuple[int, ...] = (
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,  # jaw
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,  # brows
    27, 28, 29, 30,  # nose bridge (on the midline)
    35, 34, 33, 32, 31,  # lower nose
    45, 44, 43, 42, 47, 46,  # right eye -> left eye
    39, 38, 37, 36, 41, 40,  # left eye -> right eye
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,  # outer lips
    64, 63, 62, 61, 60, 67, 66, 65,  # inner lips
)  # fmt: skip

#: Points on the facial midline: nose bridge, subnasale, lip midpoints, chin.
MIDLINE_68 = (27, 28, 29, 30, 33, 51, 62, 66, 57, 8)

#: dlib's ``shape_predictor_5_face_landmarks`` order, checked against dlib's own template in
#: ``get_face_chip_details``: points 0-1 are the eye on the *image's right* (the subject's left),
#: outer corner then inner corner; 2-3 the other eye, outer then inner; 4 the base of the nose.
FIVE_POINT_ORDER: tuple[str, ...] = (
    "exocanthion_left",
    "endocanthion_left",
    "exocanthion_right",
    "endocanthion_right",
    "subnasale",
)
#: The 68-point index each of the five points corresponds to (same order as above).
FIVE_FROM_68: tuple[int, ...] = (45, 42, 36, 39, 33)

#: Farkas landmark -> the 68-point indices whose mean approximates it (see docs/dif.md).
FARKAS_68: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "n": (27,),  # nasion: top of the nose bridge, between the eyes (dlib 27 sits a bit low)
        "gn": (8,),  # gnathion: lowest chin point
        "zy_r": (0,),  # zygion: the outermost contour points, at about eye level (choice)
        "zy_l": (16,),
        "go_r": (4,),  # gonion: jaw angle; dlib's contour turns at about 3-5 (choice: 4)
        "go_l": (12,),
        "sn": (33,),  # subnasale
        "prn": (30,),  # pronasale (nose tip)
        "al_r": (31,),  # alare: outermost nostril-base points (the true ala is a little wider)
        "al_l": (35,),
        "ch_r": (48,),  # cheilion: mouth corners
        "ch_l": (54,),
        "ls": (51,),  # labiale superius
        "li": (57,),  # labiale inferius
        "sto": (62, 66),  # stomion: between the inner-lip midpoints
        "en_r": (39,),  # endocanthion: inner eye corners
        "en_l": (42,),
        "ex_r": (36,),  # exocanthion: outer eye corners
        "ex_l": (45,),
        "ps_r": (37, 38),  # palpebrale superius: upper-lid midpoint
        "pi_r": (40, 41),  # palpebrale inferius: lower-lid midpoint
        "ps_l": (43, 44),
        "pi_l": (46, 47),
        "eye_r": (36, 39),  # eye centre (not Farkas): midpoint of the corners, a pupil proxy
        "eye_l": (42, 45),
    }
)

#: Below this many pixels the eye centres are taken to coincide.
MIN_IOD_PX = 1e-6


def as_points(points: npt.ArrayLike, count: int, name: str) -> F64:
    """A validated float64 *copy* of ``(count, 2)`` points; ValueError names the problem."""
    try:
        arr = np.array(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric (x, y) pairs: {exc}") from exc
    if arr.shape != (count, 2):
        raise ValueError(f"{name} must have shape ({count}, 2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    return arr


def as_landmarks68(points: npt.ArrayLike) -> F64:
    return as_points(points, 68, "landmarks68")


def as_landmarks5(points: npt.ArrayLike) -> F64:
    return as_points(points, 5, "landmarks5")


def as_rgb(rgb: object) -> npt.NDArray[np.uint8]:
    """Check an ``(h, w, 3)`` uint8 image; returned as is (never modified)."""
    if not isinstance(rgb, np.ndarray):
        raise ValueError(f"rgb must be a numpy array, got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"rgb must have shape (h, w, 3), got {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8, got {rgb.dtype}")
    return rgb.view(np.uint8)


def farkas(points: F64, name: str) -> F64:
    """The 68-point approximation of one Farkas landmark."""
    return np.asarray(points[list(FARKAS_68[name])].mean(axis=0), dtype=np.float64)


def distance(a: F64, b: F64) -> float:
    return float(np.hypot(*(a - b)))


def polygon_area(polygon: F64) -> float:
    """Shoelace area of a simple polygon given as ``(n, 2)`` vertices in order."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def scale_polygon(polygon: F64, factor: float) -> F64:
    """The polygon scaled by ``factor`` about the mean of its vertices."""
    centre = polygon.mean(axis=0)
    return np.asarray(centre + factor * (polygon - centre), dtype=np.float64)


def ratio(numerator: float, denominator: float, name: str) -> float:
    """``numerator / denominator``; a zero denominator is degenerate input, not a warning."""
    if denominator == 0.0:
        raise ValueError(f"degenerate landmarks: the denominator of {name} is zero")
    return numerator / denominator


@dataclass(frozen=True, slots=True, eq=False)
class FaceFrame:
    """The eye-line frame: origin midway between the eye centres, ``u`` unit vector from the
    subject's right eye centre to the left one, ``v`` = ``u`` turned 90° towards the chin."""

    origin: F64
    u: F64
    v: F64
    iod: float

    def to_face(self, points: F64) -> F64:
        """Image ``(..., 2)`` points to face-frame ``(u, v)`` coordinates."""
        d = points - self.origin
        return np.stack([d @ self.u, d @ self.v], axis=-1)

    def to_image(self, uv: F64) -> F64:
        """Face-frame ``(..., 2)`` coordinates back to image points."""
        return np.asarray(
            self.origin + uv[..., 0:1] * self.u + uv[..., 1:2] * self.v, dtype=np.float64
        )


def frame_from_eyes(eye_right: F64, eye_left: F64) -> FaceFrame:
    """Build the eye-line frame from the two eye centres (subject's right, subject's left)."""
    d = eye_left - eye_right
    iod = float(np.hypot(*d))
    if not iod > MIN_IOD_PX:
        raise ValueError(
            f"inter-ocular distance is zero ({iod:g} px): the two eye centres coincide"
        )
    u = d / iod
    v = np.array([-u[1], u[0]], dtype=np.float64)
    return FaceFrame(origin=(eye_right + eye_left) / 2.0, u=u, v=v, iod=iod)


def face_frame(points68: F64) -> FaceFrame:
    """The eye-line frame of a 68-point face; eye centres are corner midpoints (36/39, 42/45)."""
    return frame_from_eyes(farkas(points68, "eye_r"), farkas(points68, "eye_l"))


def face_frame_5(points5: F64) -> FaceFrame:
    """The eye-line frame of a dlib 5-point face (same eye centres as :func:`face_frame`)."""
    return frame_from_eyes((points5[2] + points5[3]) / 2.0, (points5[0] + points5[1]) / 2.0)


def points_in_polygon(x: F64, y: F64, polygon: F64) -> Mask:
    """Even-odd test of points ``(x, y)`` (broadcast arrays) against a polygon's interior."""
    inside = np.zeros(np.broadcast_shapes(x.shape, y.shape), dtype=np.bool_)
    for i in range(len(polygon)):
        xa, ya = float(polygon[i, 0]), float(polygon[i, 1])
        xb, yb = float(polygon[i - 1, 0]), float(polygon[i - 1, 1])
        if ya == yb:
            continue  # a horizontal edge is never crossed by a horizontal ray
        crosses = (y < ya) != (y < yb)
        x_cross = xa + (y - ya) * ((xb - xa) / (yb - ya))
        inside ^= crosses & (x < x_cross)
    return inside


def polygon_mask(polygon: F64, shape: tuple[int, int]) -> Mask:
    """Rasterise a polygon: True for each pixel whose centre lies inside it."""
    h, w = shape
    mask = np.zeros((h, w), dtype=np.bool_)
    x0 = max(int(np.ceil(polygon[:, 0].min())), 0)
    x1 = min(int(np.floor(polygon[:, 0].max())), w - 1)
    y0 = max(int(np.ceil(polygon[:, 1].min())), 0)
    y1 = min(int(np.floor(polygon[:, 1].max())), h - 1)
    if x0 > x1 or y0 > y1:
        return mask
    ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(np.float64)
    mask[y0 : y1 + 1, x0 : x1 + 1] = points_in_polygon(xs, ys, polygon)
    return mask
