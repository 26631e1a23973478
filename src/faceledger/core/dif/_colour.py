"""DiF schemes 5 and 6: CIELAB, facial-region contrast and skin colour as ITA.

Example::

    srgb_to_lab(np.array([[255, 0, 0]], np.uint8))   # [[53.24, 80.09, 67.20]]
    ita_of_lab(lab_patch)                            # median ITA of the patch, degrees
    ita_band(30.0)                                   # 'intermediate'
    region_contrast(rgb, pts)["lips.a"]              # Porcheron contrast of the lips in a*
    skin_tone(rgb, pts).band

Colour is sRGB (IEC 61966-2-1) -> linear -> XYZ (D65) -> L*a*b* (CIE 1976), in numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from faceledger.core.dif._points import (
    BROW_LEFT,
    BROW_RIGHT,
    EYE_LEFT,
    EYE_RIGHT,
    F64,
    LIPS_INNER,
    LIPS_OUTER,
    Mask,
    as_landmarks5,
    as_landmarks68,
    as_rgb,
    face_frame,
    face_frame_5,
    polygon_mask,
    scale_polygon,
)

_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
#: The D65 white of the matrix above (its row sums), so that sRGB white has a* = b* = 0.
_WHITE = _SRGB_TO_XYZ.sum(axis=1)
_C = np.arange(256, dtype=np.float64) / 255.0
_LINEAR = np.where(_C <= 0.04045, _C / 12.92, ((_C + 0.055) / 1.055) ** 2.4)
_DELTA = 6.0 / 29.0

#: ITA bands, lightest first: (name, lower edge). A value belongs to the first band whose
#: lower edge it *exceeds*, except that brown also takes -30 itself: very_light (55, inf),
#: light (41, 55], intermediate (28, 41], tan (10, 28], brown [-30, 10], dark (-inf, -30).
ITA_BANDS: tuple[tuple[str, float], ...] = (
    ("very_light", 55.0),
    ("light", 41.0),
    ("intermediate", 28.0),
    ("tan", 10.0),
    ("brown", -30.0),
    ("dark", float("-inf")),
)

#: Region geometry, in inter-ocular distances (IOD). Brows: the landmarks trace the brow's
#: upper edge, so the brow is that line and its copy moved this far towards the chin.
BROW_THICKNESS_IOD = 0.12
#: Surrounding-skin rings: the feature polygon scaled about its centre by these factors.
SURROUND_SCALE: Mapping[str, float] = MappingProxyType({"eyes": 1.8, "brows": 1.6, "lips": 1.5})
#: Cheek polygons are shrunk about their centre by this factor, away from the face edge.
CHEEK_SHRINK = 0.8
#: Forehead band above the brows: from this far above the brow line ...
FOREHEAD_FROM_IOD = 0.10
#: ... to this far above it, over brow points 18-25.
FOREHEAD_TO_IOD = 0.35


def srgb_to_lab(rgb: npt.NDArray[np.uint8]) -> F64:
    """CIELAB (D65) of an ``(..., 3)`` uint8 sRGB array: L* in [0, 100], a* and b* unbounded.

    Example::

        srgb_to_lab(np.full((1, 1, 3), 255, np.uint8))  # [[[100, 0, 0]]]
    """
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim < 1 or arr.shape[-1] != 3:
        raise ValueError(
            f"rgb must be a uint8 array of shape (..., 3), got {arr.dtype} {arr.shape}"
        )
    xyz = _LINEAR[arr] @ _SRGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > _DELTA**3, np.cbrt(xyz), xyz / (3.0 * _DELTA**2) + 4.0 / 29.0)
    lab = np.empty(xyz.shape, dtype=np.float64)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def ita_angles(lab: npt.ArrayLike) -> F64:
    """Per-pixel ITA in degrees, ``arctan((L* - 50) / b*)``, over an ``(..., 3)`` Lab array.

    Computed as ``atan2((L* - 50) * sign(b*), |b*|)``: identical to the arctan formula for
    every b* != 0, no division, and at b* = 0 the limit from b* > 0 (+-90, or 0 at L* = 50).
    The range is [-90, 90].
    """
    arr = np.asarray(lab, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != 3:
        raise ValueError(f"lab must have shape (..., 3), got {arr.shape}")
    lightness, b = arr[..., 0], arr[..., 2]
    sign = np.where(b < 0.0, -1.0, 1.0)
    return np.asarray(np.degrees(np.arctan2((lightness - 50.0) * sign, np.abs(b))))


def ita_of_lab(lab: npt.ArrayLike) -> float:
    """The median per-pixel ITA of a raw Lab patch, ``(..., 3)``; ValueError if empty/NaN.

    Example::

        ita_of_lab(np.array([[70.0, 10.0, 20.0]]))   # degrees(arctan(20 / 20)) = 45.0
    """
    angles = ita_angles(lab).reshape(-1)
    if angles.size == 0:
        raise ValueError("no pixels to compute ITA over")
    if not np.isfinite(angles).all():
        raise ValueError("lab contains NaN or infinite values")
    return float(np.median(angles))


def ita_band(ita: float) -> str:
    """The skin-colour band of an ITA in degrees (edges in ``ITA_BANDS``).

    Example::

        ita_band(55.0), ita_band(55.001)   # ('light', 'very_light')
    """
    if not np.isfinite(ita):
        raise ValueError(f"ITA must be finite, got {ita}")
    for name, lower in ITA_BANDS:
        if ita > lower or (name == "brown" and ita == lower):
            return name
    raise AssertionError("unreachable: the last band has no lower edge")


@dataclass(frozen=True, slots=True)
class SkinTone:
    """Scheme 6: median per-pixel ITA (degrees) over ``pixels`` facial-skin pixels, and band."""

    ita_deg: float
    band: str
    pixels: int


class _Canvas:
    """The part of the image the regions touch, in Lab, with masks in its coordinates."""

    def __init__(self, rgb: npt.NDArray[np.uint8], polygons: Sequence[F64]) -> None:
        h, w = rgb.shape[:2]
        allpts = np.concatenate(polygons)
        self.x0 = min(max(int(np.floor(allpts[:, 0].min())), 0), w - 1)
        self.y0 = min(max(int(np.floor(allpts[:, 1].min())), 0), h - 1)
        x1 = min(max(int(np.ceil(allpts[:, 0].max())), self.x0), w - 1)
        y1 = min(max(int(np.ceil(allpts[:, 1].max())), self.y0), h - 1)
        self.lab = srgb_to_lab(rgb[self.y0 : y1 + 1, self.x0 : x1 + 1])

    def mask(self, polygon: F64) -> Mask:
        offset = np.array([self.x0, self.y0], dtype=np.float64)
        return polygon_mask(polygon - offset, (self.lab.shape[0], self.lab.shape[1]))

    def mean(self, mask: Mask, name: str) -> F64:
        if not mask.any():
            raise ValueError(f"the {name} region covers no pixel: face too small or off-image")
        return np.asarray(self.lab[mask].mean(axis=0), dtype=np.float64)


def _brow(points: F64, down: F64, iod: float) -> F64:
    return np.concatenate([points, points[::-1] + BROW_THICKNESS_IOD * iod * down])


def _features68(pts: F64) -> dict[str, list[F64]]:
    frame = face_frame(pts)
    return {
        "eyes": [pts[list(EYE_RIGHT)], pts[list(EYE_LEFT)]],
        "brows": [
            _brow(pts[list(BROW_RIGHT)], frame.v, frame.iod),
            _brow(pts[list(BROW_LEFT)], frame.v, frame.iod),
        ],
        "lips": [pts[list(LIPS_OUTER)]],
    }


def region_contrast(rgb: npt.NDArray[np.uint8], landmarks68: npt.ArrayLike) -> dict[str, float]:
    """Scheme 5: Porcheron et al. (2013) contrast of eyes, lips and brows vs surrounding skin.

    Example::

        c = region_contrast(rgb, pts)
        c["eyes.L"], c["lips.a"], c["brows.b"]     # keys '<feature>.<L|a|b>'

    For each feature and channel, ``(skin - feature) / (|skin| + |feature|)`` of the mean
    L*, a*, b* over each region (0 when both are 0). For L* and for the usual positive a*/b*
    of skin and lips this is Porcheron's ``(skin - feature) / (skin + feature)``; the absolute
    values keep it in [-1, 1] when a chromatic mean is negative. Positive: the feature is
    darker (L), less red (a) or less yellow (b) than the skin around it.

    Regions: eyes = polygons 36-41 and 42-47; lips = the vermilion, 48-59 minus 60-67;
    brows = the brow line (17-21, 22-26) thickened towards the eyes by ``BROW_THICKNESS_IOD``.
    Surrounding skin = each feature's polygon scaled by ``SURROUND_SCALE`` about its centre,
    minus every feature and the mouth opening.
    """
    image = as_rgb(rgb)
    pts = as_landmarks68(landmarks68)
    features = _features68(pts)
    surrounds = {
        name: [scale_polygon(p, SURROUND_SCALE[name]) for p in polys]
        for name, polys in features.items()
    }
    inner = pts[list(LIPS_INNER)]
    canvas = _Canvas(image, [p for polys in surrounds.values() for p in polys])
    masks = {
        name: np.logical_or.reduce([canvas.mask(p) for p in polys])
        for name, polys in features.items()
    }
    mouth_open = canvas.mask(inner)
    masks["lips"] &= ~mouth_open
    excluded = np.logical_or.reduce([*masks.values(), mouth_open])
    out: dict[str, float] = {}
    for name in ("eyes", "lips", "brows"):
        ring = np.logical_or.reduce([canvas.mask(p) for p in surrounds[name]]) & ~excluded
        feature = canvas.mean(masks[name], name)
        skin = canvas.mean(ring, f"skin around the {name}")
        for channel, s, f in zip("Lab", skin, feature, strict=True):
            scale = abs(float(s)) + abs(float(f))
            out[f"{name}.{channel}"] = float(s - f) / scale if scale > 0.0 else 0.0
    return out


def _skin_tone(image: npt.NDArray[np.uint8], skin: list[F64], excluded: list[F64]) -> SkinTone:
    canvas = _Canvas(image, skin)
    mask = np.logical_or.reduce([canvas.mask(p) for p in skin])
    for polygon in excluded:
        mask &= ~canvas.mask(polygon)
    pixels = int(mask.sum())
    if pixels == 0:
        raise ValueError("the skin regions cover no pixel: face too small or off-image")
    ita = ita_of_lab(canvas.lab[mask])
    return SkinTone(ita_deg=ita, band=ita_band(ita), pixels=pixels)


def skin_tone(rgb: npt.NDArray[np.uint8], landmarks68: npt.ArrayLike) -> SkinTone:
    """Scheme 6: ITA over both cheeks and the forehead, excluding eyes, brows and lips.

    Example::

        skin_tone(rgb, pts)   # SkinTone(ita_deg=38.2, band='intermediate', pixels=5210)

    Cheeks: polygons 1-4, 48, 31, 40, 41 and 15-12, 54, 35, 47, 46, each shrunk by
    ``CHEEK_SHRINK`` about its centre so jaw-edge background stays out. Forehead: the band
    from ``FOREHEAD_FROM_IOD`` to ``FOREHEAD_TO_IOD`` inter-ocular distances above brow points
    18-25 (fringes and hats leak in; the median tolerates a minority). Aggregate: the median
    of per-pixel ITA (no histogram bin width to choose, robust to specular highlights and
    shadows). Raises ValueError when no skin pixel remains.
    """
    image = as_rgb(rgb)
    pts = as_landmarks68(landmarks68)
    frame = face_frame(pts)
    brow_line = pts[18:26]
    forehead = np.concatenate(
        [
            brow_line - FOREHEAD_FROM_IOD * frame.iod * frame.v,
            brow_line[::-1] - FOREHEAD_TO_IOD * frame.iod * frame.v,
        ]
    )
    cheeks = [
        scale_polygon(pts[[1, 2, 3, 4, 48, 31, 40, 41]], CHEEK_SHRINK),
        scale_polygon(pts[[15, 14, 13, 12, 54, 35, 47, 46]], CHEEK_SHRINK),
    ]
    excluded = [p for polys in _features68(pts).values() for p in polys]
    return _skin_tone(image, [*cheeks, forehead], excluded)


#: 5-point skin regions in the eye-line frame (units of IOD, origin between the eye centres,
#: u towards the subject's left, v towards the chin): two cheek rectangles and a forehead band,
#: placed on dlib's mean face to overlap the 68-point cheek polygons and forehead band.
SKIN_REGIONS_5: Mapping[str, tuple[float, float, float, float]] = MappingProxyType(
    {
        # name: (u_min, u_max, v_min, v_max)
        "cheek_right": (-0.70, -0.35, 0.35, 0.85),
        "cheek_left": (0.35, 0.70, 0.35, 0.85),
        "forehead": (-0.50, 0.50, -0.72, -0.42),
    }
)


def skin_tone_5(rgb: npt.NDArray[np.uint8], landmarks5: npt.ArrayLike) -> SkinTone:
    """Scheme 6 from dlib's 5 points: ITA over the ``SKIN_REGIONS_5`` rectangles.

    Example::

        skin_tone_5(rgb, five)

    Without brow, lip or jaw landmarks the regions are fixed rectangles in the eye-line
    frame. They assume a roughly frontal face; at large yaw the far cheek rectangle can leave
    the face. The result is *not* interchangeable with :func:`skin_tone`: on 137 faces (an
    LFW sample and the bundled examples) it read 11° higher on average (sd 11°), mostly
    because the 68-point cheek polygons reach the darker, shadowed lower and outer cheek.
    Compare ITA values from the same path only.
    """
    image = as_rgb(rgb)
    frame = face_frame_5(as_landmarks5(landmarks5))
    rects = [
        frame.to_image(
            np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], dtype=np.float64) * frame.iod
        )
        for u0, u1, v0, v1 in SKIN_REGIONS_5.values()
    ]
    return _skin_tone(image, rects, [])
