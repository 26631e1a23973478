"""Comparing faces: one-off ``compare`` of two image files, and ``search`` of the ledger with
a selfie.

Example::

    compare_files(Path("a.jpg"), Path("b.jpg"), settings)
    # {"distance": 0.78, "threshold": 1.095, "same_person": True, "faces_a": 1, "faces_b": 1, ...}
    search_by_selfie(ledger, vault, settings, Path("me.jpg"), consent_given=True)

Both use the largest face of each image, the same detector as ``scan`` and the same embedder
as ``extract`` (setting ``embedder``); a selfie is compared only with stored templates of that
embedder's version, and both documents name it (``embedder``, an added key). ``compare`` touches no ledger and stores nothing. A selfie search computes a
template under purpose ``match-optout``, searches the stored templates, and discards the
selfie's template; the audit log records its creation and discarding, and the search. The
stored templates are searched through this process's live index
(:mod:`faceledger.services.biometrics.template_index`): decrypted once, kept in step with the ledger and
the key vault before every search; approximate cells, exact distances.

Each takes an injected ``detector`` (:class:`faceledger.vision.Detector`) and ``embedder``;
by default the real ones of ``settings`` (:func:`~faceledger.vision.detector_for`,
:func:`~faceledger.vision.dlib_models.embedder_for`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, func, select

from faceledger.config import Settings
from faceledger.core.faces import BBox
from faceledger.errors import ConsentRequired, ImageError, NoFaceError
from faceledger.services.biometrics.template_index import shared_index
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.tables import DECISIONS, FACES, PHOTOS, SUBJECTS, TEMPLATES
from faceledger.store.vault import KeyVault
from faceledger.vision.detector import Detector, FaceModel, detect_image, detector_for
from faceledger.vision.dlib_models import Embedder, embedder_for
from faceledger.vision.dlib_models import thresholds_for as thresholds_for  # also the portal's

MATCH_PURPOSE = "match-optout"
MAX_RESULTS = 10
#: Most faces without a stored template a search embeds in memory (the rest: ``over-limit``).
TRANSIENT_LIMIT = 2_000
IDENTIFIER_HINT = (
    "Faces that could not be compared can still be found by the photo's account, URL or tag: "
    "search by identifier (faceledger request new --owner/--photo/--url, or the portal's search)."
)


@dataclass(frozen=True)
class Probe:
    """The largest face of an image, embedded (held in memory only)."""

    vector: np.ndarray
    faces: int


def embed_largest_face(
    path: Path | bytes, settings: Settings, *, detector: Detector | FaceModel | None = None,
    embedder: Embedder | None = None,
) -> Probe:  # fmt: skip
    """Detect faces in ``path`` and embed the largest; NoFaceError if there is none.

    ``path`` may be the image's bytes (a portal upload kept in memory, never on disk).
    """
    name = "the uploaded image" if isinstance(path, bytes) else str(path)
    detector = detector or detector_for(settings)
    try:
        found = detect_image(
            path, detector, max_pixels=settings.max_image_pixels, max_side=settings.detect_max_side
        )
    except ImageError as exc:
        raise NoFaceError(f"{exc}") from None
    if not found.faces:
        raise NoFaceError(
            f"{name}: no face found (detector threshold {settings.detector_threshold})"
        )
    face = max(found.faces, key=lambda f: f.box.area)
    image = found.image
    working = image.to_working(face.box)
    points = image.points_to_working(face.landmarks)
    vector = (embedder or embedder_for(settings)).embed(image.rgb, working, landmarks=points)
    return Probe(vector=vector, faces=len(found.faces))


def compare_files(
    a: Path, b: Path, settings: Settings, *, detector: Detector | FaceModel | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The ``compare --json`` contract (ARCHITECTURE.md), plus ``embedder`` (added): the
    setting's name and the exact version both faces were embedded with."""
    embedder = embedder or embedder_for(settings)
    detector = detector or detector_for(settings)
    first = embed_largest_face(a, settings, detector=detector, embedder=embedder)
    second = embed_largest_face(b, settings, detector=detector, embedder=embedder)
    distance = float(np.linalg.norm(first.vector - second.vector))
    threshold = thresholds_for(settings, embedder=embedder).match  # its own, unless set
    return {
        "distance": round(distance, 4),
        "threshold": threshold,
        "same_person": distance <= threshold,
        "faces_a": first.faces,
        "faces_b": second.faces,
        "embedder": embedder.info_dict(),
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
    detector: Detector | FaceModel | None = None,
    embedder: Embedder | None = None,
) -> list[dict[str, Any]]:
    """Faces within ``match_threshold`` of the selfie's largest face, nearest first (the
    matches of :func:`search_selfie`; at most ``k``, never more than :data:`MAX_RESULTS`)."""
    return search_selfie(ledger, vault, settings, selfie, consent_given=consent_given, actor=actor, k=k,
                         detector=detector, embedder=embedder).matches  # fmt: skip


@dataclass
class SelfieAnswer:
    """What a selfie search searched, and what it found (``search --face --json``; add keys,
    never rename). ``not_compared`` counts faces by why they could not be compared:
    ``blocked-by-law`` (the match-optout decision blocks it), ``not-assessed`` (no template and
    no match-optout decision: fail closed), ``no-image`` (allowed, but no readable local
    image or no embeddable face), ``over-limit`` (allowed, beyond ``transient_limit``)."""

    matches: list[dict[str, Any]]
    threshold: float
    embedder: dict[str, str] = field(default_factory=dict)  # setting, name, version searched
    faces: int = 0
    compared: int = 0
    compared_stored: int = 0
    compared_transient: int = 0
    not_compared: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "matches": self.matches, "threshold": self.threshold, "faces": self.faces,
            "compared": self.compared, "compared_stored": self.compared_stored,
            "compared_transient": self.compared_transient,
            "not_compared": sum(self.not_compared.values()), "not_compared_by_reason": dict(self.not_compared),
            "identifier_search": IDENTIFIER_HINT, "embedder": self.embedder,
        }  # fmt: skip


def search_selfie(
    ledger: Ledger,
    vault: KeyVault,
    settings: Settings,
    selfie: Path | bytes,
    *,
    consent_given: bool,
    actor: str = "cli",
    k: int = 5,
    transient_limit: int = TRANSIENT_LIMIT,
    detector: Detector | FaceModel | None = None,
    embedder: Embedder | None = None,
) -> SelfieAnswer:
    """Compare the selfie with every face the law lets us compare, and say what was searched.

    Stored templates are searched as they are. A face without one is compared only where its
    recorded decision for ``match-optout`` (purpose and action ``match-optout``:
    ``faceledger assess --purpose match-optout --action match-optout``) allows it: its template
    is computed in memory from the local image, compared, and zeroed; never stored (audited
    ``match.transient``, counts only). Every other face is counted in ``not_compared`` by
    reason. ``selfie`` is a file or the image's bytes (held in memory only).
    """
    if not consent_given:
        raise ConsentRequired(
            "a selfie search computes a biometric template of the person searching: record their "
            "explicit consent for purpose 'match-optout' first (--consent-given)"
        )
    models = embedder or embedder_for(
        settings
    )  # the selfie meets only templates of this very version
    info = models.info
    probe = embed_largest_face(selfie, settings, detector=detector, embedder=models)
    with ledger.begin() as conn:
        append(
            conn,
            AuditRecord(
                name="template.transient",
                actor=actor,
                object_type="selfie",
                object_id=None,
                payload={
                    "purpose": MATCH_PURPOSE,
                    "model": f"{info.name} {info.version}",
                    "stored": False,
                    "step": "created",
                },
            ),  # fmt: skip
        )
    k = min(k, MAX_RESULTS)
    threshold = thresholds_for(settings, embedder=models).match
    answer = SelfieAnswer(matches=[], threshold=threshold, embedder=models.info_dict())
    try:
        index = shared_index(
            ledger, vault, model_version=info.version
        )  # kept in step before searching
        hits = index.search(
            probe.vector, k=k, max_distance=threshold, actor=actor, reason=MATCH_PURPOSE
        )
        found: list[tuple[float, int, int | None]] = [
            (m.distance, m.face_id, m.subject_id) for m in hits
        ]
        answer.compared_stored = len(index)
        census = _census(ledger, info.version, transient_limit)
        answer.faces = census.faces
        answer.not_compared = dict(census.not_compared)
        if census.allowed:
            transient, failed = _compare_transient(census.allowed, probe.vector, models, settings)
            answer.compared_transient = len(census.allowed) - failed
            if failed:
                answer.not_compared["no-image"] = answer.not_compared.get("no-image", 0) + failed
            found.extend(transient)
            with ledger.begin() as conn:
                append(conn, AuditRecord(
                    name="match.transient", actor=actor, object_type="faces", object_id=None,
                    payload={"purpose": MATCH_PURPOSE, "model": f"{info.name} {info.version}",
                             "computed": answer.compared_transient, "failed": failed, "stored": False},
                ))  # fmt: skip
    finally:
        probe.vector.fill(0.0)  # discard: the selfie's template never leaves this frame
        with ledger.begin() as conn:
            append(
                conn,
                AuditRecord(
                    name="template.transient",
                    actor=actor,
                    object_type="selfie",
                    object_id=None,
                    payload={"purpose": MATCH_PURPOSE, "stored": False, "step": "discarded"},
                ),  # fmt: skip
            )
    answer.compared = answer.compared_stored + answer.compared_transient
    nearest = sorted(found)[:k]
    answer.matches = _describe(ledger, nearest)
    with ledger.begin() as conn:
        append(
            conn,
            AuditRecord(
                name="match.search",
                actor=actor,
                object_type="selfie",
                object_id=None,
                payload={
                    "purpose": MATCH_PURPOSE,
                    "threshold": threshold,
                    "model": f"{info.name} {info.version}",
                    "returned": len(answer.matches),
                    "compared": answer.compared,
                    "not_compared": dict(answer.not_compared),
                },
            ),  # fmt: skip
        )
    return answer


@dataclass
class _Census:
    faces: int
    not_compared: dict[str, int]
    allowed: list[Any]  # rows to compare in memory: face id, box, photo path


def _census(ledger: Ledger, model_version: str, limit: int) -> _Census:
    """The searchable faces without a readable stored template, by match-optout decision."""
    faces, photos, templates, subjects, decisions = FACES, PHOTOS, TEMPLATES, SUBJECTS, DECISIONS
    stored = (
        select(templates.c.id)
        .join(subjects, subjects.c.id == templates.c.subject_id)
        .where(templates.c.face_id == faces.c.id, templates.c.kind == "embedding",
               templates.c.model_version == model_version, subjects.c.status == "active")
        .exists()
    )  # fmt: skip
    joined = faces.join(photos, photos.c.id == faces.c.photo_id).outerjoin(
        decisions, and_(decisions.c.face_id == faces.c.id, decisions.c.purpose == MATCH_PURPOSE,
                        decisions.c.action == MATCH_PURPOSE),
    )  # fmt: skip
    searchable = and_(faces.c.excluded_request_id.is_(None), photos.c.excluded_request_id.is_(None))
    with ledger.read() as conn:
        total = int(conn.execute(select(func.count()).select_from(faces.join(photos, photos.c.id == faces.c.photo_id))
                                 .where(searchable)).scalar_one())  # fmt: skip
        by_decision: dict[str | None, int] = dict(conn.execute(
            select(decisions.c.decision, func.count()).select_from(joined)
            .where(searchable, ~stored).group_by(decisions.c.decision)
        ).all())  # fmt: skip
        allowed = conn.execute(
            select(faces.c.id, faces.c.x1, faces.c.y1, faces.c.x2, faces.c.y2, faces.c.landmarks, photos.c.path)
            .select_from(joined).where(searchable, ~stored, decisions.c.decision == "allow")
            .order_by(photos.c.id, faces.c.id).limit(limit + 1)
        ).all()  # fmt: skip
    not_compared: dict[str, int] = {}
    for decision, count in by_decision.items():
        if decision == "allow":
            continue
        reason = "blocked-by-law" if decision == "block" else "not-assessed"
        not_compared[reason] = not_compared.get(reason, 0) + int(count)
    over = int(by_decision.get("allow", 0)) - min(len(allowed), limit)
    if over > 0:
        not_compared["over-limit"] = over
    return _Census(total, not_compared, list(allowed[:limit]))


def _compare_transient(
    rows: list[Any], probe: np.ndarray, models: Embedder, settings: Settings
) -> tuple[list[tuple[float, int, int | None]], int]:
    """``(matches, failed)``: each row's face embedded in memory, compared, zeroed."""
    from faceledger.vision.images import load_image

    threshold = thresholds_for(settings, embedder=models).match
    found: list[tuple[float, int, int | None]] = []
    failed = 0
    by_path: dict[str, list[Any]] = {}
    for row in rows:
        by_path.setdefault(row.path or "", []).append(row)
    for path, group in by_path.items():
        if not path:
            failed += len(group)
            continue
        try:
            image = load_image(
                Path(path), max_pixels=settings.max_image_pixels, max_side=settings.detect_max_side
            )
        except ImageError:
            failed += len(group)
            continue
        for row in group:
            try:
                box = image.to_working(BBox(row.x1, row.y1, row.x2, row.y2))
                points = image.points_to_working(row.landmarks) if row.landmarks else None
                vector = models.embed(image.rgb, box, landmarks=points)
            except ValueError:
                failed += 1
                continue
            distance = float(np.linalg.norm(vector - probe))
            vector.fill(0.0)  # in memory only, never stored
            if distance <= threshold:
                found.append((distance, int(row.id), None))
    return found, failed


def _describe(ledger: Ledger, matches: list[tuple[float, int, int | None]]) -> list[dict[str, Any]]:
    if not matches:
        return []
    faces, photos = FACES, PHOTOS
    ids = [face_id for _, face_id, _ in matches]
    with ledger.read() as conn:
        rows = {
            row.id: row
            for row in conn.execute(
                select(
                    faces.c.id,
                    faces.c.photo_id,
                    photos.c.external_id,
                    photos.c.page_url,
                    photos.c.path,
                )
                .join(photos, photos.c.id == faces.c.photo_id)
                .where(faces.c.id.in_(ids))
            )
        }
    return [
        {
            "face_id": face_id,
            "subject_id": subject_id,
            "distance": round(distance, 4),
            "photo_id": rows[face_id].photo_id,
            "photo": rows[face_id].external_id or rows[face_id].path,
            "page_url": rows[face_id].page_url,
        }
        for distance, face_id, subject_id in matches
        if face_id in rows
    ]
