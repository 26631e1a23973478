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

from faceledger.core.faces import BBox, Similarity, fit_similarity
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


#: dlib's face chip: 150x150 px, 25% padding (what ``compute_face_descriptor`` expects).
CHIP_SIZE = 150
CHIP_PADDING = 0.25
#: Where CenterFace's five points (eyes, nose tip, mouth corners; image-left first) fall on
#: dlib's chip when dlib's own 5-point model aligns the face: the mean over the 15 LFW images
#: of shared/data/lfw_verification that no pair uses (bench/verify.py fits it).
CENTERFACE_CHIP_TEMPLATE = np.array(
    [[46.51, 47.36], [102.53, 46.04], [72.54, 79.93], [51.16, 106.10], [98.27, 104.74]],
    dtype=np.float64,
)


def chip_transform(shape: Any) -> Similarity:
    """Image -> chip pixels of the chip dlib cuts for ``shape`` (a full_object_detection)."""
    import dlib

    details = dlib.get_face_chip_details(shape, CHIP_SIZE, CHIP_PADDING)
    rect, angle = details.rect, details.angle
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    scale = (rect.right() - rect.left()) / (CHIP_SIZE - 1)
    c, s = np.cos(angle), np.sin(angle)
    to_image = Similarity(scale * np.array([[c, -s], [s, c]]), np.zeros(2))
    half = (CHIP_SIZE - 1) / 2
    to_image = Similarity(to_image.matrix, centre - to_image.matrix @ np.array([half, half]))
    return to_image.inverse()


def chip_from_landmarks(
    rgb: np.ndarray, landmarks: np.ndarray, template: np.ndarray | None = None
) -> np.ndarray:
    """dlib's 150x150 chip cut by a similarity fitted from CenterFace's five points to
    :data:`CENTERFACE_CHIP_TEMPLATE` (no shape predictor runs)."""
    from PIL import Image

    points = CENTERFACE_CHIP_TEMPLATE if template is None else template
    to_image = fit_similarity(points, np.asarray(landmarks, dtype=np.float64))
    m, t = to_image.matrix, to_image.offset
    coefficients = (m[0, 0], m[0, 1], t[0], m[1, 0], m[1, 1], t[1])
    chip = Image.fromarray(np.ascontiguousarray(rgb)).transform(
        (CHIP_SIZE, CHIP_SIZE), Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR
    )
    return np.ascontiguousarray(np.asarray(chip, dtype=np.uint8))


def _rect(box: BBox) -> Any:
    import dlib

    return dlib.rectangle(
        int(round(box.x1)), int(round(box.y1)), int(round(box.x2)), int(round(box.y2))
    )


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
        vector = self._get(RESNET).compute_face_descriptor(
            np.ascontiguousarray(rgb), shape, self.jitters
        )
        return np.asarray(vector, dtype=np.float32)


#: The embedders a deployment can choose (setting ``embedder``): name -> alignment. Every
#: template records its embedder's name and version, and templates are only ever compared
#: within one version (services/templates.load_index, extract's clustering, search).
EMBEDDERS = {
    "sface-2021dec": "sface",  # CenterFace's 5 points -> ArcFace 112x112 chip -> SFace (the default)
    "dlib-resnet-v1": "align5",  # CenterFace box -> dlib 5-point -> dlib chip
    "dlib-resnet-v1-cf5": "cf5chip",  # CenterFace's own 5 points -> the same chip, no predictor
}
DEFAULT_EMBEDDER = "sface-2021dec"


@dataclass(frozen=True)
class Thresholds:
    """An embedder's operating points, as L2 distances between its vectors: ``match`` (same
    person: compare, search, evaluate) and ``cluster`` (a new face joins a subject; stricter)."""

    match: float
    cluster: float


#: Each embedder's own thresholds, used where the settings ``match_threshold`` /
#: ``cluster_threshold`` are unset. dlib: its published 0.6 and a stricter 0.5. SFace (unit
#: vectors, L2 = sqrt(2 - 2 cos)): match 1.095 = cos 0.40, the midpoint between the hardest
#: same-person (cos 0.464, L2 1.030) and different-person (cos 0.364, L2 1.128) pairs of all
#: 6216 pairs of the shared LFW split; cluster 1.0 = cos 0.50, no different-person pair of the
#: split within it, clean or degraded (nearest 1.049), and 97.6% of same-person pairs
#: (dlib at 0.5: 82.1%, 3 different pairs). Tuned on the shared split (docs/biometrics.md).
EMBEDDER_THRESHOLDS = {
    "sface-2021dec": Thresholds(match=1.095, cluster=1.0),
    "dlib-resnet-v1": Thresholds(match=0.6, cluster=0.5),
    "dlib-resnet-v1-cf5": Thresholds(match=0.6, cluster=0.5),
}


def thresholds_for(settings: Any, *, embedder: Any = None) -> Thresholds:
    """The one place the thresholds are resolved: ``match_threshold`` / ``cluster_threshold``
    where set, else the own (:data:`EMBEDDER_THRESHOLDS`) of the embedder in use.

    That embedder is ``embedder`` when a caller injected one (its ``name``, as
    :class:`Embedder` has it), else the one the setting ``embedder`` names: vectors of one
    embedder are never judged by another's distances.
    """
    name = getattr(embedder, "name", None) or getattr(settings, "embedder", DEFAULT_EMBEDDER)
    if name not in EMBEDDER_THRESHOLDS:
        raise ModelError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDERS)}")
    own = EMBEDDER_THRESHOLDS[name]
    match = getattr(settings, "match_threshold", None)
    cluster = getattr(settings, "cluster_threshold", None)
    return Thresholds(
        match=own.match if match is None else float(match),
        cluster=own.cluster if cluster is None else float(cluster),
    )


class Embedder:
    """The embedder named by the setting ``embedder``: ``embed`` gives its 128-D vector."""

    def __init__(self, name: str, models: DlibModels) -> None:
        if name not in EMBEDDERS:
            raise ModelError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDERS)}")
        self.name = name
        self.alignment = EMBEDDERS[name]
        self.dlib = models

    @property
    def info(self) -> ModelInfo:
        if self.alignment == "sface":
            from faceledger.vision.sface import SFace

            sface = SFace.shared().info
            return ModelInfo(sface.name, sface.version)
        base = self.dlib.embedder_info
        if self.alignment == "align5":
            return base
        return ModelInfo(base.name, base.version.replace("+align5", f"+{self.alignment}"))

    def info_dict(self) -> dict[str, str]:
        info = self.info
        return {"name": info.name, "version": info.version, "setting": self.name}

    def embed(
        self, rgb: np.ndarray, box: BBox, *, landmarks: np.ndarray | None = None
    ) -> np.ndarray:
        """The face's vector; ``landmarks`` (CenterFace's 5, working pixels) are needed by
        ``sface-2021dec`` and ``dlib-resnet-v1-cf5`` and ignored by ``dlib-resnet-v1``."""
        if self.alignment == "align5":
            return self.dlib.embed(rgb, box)
        if landmarks is None:
            raise ModelError(f"embedder {self.name} aligns on the detector's landmarks: none given")
        if self.alignment == "sface":
            from faceledger.vision.sface import SFace

            return SFace.shared().embed(rgb, landmarks)
        chip = chip_from_landmarks(rgb, landmarks)
        vector = self.dlib._get(RESNET).compute_face_descriptor(chip, self.dlib.jitters)
        return np.asarray(vector, dtype=np.float32)


def embedder_for(settings: Any) -> Embedder:
    """The embedder of ``settings.embedder`` (default ``sface-2021dec``), models shared."""
    return Embedder(getattr(settings, "embedder", DEFAULT_EMBEDDER), DlibModels.shared())
