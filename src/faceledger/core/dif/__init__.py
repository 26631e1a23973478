"""The Diversity in Faces (DiF) coding schemes as pure functions: numpy only, no I/O, no model.

Example::

    from faceledger.core.dif import measure_face, measure_face_5

    m = measure_face(landmarks68, rgb=image)   # (68, 2) dlib points in image pixels
    m.to_dict()["ratio.facial_index"], m.to_dict()["skin.band"]
    measure_face_5(landmarks5).pose.roll_deg   # dlib 5-point path, no 68-point model needed

IBM's DiF (Merler et al. 2019) annotated faces with ten coding schemes. faceledger computes:

====  ==========================  ==============================================================
1     craniofacial distances      :func:`craniofacial_distances` (Farkas points on 68 landmarks)
2     craniofacial areas          :func:`craniofacial_areas` (shoelace areas of regions)
3     craniofacial ratios         :func:`craniofacial_ratios` (eight Farkas indices)
4     facial symmetry             :func:`landmark_symmetry`, :func:`pixel_symmetry`
5     facial regions contrast     :func:`region_contrast` (CIELAB, Porcheron et al. 2013)
6     skin colour                 :func:`skin_tone`, :func:`ita_of_lab`, :func:`ita_band`
10    pose and resolution         :func:`head_pose`
====  ==========================  ==============================================================

Schemes 7 (age), 8 (gender) and 9 (human labels of apparent age and gender) are **not**
computed: faceledger refuses to infer a person's gender or age, from pixels or from people.

Everything here is a biometric measurement of a face (schemes 1-3 are "scans of face
geometry" in BIPA's words). Call these functions only after the policy engine has allowed
it for this face; nothing here checks consent. The 68-point landmarks usually come from
dlib's predictor trained on iBUG 300-W, whose licence is non-commercial; the 5-point path
(:func:`measure_face_5`) needs only dlib's 5-point model. See docs/dif.md.
"""

from faceledger.core.dif._anthropometry import (
    AREAS,
    DISTANCES,
    RATIOS,
    craniofacial_areas,
    craniofacial_distances,
    craniofacial_ratios,
)
from faceledger.core.dif._colour import (
    ITA_BANDS,
    SkinTone,
    ita_angles,
    ita_band,
    ita_of_lab,
    region_contrast,
    skin_tone,
    skin_tone_5,
    srgb_to_lab,
)
from faceledger.core.dif._measures import (
    REFUSED_SCHEMES,
    SCHEMES,
    DifMeasures,
    measure_face,
    measure_face_5,
    to_five_point,
)
from faceledger.core.dif._points import (
    FARKAS_68,
    FIVE_FROM_68,
    FIVE_POINT_ORDER,
    MIDLINE_68,
    MIRROR_68,
)
from faceledger.core.dif._pose import HeadPose, head_pose, head_pose_5
from faceledger.core.dif._symmetry import landmark_symmetry, pixel_symmetry

__all__ = [
    "AREAS",
    "DISTANCES",
    "FARKAS_68",
    "FIVE_FROM_68",
    "FIVE_POINT_ORDER",
    "ITA_BANDS",
    "MIDLINE_68",
    "MIRROR_68",
    "RATIOS",
    "REFUSED_SCHEMES",
    "SCHEMES",
    "DifMeasures",
    "HeadPose",
    "SkinTone",
    "craniofacial_areas",
    "craniofacial_distances",
    "craniofacial_ratios",
    "head_pose",
    "head_pose_5",
    "ita_angles",
    "ita_band",
    "ita_of_lab",
    "landmark_symmetry",
    "measure_face",
    "measure_face_5",
    "pixel_symmetry",
    "region_contrast",
    "skin_tone",
    "skin_tone_5",
    "srgb_to_lab",
    "to_five_point",
]
