"""Model and image adapters behind small protocols: safe image decoding and face detection.

Models load lazily into long-lived objects, never at import.
"""

from faceledger.vision.detector import Detector, detect_image

__all__ = ["Detector", "detect_image"]
