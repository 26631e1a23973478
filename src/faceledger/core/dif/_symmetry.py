"""DiF scheme 4: facial symmetry from landmarks and from pixels, both in [0, 1].

Example::

    landmark_symmetry(pts)          # 1.0 for a perfectly mirror-symmetric landmark set
    pixel_symmetry(rgb, pts)        # 1.0 when the aligned face equals its mirror image

Both reflect about the facial midline, the total-least-squares line through the midline
landmarks (nose bridge 27-30, subnasale 33, lip midpoints 51, 62, 66, 57 and chin 8).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faceledger.core.dif._points import (
    BROW_LEFT,
    BROW_RIGHT,
    F64,
    JAW,
    MIDLINE_68,
    MIRROR_68,
    as_landmarks68,
    as_rgb,
    face_frame,
    points_in_polygon,
)

#: Side of the square grid the face is resampled onto for :func:`pixel_symmetry`.
SYMMETRY_GRID = 64

_FACE_OUTLINE = (*JAW, *reversed(BROW_RIGHT + BROW_LEFT))


def midline(points68: F64) -> tuple[F64, F64, F64]:
    """``(origin, down, across)``: a point on the midline, its unit direction towards the
    chin, and the unit normal towards the subject's left. Raises ValueError if degenerate."""
    frame = face_frame(points68)
    mid = points68[list(MIDLINE_68)]
    origin = mid.mean(axis=0)
    _, singular, vt = np.linalg.svd(mid - origin)
    if not singular[0] > 1e-9 * frame.iod:
        raise ValueError("degenerate landmarks: the midline points coincide")
    down = np.asarray(vt[0], dtype=np.float64)
    if float(down @ (points68[8] - points68[27])) < 0.0:
        down = -down
    across = np.array([-down[1], down[0]], dtype=np.float64)
    if float(across @ frame.u) < 0.0:
        across = -across
    return origin, down, across


def landmark_symmetry(landmarks68: npt.ArrayLike) -> float:
    """Mirror the 68 points about the midline, pair each with its counterpart, score the fit.

    Example::

        landmark_symmetry(pts)  # e.g. 0.97 for a real frontal face

    The score is ``1 / (1 + e)`` with ``e`` the root-mean-square distance, in inter-ocular
    distances, between each point and the mirror image of its counterpart (``MIRROR_68``).
    It is 1 for a perfectly symmetric set, falls towards 0 as asymmetry grows, and is
    unchanged by translation, rotation, scale and by mirroring the face itself. Head yaw reads
    as asymmetry: compare faces of similar pose.
    """
    pts = as_landmarks68(landmarks68)
    iod = face_frame(pts).iod
    origin, _, across = midline(pts)
    offset = (pts - origin) @ across
    mirrored = pts - 2.0 * offset[:, None] * across
    err = mirrored[list(MIRROR_68)] - pts
    rms = float(np.sqrt(np.mean(np.sum(err * err, axis=1)))) / iod
    return 1.0 / (1.0 + rms)


def _gray(rgb: npt.NDArray[np.uint8]) -> F64:
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float64)
    return np.asarray(rgb.astype(np.float64) @ weights, dtype=np.float64)


def _bilinear(image: npt.NDArray[np.uint8], x: F64, y: F64) -> tuple[F64, npt.NDArray[np.bool_]]:
    """Sample the grayscale of ``image`` at float pixel positions, converting only the part
    the positions touch; also say which positions lay inside the image."""
    h, w = image.shape[:2]
    valid = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    x_lo = min(max(int(np.floor(x.min())), 0), w - 1)
    x_hi = min(max(int(np.ceil(x.max())), x_lo), w - 1)
    y_lo = min(max(int(np.floor(y.min())), 0), h - 1)
    y_hi = min(max(int(np.ceil(y.max())), y_lo), h - 1)
    gray = _gray(image[y_lo : y_hi + 1, x_lo : x_hi + 1])
    gh, gw = gray.shape
    xc = np.clip(x - x_lo, 0, gw - 1)
    yc = np.clip(y - y_lo, 0, gh - 1)
    x0 = np.floor(xc).astype(np.intp)
    y0 = np.floor(yc).astype(np.intp)
    x1 = np.minimum(x0 + 1, gw - 1)
    y1 = np.minimum(y0 + 1, gh - 1)
    fx = xc - x0
    fy = yc - y0
    top = gray[y0, x0] * (1 - fx) + gray[y0, x1] * fx
    bottom = gray[y1, x0] * (1 - fx) + gray[y1, x1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float64), valid


def pixel_symmetry(
    rgb: npt.NDArray[np.uint8], landmarks68: npt.ArrayLike, *, grid: int = SYMMETRY_GRID
) -> float:
    """Density-difference symmetry of the aligned face and its mirror (Liu et al. 2003).

    Example::

        pixel_symmetry(rgb, pts)  # 1.0 for a face identical to its mirror image

    The face is resampled (bilinear, grayscale ``0.299 R + 0.587 G + 0.114 B``) onto a
    ``grid`` x ``grid`` lattice whose columns run across the midline and whose rows run along
    it, spanning the landmarks' extent; only lattice points inside the face outline (jaw and
    brows) whose mirror partner is also inside and within the image count. With ``I`` the
    sampled face and ``I'`` its left-right mirror, the score is
    ``1 - sum|I - I'| / sum(I + I')``: 1 when the face equals its mirror, lower as the
    density difference (Liu's D-face) grows; 1.0 for an all-black face. Liu's second measure,
    edge-orientation similarity, is not computed. A coarser ``grid`` is faster and more
    forgiving of landmark jitter.
    """
    image = as_rgb(rgb)
    pts = as_landmarks68(landmarks68)
    if grid < 2:
        raise ValueError(f"grid must be at least 2, got {grid}")
    origin, down, across = midline(pts)
    rel = pts - origin
    u_pts, v_pts = rel @ across, rel @ down
    half_width = float(np.abs(u_pts).max())
    top, bottom = float(v_pts.min()), float(v_pts.max())
    steps = (np.arange(grid, dtype=np.float64) + 0.5) / grid
    u = -half_width + 2.0 * half_width * steps
    v = top + (bottom - top) * steps
    uu, vv = np.meshgrid(u, v)
    x = origin[0] + uu * across[0] + vv * down[0]
    y = origin[1] + uu * across[1] + vv * down[1]
    sampled, valid = _bilinear(image, x, y)
    outline = np.stack([u_pts, v_pts], axis=1)[list(_FACE_OUTLINE)]
    keep = valid & points_in_polygon(uu, vv, outline)
    keep &= keep[:, ::-1]
    if not keep.any():
        raise ValueError("the face outline covers no pixel of the image")
    mirror = sampled[:, ::-1]
    denominator = float((sampled + mirror)[keep].sum())
    if denominator == 0.0:
        return 1.0
    score = 1.0 - float(np.abs(sampled - mirror)[keep].sum()) / denominator
    return min(max(score, 0.0), 1.0)
