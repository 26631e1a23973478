"""The entry points: every DiF measure faceledger computes for one face, as one value.

Example::

    m = measure_face(pts, rgb=crop)       # 68 points (+ optional pixels)
    m.schemes                              # (1, 2, 3, 4, 5, 6, 10)
    m.to_dict()["ratio.facial_index"]
    measure_face_5(five).to_dict()         # what dlib's 5 points allow

Keys of :meth:`DifMeasures.to_dict` are a public contract: add keys, never rename or remove.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from faceledger.core.dif._anthropometry import (
    craniofacial_areas,
    craniofacial_distances,
    ratios_from_distances,
)
from faceledger.core.dif._colour import SkinTone, region_contrast, skin_tone, skin_tone_5
from faceledger.core.dif._points import (
    F64,
    FIVE_FROM_68,
    as_landmarks5,
    as_landmarks68,
    as_rgb,
    distance,
    face_frame_5,
)
from faceledger.core.dif._pose import HeadPose, head_pose, head_pose_5
from faceledger.core.dif._symmetry import landmark_symmetry, pixel_symmetry

#: The ten DiF coding schemes by number (Merler et al. 2019, Table 1).
SCHEMES: Mapping[int, str] = MappingProxyType(
    {
        1: "craniofacial_distances",
        2: "craniofacial_areas",
        3: "craniofacial_ratios",
        4: "facial_symmetry",
        5: "facial_regions_contrast",
        6: "skin_colour_ita",
        7: "age",
        8: "gender",
        9: "subjective_annotations",
        10: "pose_and_resolution",
    }
)
#: Schemes faceledger never computes, and why.
REFUSED_SCHEMES: Mapping[int, str] = MappingProxyType(
    {
        7: "faceledger does not infer age",
        8: "faceledger does not infer gender",
        9: "human labels of apparent age and gender are not collected",
    }
)

LandmarkModel = Literal["dlib68", "dlib5"]


def _frozen(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


_EMPTY: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DifMeasures:
    """The DiF measures of one face. Mappings are read-only; absent schemes are empty/None.

    ``schemes`` lists the DiF scheme numbers actually computed (see ``SCHEMES``); schemes 1
    and 3 are partial on the 5-point path. ``to_dict`` flattens everything with stable,
    prefixed keys, e.g. ``distance.face_height``, ``distance_iod.face_height``,
    ``area.eye_right``, ``area_iod2.eye_right``, ``ratio.nasal_index``,
    ``symmetry.landmarks``, ``symmetry.pixels``, ``contrast.lips.a``, ``skin.ita_deg``,
    ``skin.band``, ``pose.yaw_deg``, ``resolution.iod_px``.
    """

    landmarks: LandmarkModel
    schemes: tuple[int, ...]
    distances: Mapping[str, float]
    distances_iod: Mapping[str, float]
    areas: Mapping[str, float]
    areas_iod2: Mapping[str, float]
    ratios: Mapping[str, float]
    symmetry_landmarks: float | None
    symmetry_pixels: float | None
    contrast: Mapping[str, float]
    skin: SkinTone | None
    pose: HeadPose

    def to_dict(self) -> dict[str, float | str]:
        """A flat, JSON-ready dict: floats, plus the strings ``landmarks``, ``schemes``
        (comma-separated numbers) and ``skin.band``. Keys of absent schemes are left out."""
        out: dict[str, float | str] = {
            "landmarks": self.landmarks,
            "schemes": ",".join(str(s) for s in self.schemes),
        }
        for prefix, values in (
            ("distance", self.distances),
            ("distance_iod", self.distances_iod),
            ("area", self.areas),
            ("area_iod2", self.areas_iod2),
            ("ratio", self.ratios),
        ):
            out.update({f"{prefix}.{k}": float(v) for k, v in values.items()})
        if self.symmetry_landmarks is not None:
            out["symmetry.landmarks"] = self.symmetry_landmarks
        if self.symmetry_pixels is not None:
            out["symmetry.pixels"] = self.symmetry_pixels
        out.update({f"contrast.{k}": v for k, v in self.contrast.items()})
        if self.skin is not None:
            out["skin.ita_deg"] = self.skin.ita_deg
            out["skin.band"] = self.skin.band
            out["skin.pixels"] = float(self.skin.pixels)
        pose = self.pose
        out["pose.roll_deg"] = pose.roll_deg
        out["pose.yaw_deg"] = pose.yaw_deg
        if pose.pitch_deg is not None:
            out["pose.pitch_deg"] = pose.pitch_deg
        out["resolution.iod_px"] = pose.iod_px
        if pose.face_width_px is not None:
            out["resolution.face_width_px"] = pose.face_width_px
        if pose.face_height_px is not None:
            out["resolution.face_height_px"] = pose.face_height_px
        return out


def measure_face(
    landmarks68: npt.ArrayLike, rgb: npt.NDArray[np.uint8] | None = None
) -> DifMeasures:
    """DiF schemes 1-4 and 10 from 68 landmarks; with ``rgb`` also 4 (pixels), 5 and 6.

    Example::

        m = measure_face(pts)              # geometry only
        m = measure_face(pts, rgb=image)   # + pixel symmetry, contrast, ITA
        m.ratios["facial_index"], m.pose.yaw_deg

    ``landmarks68``: ``(68, 2)`` dlib/iBUG 300-W points in pixels of ``rgb`` (the whole image
    or a crop). ``rgb``: ``(h, w, 3)`` uint8 sRGB. Raises ValueError on a wrong shape, NaN,
    coinciding eye centres, or (with pixels) a face too small or off-image to measure.
    These are biometric measurements: compute them only where the policy engine allows.
    """
    pts = as_landmarks68(landmarks68)
    distances = craniofacial_distances(pts)
    pose = head_pose(pts)
    iod = pose.iod_px
    image = as_rgb(rgb) if rgb is not None else None
    return DifMeasures(
        landmarks="dlib68",
        schemes=(1, 2, 3, 4, 10) if image is None else (1, 2, 3, 4, 5, 6, 10),
        distances=_frozen(distances),
        distances_iod=_frozen({k: v / iod for k, v in distances.items()}),
        areas=_frozen(craniofacial_areas(pts)),
        areas_iod2=_frozen(craniofacial_areas(pts, normalise=True)),
        ratios=_frozen(ratios_from_distances(distances)),
        symmetry_landmarks=landmark_symmetry(pts),
        symmetry_pixels=pixel_symmetry(image, pts) if image is not None else None,
        contrast=_frozen(region_contrast(image, pts)) if image is not None else _EMPTY,
        skin=skin_tone(image, pts) if image is not None else None,
        pose=pose,
    )


def to_five_point(landmarks68: npt.ArrayLike) -> F64:
    """The dlib 5-point layout (``FIVE_POINT_ORDER``) taken from a 68-point set.

    Example::

        measure_face_5(to_five_point(pts))   # same keys and values as a 5-point model's
    """
    return np.asarray(as_landmarks68(landmarks68)[list(FIVE_FROM_68)], dtype=np.float64)


def measure_face_5(
    landmarks5: npt.ArrayLike, rgb: npt.NDArray[np.uint8] | None = None
) -> DifMeasures:
    """What dlib's 5 points allow: parts of schemes 1 and 3, scheme 10, and 6 with pixels.

    Example::

        m = measure_face_5(five, rgb=image)
        m.pose.roll_deg, m.ratios["intercanthal_index"], m.skin.band

    ``landmarks5`` in dlib's ``shape_predictor_5_face_landmarks`` order (``FIVE_POINT_ORDER``:
    subject's left eye outer and inner corner, which is the eye on the image's right; the
    other eye's outer and inner corner; the nose base). This is *not* the order of
    ``FaceDetection.landmarks`` (eye centres, nose tip, mouth corners). For deployments
    where the 68-point model's licence (trained on iBUG 300-W: non-commercial) rules it out.

    Distances (and the same over the inter-ocular distance): ``intercanthal_width``,
    ``biocular_width``, ``eye_fissure_length_right/left``, ``eye_nose_right/left``; ratios:
    ``intercanthal_index``, ``orbital_width_index``; pose: roll and a rough yaw; resolution:
    the inter-ocular distance. Keys match :func:`measure_face` where they mean the same.
    """
    pts = as_landmarks5(landmarks5)
    frame = face_frame_5(pts)
    ex_l, en_l, ex_r, en_r, sn = pts
    eye_l, eye_r = (ex_l + en_l) / 2.0, (ex_r + en_r) / 2.0
    distances = {
        "intercanthal_width": distance(en_r, en_l),
        "biocular_width": distance(ex_r, ex_l),
        "eye_fissure_length_right": distance(ex_r, en_r),
        "eye_fissure_length_left": distance(en_l, ex_l),
        "eye_nose_right": distance(eye_r, sn),
        "eye_nose_left": distance(eye_l, sn),
    }
    image = as_rgb(rgb) if rgb is not None else None
    return DifMeasures(
        landmarks="dlib5",
        schemes=(1, 3, 10) if image is None else (1, 3, 6, 10),
        distances=_frozen(distances),
        distances_iod=_frozen({k: v / frame.iod for k, v in distances.items()}),
        areas=_EMPTY,
        areas_iod2=_EMPTY,
        ratios=_frozen(ratios_from_distances(distances)),
        symmetry_landmarks=None,
        symmetry_pixels=None,
        contrast=_EMPTY,
        skin=skin_tone_5(image, pts) if image is not None else None,
        pose=head_pose_5(pts),
    )
