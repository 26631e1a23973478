"""dlib's shape predictors and ResNet face descriptor, weights from ``face_recognition_models``.

Example::

    models = DlibModels()
    points = models.landmarks5(rgb, box)        # (5, 2): dlib's 5-point order
    vector = models.embed(rgb, box)             # (128,) float32, unit-free; distance < 0.6 = same
    models.embedder_info.version                # recorded with every template

Weights (MIT-licensed package, Davis King's models):

- ``dlib_face_recognition_resnet_model_v1.dat``: 128-D descriptor, LFW 99.38% (published).
- ``shape_predictor_5_face_landmarks.dat``: eye corners and nose base; used for alignment of
  every embedding, as ``face_recognition``'s default ``small`` model does.
- ``shape_predictor_68_face_landmarks.dat``: the 68-point iBUG 300-W scheme. Its training data
  (iBUG 300-W) is licensed for non-commercial use only: it is used only when the setting
  ``landmark_model`` is ``68``; the default ``5`` keeps commercial deployments clear of it.

Files are located by path, without importing ``face_recognition_models`` (it imports
``pkg_resources``, which recent setuptools no longer ship). Nothing loads at import time.
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

from faceledger.core.faces import BBox
from faceledger.errors import ModelError

RESNET = "dlib_face_recognition_resnet_model_v1.dat"
PREDICTOR_5 = "shape_predictor_5_face_landmarks.dat"
PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"


@dataclass(frozen=True)
class ModelInfo:
    """A model's name and exact version (a template is compared only within one version)."""

    name: str
    version: str


@cache
def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ModelError(
            "the dlib face models come from the 'face_recognition_models' package, which is not "
            "installed: pip install face_recognition_models"
        )
    return Path(spec.origin).parent / "models"


@cache
def _file_version(name: str) -> str:
    path = models_dir() / name
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; reinstall face_recognition_models")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def _rect(box: BBox) -> Any:
    import dlib

    return dlib.rectangle(int(round(box.x1)), int(round(box.y1)), int(round(box.x2)), int(round(box.y2)))


class DlibModels:
    """Lazily loaded dlib models, safe to share between threads of one process."""

    def __init__(self, *, jitters: int = 0) -> None:
        self.jitters = jitters
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}

    @classmethod
    @cache
    def shared(cls) -> DlibModels:
        """One instance per process, so each model file is loaded at most once."""
        return cls()

    def _get(self, name: str) -> Any:
        with self._lock:
            if name not in self._loaded:
                try:
                    import dlib
                except ImportError:
                    raise ModelError("dlib is not installed: pip install dlib-bin") from None
                path = str(models_dir() / name)
                _file_version(name)  # a clear error if the file is missing
                loader = dlib.face_recognition_model_v1 if name == RESNET else dlib.shape_predictor
                self._loaded[name] = loader(path)
            return self._loaded[name]

    @property
    def embedder_info(self) -> ModelInfo:
        return ModelInfo("dlib-resnet-v1", f"{_file_version(RESNET)}+align5")

    def landmark_info(self, points: int) -> ModelInfo:
        name = PREDICTOR_68 if points == 68 else PREDICTOR_5
        return ModelInfo(f"dlib-shape-predictor-{points}", _file_version(name))

    def _shape(self, rgb: np.ndarray, box: BBox, name: str) -> Any:
        return self._get(name)(np.ascontiguousarray(rgb), _rect(box))

    def landmarks5(self, rgb: np.ndarray, box: BBox) -> np.ndarray:
        shape = self._shape(rgb, box, PREDICTOR_5)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def landmarks68(self, rgb: np.ndarray, box: BBox) -> np.ndarray:
        shape = self._shape(rgb, box, PREDICTOR_68)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def embed(self, rgb: np.ndarray, box: BBox) -> np.ndarray:
        """The 128-D descriptor of the face in ``box``, aligned on the 5-point landmarks."""
        shape = self._shape(rgb, box, PREDICTOR_5)
        vector = self._get(RESNET).compute_face_descriptor(np.ascontiguousarray(rgb), shape, self.jitters)
        return np.asarray(vector, dtype=np.float32)
