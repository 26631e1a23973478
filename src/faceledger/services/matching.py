"""Comparing faces: one-off ``compare`` of two image files, and ``search`` of the ledger with
a selfie.

Example::

    compare_files(Path("a.jpg"), Path("b.jpg"), settings)
    # {"distance": 0.41, "threshold": 0.6, "same_person": True, "faces_a": 1, "faces_b": 1}
    search_by_selfie(ledger, vault, settings, Path("me.jpg"), consent_given=True)

Both use the largest face of each image, the same detector as ``scan`` and the same embedder
as ``extract``. ``compare`` touches no ledger and stores nothing. A selfie search computes a
template under purpose ``match-optout``, searches the stored templates, and discards the
selfie's template; the audit log records its creation and discarding, and the search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from faceledger.config import Settings
from faceledger.core.faces import BBox
from faceledger.errors import FaceledgerError, ImageError
from faceledger.services.templates import load_index
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.schema import Face, Photo
from faceledger.store.vault import KeyVault
from faceledger.vision.centerface import CenterFace
from faceledger.vision.detector import detect_image
from faceledger.vision.dlib_models import DlibModels

MATCH_PURPOSE = "match-optout"
MAX_RESULTS = 10


class NoFaceError(FaceledgerError):
    """An image given for comparison has no detectable face."""

    exit_code = 3


class ConsentRequired(FaceledgerError):
    """A selfie search needs the searching person's explicit consent."""


@dataclass(frozen=True)
class Probe:
    """The largest face of an image, embedded (held in memory only)."""

    vector: np.ndarray
    faces: int


def embed_largest_face(
    path: Path | bytes, settings: Settings, *, detector: CenterFace | None = None,
    models: DlibModels | None = None,
) -> Probe:  # fmt: skip
    """Detect faces in ``path`` and embed the largest; NoFaceError if there is none.

    ``path`` may be the image's bytes (a portal upload kept in memory, never on disk).
    """
    name = "the uploaded image" if isinstance(path, bytes) else str(path)
    detector = detector or CenterFace.shared(threshold=settings.detector_threshold)
    try:
        found = detect_image(
            path, detector, max_pixels=settings.max_image_pixels, max_side=settings.detect_max_side
        )
    except ImageError as exc:
        raise NoFaceError(f"{exc}") from None
    if not found.faces:
        raise NoFaceError(f"{name}: no face found (detector threshold {settings.detector_threshold})")
    largest = max(found.faces, key=lambda face: face.box.area).box
    rgb = found.image.rgb
    sx, sy = rgb.shape[1] / found.width, rgb.shape[0] / found.height
    working = BBox(largest.x1 * sx, largest.y1 * sy, largest.x2 * sx, largest.y2 * sy)
    vector = (models or DlibModels.shared()).embed(rgb, working)
    return Probe(vector=vector, faces=len(found.faces))


def compare_files(a: Path, b: Path, settings: Settings) -> dict[str, Any]:
    """The ``compare --json`` contract (ARCHITECTURE.md)."""
    first = embed_largest_face(a, settings)
    second = embed_largest_face(b, settings)
    distance = float(np.linalg.norm(first.vector - second.vector))
    return {
        "distance": round(distance, 4),
        "threshold": settings.match_threshold,
        "same_person": distance <= settings.match_threshold,
        "faces_a": first.faces,
        "faces_b": second.faces,
    }


def search_by_selfie(
    ledger: Ledger,
    vault: KeyVault,
    settings: Settings,
    selfie: Path | bytes,
    *,
    consent_given: bool,
    actor: str = "cli",
    k: int = 5,
) -> list[dict[str, Any]]:
    """Stored faces within ``match_threshold`` of the selfie's largest face, nearest first.

    ``selfie`` is a file or the image's bytes (held in memory only). At most ``k`` results
    (never more than :data:`MAX_RESULTS`), every one within ``match_threshold``.
    """
    if not consent_given:
        raise ConsentRequired(
            "a selfie search computes a biometric template of the person searching: record their "
            "explicit consent for purpose 'match-optout' first (--consent-given)"
        )
    probe = embed_largest_face(selfie, settings)
    info = DlibModels.shared().embedder_info
    with ledger.begin() as conn:
        append(
            conn,
            AuditRecord(
                name="template.transient", actor=actor, object_type="selfie", object_id=None,
                payload={"purpose": MATCH_PURPOSE, "model": f"{info.name} {info.version}",
                         "stored": False, "step": "created"},
            ),  # fmt: skip
        )
    try:
        index = load_index(ledger, vault, model_version=info.version, actor=actor, reason=MATCH_PURPOSE)
        matches = index.search(probe.vector, k=min(k, MAX_RESULTS), max_distance=settings.match_threshold)
    finally:
        probe.vector.fill(0.0)  # discard: the selfie's template never leaves this frame
        with ledger.begin() as conn:
            append(
                conn,
                AuditRecord(
                    name="template.transient", actor=actor, object_type="selfie", object_id=None,
                    payload={"purpose": MATCH_PURPOSE, "stored": False, "step": "discarded"},
                ),  # fmt: skip
            )
    results = _describe(ledger, matches)
    with ledger.begin() as conn:
        append(
            conn,
            AuditRecord(
                name="match.search", actor=actor, object_type="selfie", object_id=None,
                payload={"purpose": MATCH_PURPOSE, "threshold": settings.match_threshold,
                         "returned": len(results)},
            ),  # fmt: skip
        )
    return results


def _describe(ledger: Ledger, matches: list[Any]) -> list[dict[str, Any]]:
    if not matches:
        return []
    faces, photos = Face.__table__, Photo.__table__
    ids = [m.face_id for m in matches]
    with ledger.read() as conn:
        rows = {
            row.id: row
            for row in conn.execute(
                select(faces.c.id, faces.c.photo_id, photos.c.external_id, photos.c.page_url, photos.c.path)
                .join(photos, photos.c.id == faces.c.photo_id)
                .where(faces.c.id.in_(ids))
            )
        }
    return [
        {
            "face_id": m.face_id,
            "subject_id": m.subject_id,
            "distance": round(m.distance, 4),
            "photo_id": rows[m.face_id].photo_id,
            "photo": rows[m.face_id].external_id or rows[m.face_id].path,
            "page_url": rows[m.face_id].page_url,
        }
        for m in matches
    ]
