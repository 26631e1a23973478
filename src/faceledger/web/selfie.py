"""Bounding what one selfie request may cost: pixels, requests in flight, memory kept.

A small file can hold a huge image (a 130 KB PNG of 6300 x 6300 pixels decodes to 120 MB of
RGB, and 600-800 MB on the way). So, before the search sees it, an upload is

- measured from its header only (no pixels decoded) and refused (413) when it would not fit
  ``web_selfie_max_pixels`` at working size: a JPEG may be up to 64 times larger, because it
  is decoded at 1/2, 1/4 or 1/8 scale (JPEG draft mode); a PNG cannot be decoded at reduced
  size, so it must fit as it is;
- decoded at that reduced size, turned upright (EXIF orientation), scaled to the detector's
  working size (:data:`SELFIE_SIDE`, 800 px) and handed on as a small lossless PNG with no
  metadata;
- run under a :class:`SelfieGate`: at most ``web_selfie_concurrency`` at once, the rest get
  503 with ``Retry-After`` before their body is even read;
- followed by :func:`release_memory`, which gives freed heap back to the system (glibc keeps
  freed blocks of large decodes in its arenas otherwise, and the process stays grown).

Example::

    gate = SelfieGate(2)
    with gate.slot():                 # HTTPException(503) when both slots are taken
        small = shrink_selfie(data, max_pixels=2_000_000, max_raw_pixels=40_000_000)
        ...search(small)...
    release_memory()
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import io
import math
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from fastapi import HTTPException
from PIL import Image, ImageOps, UnidentifiedImageError

RETRY_AFTER = 5  # seconds: a selfie search takes about a second
#: The longer side a selfie is handed on at (the detector's working size). The detector's
#: buffers grow with the pixels it sees (about 350 MB at 800 x 533, 1 GB at 1500 x 1000,
#: measured), and a selfie's face is large: 800 px finds it and bounds what a search costs.
SELFIE_SIDE = 800
_DRAFT_SCALES = (1, 2, 4, 8)
_libc: ctypes.CDLL | None = None
_libc_checked = False


_T = TypeVar("_T")


class SelfieGate:
    """At most ``limit`` selfie requests at once in this process; the next one is refused.

    Their decoding and search run on threads of their own (``run``), not on the portal's few
    shared ones (``web_threads``): a search of seconds never holds up the searches by
    identifier that take milliseconds."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._threads = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="selfie")

    async def run(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``function(*args, **kwargs)`` on one of the selfie threads, awaited."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, partial(function, *args, **kwargs))

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise HTTPException(
                503, "the selfie search is busy: try again in a few seconds",
                headers={"Retry-After": str(RETRY_AFTER)},
            )  # fmt: skip
        try:
            yield
        finally:
            self._slots.release()


def _too_many(width: int, height: int, limit: int, hint: str) -> HTTPException:
    return HTTPException(
        413, f"the photo has too many pixels for a selfie ({width}x{height}); {hint} "
        f"(at most {limit:,} pixels)",
    )  # fmt: skip


def working_scale(width: int, height: int, fmt: str | None, *, max_pixels: int) -> int | None:
    """The JPEG draft scale (1, 2, 4 or 8) that brings ``width x height`` within
    ``max_pixels``; 1 for any other format that already fits; ``None`` when nothing fits."""
    scales = _DRAFT_SCALES if fmt == "JPEG" else (1,)
    for scale in scales:
        if math.ceil(width / scale) * math.ceil(height / scale) <= max_pixels:
            return scale
    return None


def shrink_selfie(
    data: bytes, *, max_pixels: int, max_raw_pixels: int, max_side: int = SELFIE_SIDE
) -> bytes:
    """The upload as an upright PNG of at most ``max_side`` px on its longer side, decoded at
    reduced size (never more than ``max_pixels``); HTTPException 413 (too many pixels) or 415
    (not a JPEG or PNG we can read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:  # reads the header only
                width, height = im.size
                if im.format not in ("JPEG", "PNG"):
                    raise HTTPException(415, "the photo must be a JPEG or PNG image")
                if width * height > max_raw_pixels:
                    raise _too_many(width, height, max_raw_pixels, "send a smaller photo")
                scale = working_scale(width, height, im.format, max_pixels=max_pixels)
                if scale is None:
                    hint = (
                        "send it as a JPEG or scaled down"
                        if im.format == "PNG"
                        else "send a smaller photo"
                    )
                    raise _too_many(width, height, max_pixels, hint)
                if scale > 1:
                    im.draft("RGB", (math.ceil(width / scale), math.ceil(height / scale)))
                im.load()
                if im.size[0] * im.size[1] > max_pixels:  # the decoder did not scale as asked
                    raise _too_many(width, height, max_pixels, "send a smaller photo")
                try:
                    upright = ImageOps.exif_transpose(im)
                except Exception:  # a broken EXIF block: keep the stored orientation  # noqa: BLE001
                    upright = im
                if upright.mode not in ("RGB", "L"):
                    upright = upright.convert("RGB")
                if max(upright.size) > max_side:
                    upright = ImageOps.contain(
                        upright, (max_side, max_side), Image.Resampling.BILINEAR
                    )
                out = io.BytesIO()
                upright.save(out, format="PNG", compress_level=1)
                return out.getvalue()
        except HTTPException:
            raise
        except Image.DecompressionBombError:
            raise HTTPException(413, "the photo has too many pixels for a selfie") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise HTTPException(415, "the photo could not be read as a JPEG or PNG image") from None


def release_memory() -> None:
    """Hand freed heap memory back to the operating system (glibc ``malloc_trim``; a no-op
    where there is no glibc)."""
    global _libc, _libc_checked
    if not _libc_checked:
        _libc_checked = True
        name = ctypes.util.find_library("c")
        try:
            candidate = ctypes.CDLL(name) if name else None
        except OSError:
            candidate = None
        _libc = candidate if candidate is not None and hasattr(candidate, "malloc_trim") else None
    if _libc is not None:
        _libc.malloc_trim(0)
