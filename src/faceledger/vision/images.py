"""Decoding untrusted images safely into RGB pixels in their displayed orientation.

Example::

    image = load_image(Path("photo.jpg"), max_pixels=120_000_000, max_side=1600)
    image.rgb.shape   # (h, w, 3) uint8, at most 1600 px on the longer side
    image.scale       # original displayed pixels per working pixel (>= 1.0)
    image.to_original(box)            # a box found in ``image.rgb`` -> original displayed pixels
    image.to_working(stored_box)      # and back, to crop or embed a stored face from ``image.rgb``

The scaling between working and original pixels lives only here (:meth:`LoadedImage.to_original`,
:meth:`LoadedImage.to_working` and their ``points_`` twins for landmarks), per axis: the
working size is rounded, so x and y scale by very slightly different factors.

Every failure is an :class:`ImageError` with a stable ``reason`` code:
``empty``, ``not-an-image``, ``truncated``, ``too-large`` (decompression bomb),
``unreadable`` (anything else the decoder refuses).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceledger.core.faces import BBox
from faceledger.errors import ImageError

_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class LoadedImage:
    """Pixels ready for detection plus the original image's displayed size."""

    rgb: np.ndarray  # (h, w, 3) uint8, displayed orientation, possibly downscaled
    width: int  # original displayed width
    height: int  # original displayed height
    format: str | None  # what the bytes really are (JPEG, PNG...), whatever the file name says
    mode: str  # the original pixel mode (RGB, CMYK, I;16, P...)

    @property
    def scale(self) -> float:
        """Original pixels per working pixel along x (boxes are multiplied by this)."""
        return float(self.width / self.rgb.shape[1])

    @property
    def _factors(self) -> tuple[float, float]:
        """Original pixels per working pixel along x and along y."""
        return self.width / self.rgb.shape[1], self.height / self.rgb.shape[0]

    def to_original(self, box: BBox) -> BBox:
        """A box in working pixels (``rgb``) -> original displayed pixels, inside the image."""
        sx, sy = self._factors
        return BBox(box.x1 * sx, box.y1 * sy, box.x2 * sx, box.y2 * sy).clipped(
            self.width, self.height
        )

    def to_working(self, box: BBox) -> BBox:
        """A box in original displayed pixels (as the ledger stores it) -> working pixels."""
        sx, sy = self._factors
        return BBox(box.x1 / sx, box.y1 / sy, box.x2 / sx, box.y2 / sy)

    def points_to_original(self, points: Any) -> np.ndarray:
        """``(n, 2)`` points (landmarks) in working pixels -> original displayed pixels."""
        return np.asarray(np.asarray(points, dtype=np.float64) * np.array(self._factors))

    def points_to_working(self, points: Any) -> np.ndarray:
        """``(n, 2)`` points in original displayed pixels -> working pixels."""
        return np.asarray(np.asarray(points, dtype=np.float64) / np.array(self._factors))


def load_image(path: Path | bytes, *, max_pixels: int, max_side: int | None = None) -> LoadedImage:
    """Decode ``path`` (see module docs). Never mutates the file; never returns partial data.

    ``path`` may also be the image's bytes (an upload held in memory, never written to disk);
    messages then name it "the uploaded image".
    """
    source: Path | io.BytesIO
    if isinstance(path, bytes):
        size, source = len(path), io.BytesIO(path)
        path = Path("the uploaded image")
    else:
        source = path
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageError("unreadable", f"cannot open {path}: {exc.strerror}") from None
    if size == 0:
        raise ImageError("empty", f"{path} is an empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(source) as im:
                return _decode(im, path, max_pixels=max_pixels, max_side=max_side)
        except Image.DecompressionBombError:
            raise ImageError("too-large", f"{path} exceeds the decoder's pixel limit") from None
        except UnidentifiedImageError:
            raise ImageError(
                "not-an-image", f"{path} is not an image faceledger can decode"
            ) from None
        except ImageError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            text = str(exc)
            if "truncated" in text or "broken data stream" in text or "image file is" in text:
                raise ImageError("truncated", f"{path} is truncated or corrupt: {text}") from None
            raise ImageError("unreadable", f"{path} could not be decoded: {text}") from None


def _decode(im: Image.Image, path: Path, *, max_pixels: int, max_side: int | None) -> LoadedImage:
    width, height = im.size
    if width * height > max_pixels:
        raise ImageError(
            "too-large",
            f"{path} has {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (setting max_image_pixels); refused as a possible decompression bomb",
        )
    fmt, mode = im.format, im.mode
    orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    if max_side and fmt == "JPEG" and max(width, height) > 2 * max_side:
        im.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale: much faster
    im.load()
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block: keep the stored orientation  # noqa: BLE001
        if orientation in _SWAPPING_ORIENTATIONS:
            width, height = height, width
    rgb = _to_rgb(im)
    if max_side and max(rgb.shape[:2]) > max_side:
        factor = max_side / max(rgb.shape[:2])
        new_size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
        rgb = np.asarray(Image.fromarray(rgb).resize(new_size, Image.Resampling.BILINEAR))
    return LoadedImage(rgb=rgb, width=width, height=height, format=fmt, mode=mode)


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (h, w, 3) uint8 RGB; alpha is composited on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(im, dtype=np.float64)
        top = values.max() if values.size else 0.0
        low = values.min() if values.size else 0.0
        span = top - low if top > low else 1.0
        gray = ((values - low) * (255.0 / span)).clip(0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)
