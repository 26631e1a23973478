"""DiF scheme 10: head pose (roll, yaw, pitch) and resolution from landmarks, without PnP.

Example::

    pose = head_pose(pts)
    pose.roll_deg, pose.yaw_deg, pose.pitch_deg, pose.iod_px

Method (orthographic camera, a generic face; no 3-D model fit):

* **roll**: the angle of the line from the subject's right eye centre to the left one,
  ``atan2(dy, dx)``. Image y points down, so positive roll is a clockwise turn on screen.
* **yaw**: in the roll-free eye-line frame, the nose tip (30) sits ``t`` inter-ocular
  distances (IOD) to the side of the midpoint between the eye midpoint and the mouth-corner
  midpoint. A nose tip ``d`` IOD in front of the eye-mouth plane gives ``t = d tan(yaw)``
  (the IOD itself shrinks by ``cos(yaw)``), so ``yaw = atan(t / d)``. Positive yaw: the face
  turns towards the image's right (the subject's left).
* **pitch**: ``r`` = (nose tip below the eye line) / (mouth corners below the eye line).
  With the same depth ``d`` in eye-mouth heights, ``r = r0 + d tan(pitch)``; ``r0`` is the
  value of dlib's mean face shape. Positive pitch: the face tilts down (chin to chest).

Limits: the depths are population constants, so a long or flat nose reads as yaw/pitch
(expect about +-10° error near frontal); an open or smiling mouth shifts pitch; beyond about
45° the 68-point fit itself degrades. The 5-point path has no mouth, so no pitch, and its
nose point (the nose base) sits close to the eye plane, so its yaw is rougher still.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faceledger.core.dif._points import (
    JAW,
    FaceFrame,
    as_landmarks5,
    as_landmarks68,
    face_frame,
    face_frame_5,
)

#: Nose tip (30) in front of the eye/mouth plane, in IOD (generic 3-D face: ~0.35).
YAW_NOSE_DEPTH = 0.35
#: Nose tip in front of the eye/mouth plane, in eye-to-mouth heights.
PITCH_NOSE_DEPTH = 0.35
#: Nose-tip drop / mouth drop below the eye line on dlib's mean face (pitch 0).
PITCH_NEUTRAL_RATIO = 0.524
#: Nose base (5-point point 4, ~subnasale) in front of the eye-corner plane, in IOD. Fitted
#: so the 5-point yaw agrees with the 68-point yaw on 137 faces (LFW sample and the bundled
#: examples): slope 0.187, residual sd 0.05 IOD.
YAW_NOSE_BASE_DEPTH_5 = 0.19


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Scheme 10: angles in degrees, sizes in pixels; ``None`` where 5 points cannot tell.

    ``face_width_px`` is the jaw contour's extent along the eye line, ``face_height_px`` the
    extent of all 68 points across it (brow top to chin), both free of roll.
    """

    roll_deg: float
    yaw_deg: float
    pitch_deg: float | None
    iod_px: float
    face_width_px: float | None
    face_height_px: float | None


def _roll(frame: FaceFrame) -> float:
    return math.degrees(math.atan2(float(frame.u[1]), float(frame.u[0])))


def head_pose(landmarks68: npt.ArrayLike) -> HeadPose:
    """Roll, yaw, pitch, inter-ocular distance and face size from 68 landmarks.

    Example::

        head_pose(pts).yaw_deg   # ~0 for a frontal face

    Raises ValueError if the eye centres coincide or the mouth is not below the eye line.
    """
    pts = as_landmarks68(landmarks68)
    frame = face_frame(pts)
    uv = frame.to_face(pts) / frame.iod
    mouth = (uv[48] + uv[54]) / 2.0
    nose = uv[30]
    if not mouth[1] > 0.0:
        raise ValueError("degenerate landmarks: the mouth is not below the eye line")
    sideways = float(nose[0] - mouth[0] / 2.0)
    drop = float(nose[1] / mouth[1])
    jaw_u = uv[list(JAW), 0]
    return HeadPose(
        roll_deg=_roll(frame),
        yaw_deg=math.degrees(math.atan(sideways / YAW_NOSE_DEPTH)),
        pitch_deg=math.degrees(math.atan((drop - PITCH_NEUTRAL_RATIO) / PITCH_NOSE_DEPTH)),
        iod_px=frame.iod,
        face_width_px=float(jaw_u.max() - jaw_u.min()) * frame.iod,
        face_height_px=float(np.ptp(uv[:, 1])) * frame.iod,
    )


def head_pose_5(landmarks5: npt.ArrayLike) -> HeadPose:
    """Roll, rough yaw and inter-ocular distance from dlib's 5 points (no pitch, no size).

    Example::

        head_pose_5(five).roll_deg

    Yaw uses the nose base's sideways offset from the eye midpoint over
    ``YAW_NOSE_BASE_DEPTH_5``: near frontal, 0.01 IOD of landmark error is about 3°, and
    on real faces it scatters about +-15° around the 68-point yaw.
    """
    pts = as_landmarks5(landmarks5)
    frame = face_frame_5(pts)
    sideways = float(frame.to_face(pts[4])[0]) / frame.iod
    return HeadPose(
        roll_deg=_roll(frame),
        yaw_deg=math.degrees(math.atan(sideways / YAW_NOSE_BASE_DEPTH_5)),
        pitch_deg=None,
        iod_px=frame.iod,
        face_width_px=None,
        face_height_px=None,
    )
