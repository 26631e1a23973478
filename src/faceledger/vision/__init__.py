"""Model and image adapters behind small protocols: safe image decoding and face detection.

Models load lazily into long-lived objects, never at import.
"""

from faceledger.vision.detector import (
    Detector,
    FaceModel,
    MultiscaleDetector,
    detect_image,
    detector_for,
)

__all__ = ["Detector", "FaceModel", "MultiscaleDetector", "detect_image", "detector_for"]
