"""Extract: biometric templates for the faces, and only the faces, whose decision allows it.

Example::

    report = extract_templates(ledger, vault, settings, purpose="train-face-recognition")
    report.extracted, report.refused   # refused: {"us-il-bipa 15(b): ...": 7, ...}

For each face whose recorded decision for ``(purpose, extract-template)`` is ``allow`` and
that has no embedding of the chosen embedder's version yet (setting ``embedder``), a worker
computes the 5-point landmarks, the 128-D embedding and the DiF measures (``core.dif``; the
68-point geometry only when ``landmark_model`` is ``68``). The driver clusters the face into a
subject, encrypts the templates under that subject's data key and stores them through
:func:`faceledger.services.biometrics.templates.store_face_templates`, which re-checks the allowing
decision in the writing transaction. Every other face is counted by the reason it was
refused; a face never assessed is refused too ("no decision recorded").

Embedder versions: clustering compares a face only with the embeddings of the same version
(``load_index(model_version=...)``). A subject is a person, not a model: a face that already
belongs to a subject (clustered under another embedder) keeps it, and its new embedding is
stored under that subject's key, so a claim, consent, opt-out or erasure of the person
reaches their templates of every model. Only a face without a subject is clustered, and only
against this version's embeddings. Its geometry template (the landmark model's, not the
embedder's) is written once.

The embedder is the setting's (each worker builds its own) unless the caller injects one:
``extract_templates(..., embedder=...)`` runs it in this process (the in-process engine).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, exists, func, select

from faceledger.config import Settings
from faceledger.core.faces import BBox
from faceledger.core.matching import ExactIndex
from faceledger.engines.local import Engine, InProcess, make_engine
from faceledger.errors import ImageError, TemplateRefused
from faceledger.services.biometrics.subjects import link_owners
from faceledger.services.biometrics.templates import (
    EMBEDDING,
    EXTRACT,
    GEOMETRY,
    SubjectRef,
    create_subject,
    load_index,
    store_face_templates,
)
from faceledger.services.progress import NoProgress, Progress
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.tables import (
    DECISIONS,
    DESTRUCTIONS,
    FACE_SUBJECTS,
    FACES,
    PHOTOS,
    SUBJECTS,
    TEMPLATES,
    outcome_tally,
)
from faceledger.store.vault import KeyVault
from faceledger.vision.dlib_models import (
    DlibModels,
    Embedder,
    ModelInfo,
    embedder_for,
    thresholds_for,
)

_FLUSH_EVERY = 32

#: One face to extract: (face id, decision id, box, the detector's 5 landmarks), original pixels.
WorkFace = tuple[int, int, tuple[float, float, float, float], list[list[float]] | None]


@dataclass(frozen=True)
class ExtractConfig:
    landmark_points: int
    max_pixels: int
    max_side: int
    embedder: str = "sface-2021dec"  # the setting's name (workers build their own Embedder)


@dataclass(frozen=True)
class FaceFeatures:
    """A worker's output for one face: plain bytes, nothing stored yet."""

    face_id: int
    decision_id: int
    embedding: bytes | None = None
    geometry: bytes | None = None
    error: str | None = None


NO_CLOCK = (
    "refused: no law in scope sets a destruction deadline for these templates (e.g. MHMDA) and "
    "no organisation retention limit is set: set retention_limit_days before extracting"
)


@dataclass
class ExtractReport:
    purpose: str
    extracted: int = 0
    already: int = 0
    new_subjects: int = 0
    refused_faces: int = 0  # faces that got no template because no decision allows one
    refused: Counter[str] = field(default_factory=Counter)  # reasons; a face may have several
    failed: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    embedder: dict[str, str] = field(default_factory=dict)  # setting, name, version written


# --- worker side ----------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def init_extract_worker(config: ExtractConfig) -> None:
    _worker["config"] = config
    _worker["embedder"] = Embedder(config.embedder, DlibModels.shared())


def extract_photo(
    item: tuple[str | bytes, list[WorkFace]],
) -> list[FaceFeatures]:
    """Landmarks, embedding and DiF measures for the listed faces of one photo, given by its
    path (read here) or its bytes (read by the driver, for workers that share no disk), with
    the embedder :func:`init_extract_worker` built in this process."""
    return extract_faces(item, _worker["embedder"], _worker["config"])


def extract_faces(
    item: tuple[str | bytes, list[WorkFace]], embedder: Embedder, config: ExtractConfig
) -> list[FaceFeatures]:
    """:func:`extract_photo` with the embedder given (an injected one, in the driver's process);
    the geometry comes from the embedder's own dlib landmark models."""
    from faceledger.core.dif import measure_face, measure_face_5
    from faceledger.vision.images import load_image

    source, faces = item
    models: DlibModels = embedder.dlib
    try:
        image = load_image(
            source if isinstance(source, bytes) else Path(source),
            max_pixels=config.max_pixels, max_side=config.max_side,
        )  # fmt: skip
    except ImageError as exc:
        return [
            FaceFeatures(face_id, decision_id, error=exc.reason)
            for face_id, decision_id, *_ in faces
        ]
    out = []
    for face_id, decision_id, (x1, y1, x2, y2), landmarks in faces:
        box = image.to_working(BBox(x1, y1, x2, y2))
        points = None if landmarks is None else image.points_to_working(landmarks)
        try:
            vector = embedder.embed(image.rgb, box, landmarks=points)
            if config.landmark_points == 68:
                work = models.landmarks68(image.rgb, box)
                measure: Any = measure_face
            else:
                work = models.landmarks5(image.rgb, box)
                measure = measure_face_5
            pixels = measure(work, image.rgb).to_dict()  # colour, contrast: scale-free
            original = image.points_to_original(work)
            shape = measure(original).to_dict()  # geometry in original pixels
            schemes = sorted(
                {*str(pixels["schemes"]).split(","), *str(shape["schemes"]).split(",")}, key=int
            )
            geometry = {
                "landmarks": np.round(original, 2).tolist(),
                "landmark_points": config.landmark_points,
                "measures": {**pixels, **shape, "schemes": ",".join(schemes)},
            }
        except ValueError as exc:  # degenerate landmarks: record, do not store half a face
            out.append(FaceFeatures(face_id, decision_id, error=f"unmeasurable: {exc}"))
            continue
        out.append(
            FaceFeatures(
                face_id,
                decision_id,
                vector.astype(np.float32).tobytes(),
                json.dumps(geometry, sort_keys=True).encode(),
            )  # fmt: skip
        )
    return out


# --- driver side ----------------------------------------------------------------------------


def with_bytes(
    work: list[tuple[str, list[WorkFace]]],
) -> Iterator[tuple[str | bytes, list[WorkFace]]]:
    """Each photo's bytes instead of its path, for workers that cannot read the driver's files
    (Ray); lazy, so only the photos in flight are held. A file the driver cannot read goes on
    as its path, and the worker reports it unreadable as the local engines do."""
    for path, faces in work:
        try:
            yield Path(path).read_bytes(), faces
        except OSError:
            yield path, faces


def _todo(
    ledger: Ledger, purpose: str, model_version: str, limit: int | None, *, clockless: bool = True
) -> Iterator[tuple[str, list[WorkFace]]]:
    """Photos with allowed, not yet extracted faces: (path, [(face, decision, box)]).
    ``clockless=False`` leaves out faces whose decision carries no legal destroy-by date."""
    # NOT EXISTS, never NOT IN (subquery): PostgreSQL runs the latter as a scan of the
    # subquery per row once it outgrows work_mem (at 1 M faces, minutes)
    done = exists().where(
        TEMPLATES.c.face_id == FACES.c.id, TEMPLATES.c.kind == EMBEDDING,
        TEMPLATES.c.model_version == model_version,
    )  # fmt: skip
    retired = exists().where(
        DESTRUCTIONS.c.face_id == FACES.c.id, DESTRUCTIONS.c.reason == "retention"
    )
    query = (
        select(
            PHOTOS.c.path,
            FACES.c.id,
            DECISIONS.c.id,
            FACES.c.x1,
            FACES.c.y1,
            FACES.c.x2,
            FACES.c.y2,
            FACES.c.landmarks,
        )
        .join(FACES, FACES.c.photo_id == PHOTOS.c.id)
        .join(DECISIONS, DECISIONS.c.face_id == FACES.c.id)
        .where(
            DECISIONS.c.purpose == purpose,
            DECISIONS.c.action == EXTRACT,
            DECISIONS.c.decision == "allow",
            ~done,
            PHOTOS.c.path.is_not(None),
            FACES.c.excluded_request_id.is_(None),
            PHOTOS.c.excluded_request_id.is_(None),
            ~retired,
        )
        .order_by(PHOTOS.c.id, FACES.c.id)
    )
    if not clockless:
        query = query.where(DECISIONS.c.destroy_by.is_not(None))
    with ledger.read() as conn:
        rows = conn.execute(query).all()
    groups: dict[str, list[WorkFace]] = {}
    for path, face_id, decision_id, x1, y1, x2, y2, landmarks in rows[: limit if limit else None]:
        points = [[float(x), float(y)] for x, y in landmarks] if landmarks else None
        groups.setdefault(path, []).append(
            (int(face_id), int(decision_id), (x1, y1, x2, y2), points)
        )
    yield from groups.items()


def refusal_counts(ledger: Ledger, purpose: str) -> tuple[Counter[str], int, int]:
    """Why faces get no template: reasons of blocked decisions (a face may have several),
    the number of blocked faces, and the number of faces never assessed."""
    reasons: Counter[str] = Counter()
    blocked = 0
    with ledger.read() as conn:
        for result, faces in conn.execute(outcome_tally(
            DECISIONS.c.purpose == purpose, DECISIONS.c.action == EXTRACT,
            DECISIONS.c.decision == "block",
        )):  # fmt: skip
            blocked += faces
            violations = [v for law in result.get("laws", []) for v in law.get("violations", [])]
            for law in result.get("laws", []):
                for violation in law.get("violations", []):
                    reasons[f"blocked: {law['id']} {violation['section']}"] += faces
            if not violations:
                reasons[
                    "blocked: " + "; ".join(result.get("reasons", ["no reason recorded"]))[:120]
                ] += faces
        assessed = exists().where(
            DECISIONS.c.face_id == FACES.c.id, DECISIONS.c.purpose == purpose,
            DECISIONS.c.action == EXTRACT,
        )  # fmt: skip
        unassessed = conn.execute(
            select(func.count())
            .select_from(FACES)
            .where(~assessed, FACES.c.excluded_request_id.is_(None))
        ).scalar_one()
    return reasons, blocked, int(unassessed)


def extract_templates(
    ledger: Ledger,
    vault: KeyVault,
    settings: Settings,
    *,
    purpose: str,
    actor: str = "cli",
    progress: Progress | None = None,
    limit: int | None = None,
    embedder: Embedder | None = None,
) -> ExtractReport:
    """Compute and store templates for every allowed face with the setting's embedder, or
    with ``embedder`` (in this process; see the module docs)."""
    progress = progress or NoProgress()
    started = time.monotonic()
    injected = embedder is not None
    chosen = embedder or embedder_for(settings)  # its name and version go on every template
    info = chosen.info
    cluster = thresholds_for(settings, embedder=chosen).cluster  # the embedder's own, unless set
    geometry_info = chosen.dlib.landmark_info(settings.landmark_model)
    report = ExtractReport(purpose=purpose, embedder=chosen.info_dict())
    refused, blocked, unassessed = refusal_counts(ledger, purpose)
    report.refused.update(refused)
    report.refused_faces = blocked + unassessed
    if unassessed:
        report.refused["refused: no decision recorded for this purpose (run faceledger assess)"] = (
            unassessed
        )
    with ledger.read() as conn:
        report.already = int(
            conn.execute(
                select(func.count())
                .select_from(TEMPLATES)
                .where(
                    and_(TEMPLATES.c.kind == EMBEDDING, TEMPLATES.c.model_version == info.version)
                )
            ).scalar_one()
        )
    # A template no law gives a destruction deadline (MHMDA sets none) is kept for the
    # organisation's own retention limit; without that setting it is not computed (fail closed).
    clockless = settings.retention_limit_days is not None
    work = list(_todo(ledger, purpose, info.version, limit, clockless=clockless))
    if not clockless:
        unclocked = sum(len(f) for _, f in _todo(ledger, purpose, info.version, limit)) - sum(
            len(f) for _, f in work
        )
        if unclocked:
            report.refused[NO_CLOCK] += unclocked
            report.refused_faces += unclocked
    total = sum(len(faces) for _, faces in work)
    index = load_index(
        ledger, vault, model_version=info.version, actor=actor, reason="cluster new faces"
    )
    config = ExtractConfig(
        settings.landmark_model, settings.max_image_pixels, settings.detect_max_side, chosen.name
    )
    task: Any = extract_photo
    if injected:  # the caller's object: it runs here, never in a worker
        engine: Engine = InProcess()
        task = partial(extract_faces, embedder=chosen, config=config)
    else:
        engine = make_engine(
            settings.workers,
            init_extract_worker,
            (config,),
            kind=settings.engine,
            address=settings.ray_address,
        )
    touched: set[int] = set()
    try:
        with progress.task("extract", total=total, unit="faces") as tick:
            buffer: list[FaceFeatures] = []
            items: Any = work if engine.shares_files else with_bytes(work)
            for features in engine.map_unordered(task, items):
                buffer.extend(features)
                if len(buffer) >= _FLUSH_EVERY:
                    _write(
                        ledger,
                        vault,
                        index,
                        buffer,
                        report,
                        info,
                        geometry_info,
                        cluster,
                        actor,
                        touched,
                    )
                    tick(len(buffer), extracted=report.extracted)
                    buffer = []
            _write(
                ledger, vault, index, buffer, report, info, geometry_info, cluster, actor, touched
            )
            tick(len(buffer), extracted=report.extracted)
    finally:
        engine.close()
    link_owners(ledger, touched)
    report.seconds = time.monotonic() - started
    with ledger.begin() as conn:
        append(
            conn,
            AuditRecord(
                name="extract.run",
                actor=actor,
                object_type="purpose",
                object_id=purpose,
                payload={
                    "extracted": report.extracted,
                    "new_subjects": report.new_subjects,
                    "refused_faces": report.refused_faces,
                    "refused": dict(report.refused),
                    "failed": dict(report.failed),
                    "model": f"{info.name} {info.version}",
                    "embedder": chosen.name,
                },
            ),  # fmt: skip
        )
    return report


def _write(
    ledger: Ledger,
    vault: KeyVault,
    index: ExactIndex,
    batch: list[FaceFeatures],
    report: ExtractReport,
    embedder: ModelInfo,
    geometry_info: ModelInfo,
    cluster_threshold: float,
    actor: str,
    touched: set[int],
) -> None:
    if not batch:
        return
    with ledger.begin() as conn:
        subjects = {
            int(row.id): SubjectRef(int(row.id), row.key_ref)
            for row in conn.execute(select(SUBJECTS.c.id, SUBJECTS.c.key_ref))
        }
        ids = sorted({f.face_id for f in batch})
        # a face clustered under another embedder keeps its subject (a person, not a model)
        assigned = {
            int(r.face_id): (int(r.subject_id), r.status)
            for r in conn.execute(
                select(FACE_SUBJECTS.c.face_id, FACE_SUBJECTS.c.subject_id, SUBJECTS.c.status)
                .join(SUBJECTS, SUBJECTS.c.id == FACE_SUBJECTS.c.subject_id)
                .where(FACE_SUBJECTS.c.face_id.in_(ids))
            )
        }  # fmt: skip
        measured = {
            int(f) for (f,) in conn.execute(
                select(TEMPLATES.c.face_id).where(
                    TEMPLATES.c.face_id.in_(ids), TEMPLATES.c.kind == GEOMETRY,
                    TEMPLATES.c.model_version == geometry_info.version,
                )
            )
        }  # fmt: skip
        for features in batch:
            if features.error or features.embedding is None or features.geometry is None:
                report.failed[features.error or "no features"] += 1
                continue
            vector = np.frombuffer(features.embedding, dtype=np.float32)
            distance: float | None
            if features.face_id in assigned:
                subject_id, status = assigned[features.face_id]
                if status != "active":  # the person was erased: no key to write under (fail closed)
                    report.refused[
                        f"refused: the face's subject {subject_id} was erased (its key is shredded)"
                    ] += 1
                    report.refused_faces += 1
                    continue
                subject, distance = subjects[subject_id], None
            else:
                nearest = index.search(vector, k=1, max_distance=cluster_threshold)
                if nearest:
                    subject, distance = subjects[nearest[0].subject_id], nearest[0].distance
                else:
                    subject, distance = create_subject(conn, model_version=embedder.version), None
                    subjects[subject.id] = subject
                    report.new_subjects += 1
            payloads = {EMBEDDING: (embedder, features.embedding)}
            if features.face_id not in measured:
                payloads[GEOMETRY] = (geometry_info, features.geometry)
            try:
                store_face_templates(
                    conn, vault, face_id=features.face_id, subject=subject,
                    decision_id=features.decision_id, distance=distance, actor=actor,
                    payloads=payloads, assign=features.face_id not in assigned,
                )  # fmt: skip
            except TemplateRefused as exc:  # the decision changed since the work was planned
                report.refused[f"refused: {exc}"] += 1
                report.refused_faces += 1
                continue
            index.add(
                face_ids=[features.face_id], subject_ids=[subject.id], vectors=vector[None, :]
            )
            assigned[features.face_id] = (subject.id, "active")
            measured.add(features.face_id)
            touched.add(subject.id)
            report.extracted += 1
