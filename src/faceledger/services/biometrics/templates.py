"""Biometric templates: the only code that writes, reads or searches them.

Example::

    with ledger.begin() as conn:
        store_face_templates(conn, vault, face_id=12, subject=subject, decision_id=40,
                             payloads={"embedding": (info, vector.tobytes())}, actor="cli")
    index = load_index(ledger, vault, model_version=info.version, actor="cli", reason="search")

Rules enforced here, for every caller:

- a template is written only under a decision that *allows* ``extract-template`` for that very
  face, checked inside the writing transaction (:class:`TemplateRefused` otherwise);
- it is encrypted under its subject's data key, bound to face, kind and model version;
- every write, bulk read and search appends an audit event in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, select, update

from faceledger.core.matching import ExactIndex
from faceledger.errors import FaceledgerError, KeyShredded, TamperedCiphertext, TemplateRefused
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import (
    DECISIONS,
    DESTRUCTIONS,
    FACE_SUBJECTS,
    FACES,
    SUBJECTS,
    TEMPLATES,
    chunks,
)
from faceledger.store.template_index import index_added, index_removed
from faceledger.store.vault import KeyVault
from faceledger.vision.dlib_models import ModelInfo

_KEPT_IN_AUDIT = 1_000  # certificate hashes quoted in one template.destroy event
EMBEDDING = "embedding"
GEOMETRY = "geometry"
EXTRACT = "extract-template"


@dataclass(frozen=True)
class SubjectRef:
    id: int
    key_ref: str


def _aad(face_id: int, kind: str, model_version: str) -> bytes:
    return f"faceledger:template:{face_id}:{kind}:{model_version}".encode()


def _decrypt(
    vault: KeyVault, row: Any, kind: str, conn: Connection | None = None, *, actor: str = "system"
) -> bytes | None:
    """A stored row's plaintext, or ``None`` once its subject's key was shredded, or (given
    the caller's ``conn`` and a row with the template ``id``) when its ciphertext fails the
    integrity check: that template is quarantined and audited in the caller's transaction and
    the batch goes on without it (one corrupt row must not break every search).

    ``row`` has ``face_id``, ``model_version``, ``ciphertext`` and ``key_ref`` (and ``id``).
    """
    try:
        return vault.decrypt(
            row.key_ref, row.ciphertext, aad=_aad(int(row.face_id), kind, row.model_version)
        )
    except KeyShredded:
        return None
    except TamperedCiphertext:
        template_id = getattr(row, "id", None)
        if conn is None or template_id is None:
            raise
        quarantine_template(conn, int(template_id), kind=kind, actor=actor)
        return None


def quarantine_template(conn: Connection, template_id: int, *, kind: str, actor: str) -> None:
    """Set a template aside after an integrity failure (kept, never read again); audited."""
    conn.execute(
        update(TEMPLATES).where(TEMPLATES.c.id == template_id, TEMPLATES.c.quarantined_at.is_(None))
        .values(quarantined_at=utcnow(), quarantine_reason="integrity")
    )  # fmt: skip
    index_removed(conn, template_ids=[template_id])  # never searched again, in any process
    append(conn, AuditRecord(
        name="template.quarantine", actor=actor, object_type="template", object_id=str(template_id),
        payload={"template_id": template_id, "kind": kind, "reason": "integrity"},
    ))  # fmt: skip


def create_subject(conn: Connection, *, model_version: str) -> SubjectRef:
    key_ref = f"subj-{secrets.token_hex(12)}"
    subject_id = conn.execute(
        SUBJECTS.insert()
        .values(key_ref=key_ref, model_version=model_version, status="active", created_at=utcnow())
        .returning(SUBJECTS.c.id)
    ).scalar_one()
    return SubjectRef(int(subject_id), key_ref)


def allowing_decision(conn: Connection, *, decision_id: int, face_id: int) -> str:
    """The purpose of ``decision_id`` if it allows extraction for ``face_id``; else refuse."""
    row = conn.execute(
        select(
            DECISIONS.c.face_id, DECISIONS.c.action, DECISIONS.c.decision, DECISIONS.c.purpose
        ).where(DECISIONS.c.id == decision_id)
    ).first()
    if row is None or row.face_id != face_id or row.action != EXTRACT or row.decision != "allow":
        state = (
            "missing" if row is None else f"{row.decision} for {row.action} of face {row.face_id}"
        )
        raise TemplateRefused(
            f"face {face_id}: no decision allows a template (decision {decision_id}: {state})"
        )
    return str(row.purpose)


def store_face_templates(
    conn: Connection,
    vault: KeyVault,
    *,
    face_id: int,
    subject: SubjectRef,
    decision_id: int,
    payloads: dict[str, tuple[ModelInfo, bytes]],
    distance: float | None,
    actor: str,
    assign: bool = True,
) -> None:
    """Encrypt and store one face's templates, assign its subject, audit; all or nothing.

    ``assign=False`` for a face that belongs to ``subject`` already (clustered under another
    embedder version): its new templates go under that subject's key, and its one subject
    assignment (``face_subjects``: a face is one person's) stays as it was.
    """
    purpose = allowing_decision(conn, decision_id=decision_id, face_id=face_id)
    now = utcnow()
    rows = [
        {
            "face_id": face_id,
            "subject_id": subject.id,
            "kind": kind,
            "model_name": info.name,
            "model_version": info.version,
            "purpose": purpose,
            "decision_id": decision_id,
            "ciphertext": vault.encrypt(
                subject.key_ref, data, aad=_aad(face_id, kind, info.version)
            ),
            "created_at": now,
        }
        for kind, (info, data) in payloads.items()
    ]
    conn.execute(TEMPLATES.insert(), rows)
    if EMBEDDING in payloads:  # searchable from this commit on, in every process
        info = payloads[EMBEDDING][0]
        template_id = conn.execute(
            select(TEMPLATES.c.id).where(TEMPLATES.c.face_id == face_id, TEMPLATES.c.kind == EMBEDDING,
                                         TEMPLATES.c.model_version == info.version)
        ).scalar_one()  # fmt: skip
        index_added(conn, template_id=int(template_id), face_id=face_id, subject_id=subject.id,
                    model_version=info.version)  # fmt: skip
    if assign:  # ``distance`` is measured in ``model_version``'s space (0017)
        version = payloads[EMBEDDING][0].version if EMBEDDING in payloads else None
        conn.execute(
            FACE_SUBJECTS.insert().values(
                face_id=face_id,
                subject_id=subject.id,
                distance=distance,
                assigned_at=now,
                model_version=version,
            )
        )
    append(
        conn,
        AuditRecord(
            name="template.write",
            actor=actor,
            object_type="face",
            object_id=str(face_id),
            payload={
                "subject": subject.id,
                "kinds": sorted(payloads),
                "purpose": purpose,
                "decision": decision_id,
                "assigned": assign,
                "models": {k: f"{i.name} {i.version}" for k, (i, _) in payloads.items()},
            },
        ),  # fmt: skip
    )


def _audit_read(
    conn: Connection,
    *,
    actor: str,
    object_type: str,
    object_id: str | None,
    kind: str,
    count: int,
    reason: str,
) -> None:
    """Append the one ``template.read`` event of a read (a face, an index of one model version,
    a batch of one kind, or many faces), in the reading transaction."""
    append(conn, AuditRecord(
        name="template.read", actor=actor, object_type=object_type, object_id=object_id,
        payload={"kind": kind, "count": count, "reason": reason},
    ))  # fmt: skip


def read_template(
    ledger: Ledger,
    vault: KeyVault,
    *,
    face_id: int,
    kind: str,
    actor: str,
    reason: str,
    model_version: str | None = None,
) -> bytes:
    """Decrypt one face's template (audited), of ``model_version`` or else the newest;
    raises KeyShredded after erasure."""
    where = [TEMPLATES.c.face_id == face_id, TEMPLATES.c.kind == kind]
    if model_version is not None:
        where.append(TEMPLATES.c.model_version == model_version)
    with ledger.begin() as conn:
        row = conn.execute(
            select(TEMPLATES.c.ciphertext, TEMPLATES.c.model_version, SUBJECTS.c.key_ref)
            .join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
            .where(*where)
            .order_by(TEMPLATES.c.id.desc())
        ).first()
        if row is None:
            raise FaceledgerError(f"face {face_id} has no {kind} template")
        _audit_read(conn, actor=actor, object_type="face", object_id=str(face_id), kind=kind,
                    count=1, reason=reason)  # fmt: skip
    return vault.decrypt(row.key_ref, row.ciphertext, aad=_aad(face_id, kind, row.model_version))


def load_index(
    ledger: Ledger, vault: KeyVault, *, model_version: str, actor: str, reason: str
) -> ExactIndex:
    """Decrypt every readable embedding of ``model_version`` into an index (one audit event).

    Templates of shredded subjects are skipped: they can no longer be read by anyone.
    """
    index = ExactIndex()
    faces: list[int] = []
    subjects: list[int] = []
    vectors: list[np.ndarray] = []
    with ledger.begin() as conn:
        rows = conn.execute(
            select(
                TEMPLATES.c.id,
                TEMPLATES.c.face_id,
                TEMPLATES.c.subject_id,
                TEMPLATES.c.ciphertext,
                TEMPLATES.c.model_version,
                SUBJECTS.c.key_ref,
            )
            .join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
            .join(FACES, FACES.c.id == TEMPLATES.c.face_id)
            .where(
                TEMPLATES.c.kind == EMBEDDING,
                TEMPLATES.c.quarantined_at.is_(None),
                TEMPLATES.c.model_version == model_version,
                SUBJECTS.c.status == "active",
                FACES.c.excluded_request_id.is_(None),  # opted out: never searched again
            )
            .order_by(TEMPLATES.c.id)
        ).all()
        for row in rows:
            plain = _decrypt(vault, row, EMBEDDING, conn, actor=actor)
            if plain is None:
                continue
            faces.append(int(row.face_id))
            subjects.append(int(row.subject_id))
            vectors.append(np.frombuffer(plain, dtype=np.float32))
        _audit_read(conn, actor=actor, object_type="index", object_id=model_version,
                    kind=EMBEDDING, count=len(faces), reason=reason)  # fmt: skip
    if faces:
        index.add(face_ids=faces, subject_ids=subjects, vectors=np.stack(vectors))
    return index


@dataclass(frozen=True)
class TemplateBatch:
    """What :func:`read_templates` decrypted: plaintext by face id (the newest template of
    ``kind`` per face), and the faces whose template can no longer be read (erased)."""

    templates: dict[int, bytes]
    unreadable: tuple[int, ...]


def read_templates(
    ledger: Ledger, vault: KeyVault, *, kind: str, actor: str, reason: str
) -> TemplateBatch:
    """Decrypt every stored template of ``kind``, of any model version (one audit event).

    For aggregate reads (the report's DiF distributions): one ``template.read`` event for
    the whole batch, like :func:`load_index`. Templates of shredded subjects are not read;
    their faces are listed in ``unreadable``.
    """
    templates: dict[int, bytes] = {}
    unreadable: list[int] = []
    with ledger.begin() as conn:
        rows = conn.execute(
            select(TEMPLATES.c.id, TEMPLATES.c.face_id, TEMPLATES.c.model_version, TEMPLATES.c.ciphertext,
                   SUBJECTS.c.key_ref, SUBJECTS.c.status)
            .join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
            .where(TEMPLATES.c.kind == kind, TEMPLATES.c.quarantined_at.is_(None))
            .order_by(TEMPLATES.c.id.desc())
        ).all()  # fmt: skip
        seen: set[int] = set()
        for row in rows:
            face_id = int(row.face_id)
            if face_id in seen:
                continue
            seen.add(face_id)
            if row.status != "active":
                unreadable.append(face_id)
                continue
            plain = _decrypt(vault, row, kind, conn, actor=actor)
            if plain is None:
                unreadable.append(face_id)
            else:
                templates[face_id] = plain
        _audit_read(conn, actor=actor, object_type="batch", object_id=kind, kind=kind,
                    count=len(templates), reason=reason)  # fmt: skip
    return TemplateBatch(templates, tuple(sorted(unreadable)))


def read_face_templates(
    conn: Connection,
    vault: KeyVault,
    *,
    face_ids: Iterable[int],
    kind: str,
    actor: str,
    reason: str,
) -> dict[int, bytes]:
    """Decrypt ``kind`` templates of many faces in the caller's transaction (one audit event).

    Faces without such a template, or whose subject's key was shredded, are left out.
    """
    ids = sorted(set(face_ids))
    found: dict[int, bytes] = {}
    for chunk in chunks(ids):
        rows = conn.execute(
            select(TEMPLATES.c.id, TEMPLATES.c.face_id, TEMPLATES.c.ciphertext, TEMPLATES.c.model_version,
                   SUBJECTS.c.key_ref)
            .join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
            .where(TEMPLATES.c.face_id.in_(chunk), TEMPLATES.c.kind == kind,
                   SUBJECTS.c.status == "active", TEMPLATES.c.quarantined_at.is_(None))
            .order_by(TEMPLATES.c.id)
        ).all()  # fmt: skip
        for row in rows:
            plain = _decrypt(vault, row, kind, conn, actor=actor)
            if plain is not None:
                found[int(row.face_id)] = plain
    _audit_read(conn, actor=actor, object_type="faces", object_id=None, kind=kind,
                count=len(found), reason=reason)  # fmt: skip
    return found


@dataclass
class Destroyed:
    """What :func:`destroy_templates` did; ``key_refs`` are still to be shredded by the caller
    (:func:`shred_keys`, last thing before commit)."""

    faces: int = 0
    templates: int = 0
    subjects_shredded: list[int] = field(default_factory=list)
    key_refs: list[str] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)


def _certificate(record: Any) -> str:
    body = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _delete_counted(
    conn: Connection, where: Any, touched: dict[int, int | None], counts: dict[int, int]
) -> None:
    """Delete the templates matching ``where``, noting each face's subject and how many went."""
    for face_id, subject_id, count in conn.execute(
        select(TEMPLATES.c.face_id, TEMPLATES.c.subject_id, func.count())
        .where(where)
        .group_by(TEMPLATES.c.face_id, TEMPLATES.c.subject_id)
    ):
        touched[int(face_id)] = int(subject_id)
        counts[int(face_id)] = counts.get(int(face_id), 0) + int(count)
    conn.execute(delete(TEMPLATES).where(where))


def destroy_templates(
    conn: Connection,
    *,
    face_ids: Iterable[int],
    reason: str,
    actor: str,
    shred_subjects: Iterable[int] = (),
    destroy_by: Mapping[int, date | None] | None = None,
    request_id: int | None = None,
) -> Destroyed:
    """Delete every template of ``face_ids``, certify each face, and mark for shredding the
    subjects in ``shred_subjects`` and every subject left without a template; one
    ``template.destroy`` and (if any) one ``key.shred`` event, in the caller's transaction.

    The caller shreds ``Destroyed.key_refs`` in the vault just before committing: if the
    commit then fails, the keys are gone anyway, which errs on the side of the person.
    """
    ids = sorted(set(face_ids))
    done = Destroyed()
    now = utcnow()
    touched: dict[int, int | None] = {}
    counts: dict[int, int] = {}
    index_removed(conn, face_ids=ids)  # unfindable in every process from this commit on
    for chunk in chunks(ids):
        _delete_counted(conn, TEMPLATES.c.face_id.in_(chunk), touched, counts)
    wanted = {int(s) for s in shred_subjects}
    candidates = sorted(wanted | {s for s in touched.values() if s is not None})
    shredded: dict[int, str] = {}
    for chunk in chunks(candidates):
        remaining = {
            int(s) for (s,) in conn.execute(
                select(TEMPLATES.c.subject_id).where(TEMPLATES.c.subject_id.in_(chunk)).distinct()
            )
        }  # fmt: skip
        for subject_id, key_ref in conn.execute(
            select(SUBJECTS.c.id, SUBJECTS.c.key_ref).where(
                SUBJECTS.c.id.in_(chunk), SUBJECTS.c.status == "active"
            )
        ):
            if subject_id in wanted or subject_id not in remaining:
                shredded[int(subject_id)] = str(key_ref)
    if shredded:
        subject_ids = sorted(shredded)
        index_removed(conn, subject_ids=subject_ids)
        for chunk in chunks(subject_ids):
            conn.execute(
                update(SUBJECTS).where(SUBJECTS.c.id.in_(chunk))
                .values(status="shredded", shredded_at=now)
            )  # fmt: skip
        if wanted:  # an erased person's remaining templates go with their key
            for chunk in chunks(subject_ids):
                erased = [s for s in chunk if s in wanted]
                _delete_counted(conn, TEMPLATES.c.subject_id.in_(erased), touched, counts)
    rows = []
    for face_id in sorted(touched):
        subject_id = touched[face_id]
        record = {
            "face_id": face_id, "subject_id": subject_id, "templates": counts[face_id],
            "reason": reason, "destroy_by": (destroy_by or {}).get(face_id),
            "request_id": request_id, "key_shredded": subject_id in shredded,
            "destroyed_at": now,
        }  # fmt: skip
        rows.append({**record, "certificate": _certificate(record)})
    if rows:
        conn.execute(DESTRUCTIONS.insert(), rows)
    done.faces, done.templates = len(rows), sum(counts.values())
    done.subjects_shredded, done.key_refs = (
        sorted(shredded),
        [shredded[s] for s in sorted(shredded)],
    )
    done.certificates = [{"face_id": r["face_id"], "certificate": r["certificate"]} for r in rows]
    from faceledger.services.biometrics.template_index import drop_in_process

    drop_in_process(
        conn.engine, face_ids=ids, subject_ids=done.subjects_shredded
    )  # this process: now
    if rows:
        append(
            conn,
            AuditRecord(
                name="template.destroy",
                actor=actor,
                object_type="request" if request_id else "faces",
                object_id=str(request_id) if request_id else None,
                payload={
                    "reason": reason,
                    "faces": done.faces,
                    "templates": done.templates,
                    "certificates": [r["certificate"] for r in rows][:_KEPT_IN_AUDIT],
                    "certificates_sha256": _certificate([r["certificate"] for r in rows]),
                },
            ),  # fmt: skip
        )
    if shredded:
        append(
            conn,
            AuditRecord(
                name="key.shred",
                actor=actor,
                object_type="subjects",
                object_id=None,
                payload={"subjects": done.subjects_shredded, "reason": reason},
            ),  # fmt: skip
        )
    return done


def shred_keys(vault: KeyVault, key_refs: Iterable[str]) -> int:
    """Destroy these data keys in the vault (crypto-shredding); how many existed."""
    return sum(vault.shred(ref) for ref in key_refs)
