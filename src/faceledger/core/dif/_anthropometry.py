"""DiF schemes 1-3: craniofacial distances, areas and ratios (Farkas) from 68 landmarks.

Example::

    craniofacial_distances(pts)["face_height"]              # n-gn in pixels
    craniofacial_distances(pts, normalise=True)["face_height"]  # n-gn / inter-ocular distance
    craniofacial_areas(pts)["eye_right"]                     # pixels squared
    craniofacial_ratios(pts)["facial_index"]                 # n-gn / zy-zy, scale-free

Distances join Farkas points (``FARKAS_68`` says which landmarks approximate each);
``normalise=True`` divides distances by the inter-ocular distance and areas by its square, so
both become scale-free. Ratios are plain fractions, not Farkas' percentages (x 100).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from faceledger.core.dif._points import (
    BROW_LEFT,
    BROW_RIGHT,
    EYE_LEFT,
    EYE_RIGHT,
    JAW,
    LIPS_INNER,
    LIPS_OUTER,
    as_landmarks68,
    distance,
    face_frame,
    farkas,
    polygon_area,
    ratio,
)

#: Scheme 1: distance name -> the two Farkas points it joins.
DISTANCES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "face_height": ("n", "gn"),
        "face_width": ("zy_r", "zy_l"),
        "mandible_width": ("go_r", "go_l"),
        "upper_face_height": ("n", "sto"),
        "lower_face_height": ("sto", "gn"),
        "nose_height": ("n", "sn"),
        "nose_width": ("al_r", "al_l"),
        "mouth_width": ("ch_r", "ch_l"),
        "upper_lip_height": ("sn", "sto"),
        "upper_vermilion_height": ("ls", "sto"),
        "lower_vermilion_height": ("sto", "li"),
        "intercanthal_width": ("en_r", "en_l"),
        "biocular_width": ("ex_r", "ex_l"),
        "eye_fissure_length_right": ("ex_r", "en_r"),
        "eye_fissure_length_left": ("en_l", "ex_l"),
        "eye_fissure_height_right": ("ps_r", "pi_r"),
        "eye_fissure_height_left": ("ps_l", "pi_l"),
        "eye_nose_right": ("eye_r", "sn"),
        "eye_nose_left": ("eye_l", "sn"),
    }
)

#: Scheme 2: area name -> the 68-point polygon bounding it (``lips`` is outer minus inner).
AREAS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "eye_right": EYE_RIGHT,
        "eye_left": EYE_LEFT,
        "orbit_right": (*BROW_RIGHT, 39, 38, 37, 36),
        "orbit_left": (*BROW_LEFT, 45, 44, 43, 42),
        "nose": (27, 31, 32, 33, 34, 35),
        "mouth_outer": LIPS_OUTER,
        "mouth_inner": LIPS_INNER,
        "cheek_right": (1, 2, 3, 4, 48, 31, 40, 41),
        "cheek_left": (15, 14, 13, 12, 54, 35, 47, 46),
        "face": (*JAW, *reversed(BROW_RIGHT + BROW_LEFT)),
        "lower_face": JAW,
    }
)

#: Scheme 3: Farkas index -> (numerator distances, denominator distances); each side is the
#: mean of its distances, so two-eye indices use the mean of both eyes.
RATIOS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType(
    {
        "facial_index": (("face_height",), ("face_width",)),
        "mandibular_index": (("lower_face_height",), ("mandible_width",)),
        "intercanthal_index": (("intercanthal_width",), ("biocular_width",)),
        "orbital_width_index": (
            ("eye_fissure_length_right", "eye_fissure_length_left"),
            ("intercanthal_width",),
        ),
        "eye_fissure_index": (
            ("eye_fissure_height_right", "eye_fissure_height_left"),
            ("eye_fissure_length_right", "eye_fissure_length_left"),
        ),
        "nasal_index": (("nose_width",), ("nose_height",)),
        "vermilion_height_index": (("upper_vermilion_height",), ("lower_vermilion_height",)),
        "mouth_face_width_index": (("mouth_width",), ("face_width",)),
    }
)


def craniofacial_distances(
    landmarks68: npt.ArrayLike, *, normalise: bool = False
) -> dict[str, float]:
    """Scheme 1: Farkas distances in pixels, or in inter-ocular distances with ``normalise``.

    Example::

        d = craniofacial_distances(pts)
        d["face_height"], d["face_width"], d["nose_width"]

    ========================  ============  ==================================================
    name                      Farkas        68-point indices (mean where several)
    ========================  ============  ==================================================
    face_height               n-gn          27 - 8
    face_width                zy-zy         0 - 16 (outer contour at eye level; choice)
    mandible_width            go-go         4 - 12 (jaw angle; choice of 3/4/5)
    upper_face_height         n-sto         27 - mean(62, 66)
    lower_face_height         sto-gn        mean(62, 66) - 8
    nose_height               n-sn          27 - 33
    nose_width                al-al         31 - 35 (nostril base; the ala is a bit wider)
    mouth_width               ch-ch         48 - 54
    upper_lip_height          sn-sto        33 - mean(62, 66)
    upper_vermilion_height    ls-sto        51 - mean(62, 66)
    lower_vermilion_height    sto-li        mean(62, 66) - 57
    intercanthal_width        en-en         39 - 42
    biocular_width            ex-ex         36 - 45
    eye_fissure_length_*      ex-en         36 - 39 (right), 42 - 45 (left)
    eye_fissure_height_*      ps-pi         mean(37, 38) - mean(40, 41); mean(43, 44) - mean(46, 47)
    eye_nose_*                (none)        eye centre - 33; eye centre = mean of the corners
    ========================  ============  ==================================================

    "Right" is the subject's right (the image's left). The inter-ocular distance is between
    the eye centres, each the midpoint of its two corners (so the 5-point path agrees).
    """
    pts = as_landmarks68(landmarks68)
    iod = face_frame(pts).iod  # refuses coinciding eye centres even when not normalising
    scale = iod if normalise else 1.0
    return {
        name: distance(farkas(pts, a), farkas(pts, b)) / scale for name, (a, b) in DISTANCES.items()
    }


def craniofacial_areas(landmarks68: npt.ArrayLike, *, normalise: bool = False) -> dict[str, float]:
    """Scheme 2: shoelace areas of landmark polygons, in pixels² or (``normalise``) IOD².

    Example::

        craniofacial_areas(pts)["mouth_outer"]

    Regions (68-point indices, in drawing order): ``eye_right`` 36-41, ``eye_left`` 42-47,
    ``orbit_right`` brow 17-21 closed along the upper lid 39-36, ``orbit_left`` 22-26 and
    45-42, ``nose`` 27, 31-35, ``mouth_outer`` 48-59, ``mouth_inner`` 60-67, ``lips`` (the
    vermilion) outer minus inner, ``cheek_right`` 1-4, 48, 31, 40, 41 and its mirror
    ``cheek_left``, ``face`` the jaw 0-16 closed over the brows 26-17, and ``lower_face``
    (the forehead-less face) the jaw 0-16 closed by the chord 16-0.
    """
    pts = as_landmarks68(landmarks68)
    iod = face_frame(pts).iod
    scale = iod**2 if normalise else 1.0
    areas = {name: polygon_area(pts[list(idx)]) / scale for name, idx in AREAS.items()}
    areas["lips"] = max(areas["mouth_outer"] - areas["mouth_inner"], 0.0)
    return areas


def ratios_from_distances(distances: Mapping[str, float]) -> dict[str, float]:
    """The Farkas indices whose distances are all present (all of them for 68 points)."""
    out: dict[str, float] = {}
    for name, (top, bottom) in RATIOS.items():
        if all(d in distances for d in top + bottom):
            numerator = float(np.mean([distances[d] for d in top]))
            denominator = float(np.mean([distances[d] for d in bottom]))
            out[name] = ratio(numerator, denominator, name)
    return out


def craniofacial_ratios(landmarks68: npt.ArrayLike) -> dict[str, float]:
    """Scheme 3: the eight Farkas indices, scale-free by construction.

    Example::

        craniofacial_ratios(pts)["nasal_index"]   # al-al / n-sn

    ======================  =================================================
    facial_index            n-gn / zy-zy
    mandibular_index        sto-gn / go-go
    intercanthal_index      en-en / ex-ex
    orbital_width_index     mean(ex-en of both eyes) / en-en
    eye_fissure_index       mean(ps-pi of both eyes) / mean(ex-en of both eyes)
    nasal_index             al-al / n-sn
    vermilion_height_index  ls-sto / sto-li
    mouth_face_width_index  ch-ch / zy-zy
    ======================  =================================================

    Raises ValueError when a denominator is zero (e.g. a closed lower lip landmark set).
    """
    return ratios_from_distances(craniofacial_distances(landmarks68))
