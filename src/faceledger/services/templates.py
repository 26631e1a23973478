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

import secrets
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, select

from faceledger.core.matching import ExactIndex
from faceledger.errors import FaceledgerError
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.schema import FaceDecision, FaceSubject, Subject, Template
from faceledger.store.vault import KeyShredded, KeyVault
from faceledger.vision.dlib_models import ModelInfo

TEMPLATES = Template.__table__
SUBJECTS = Subject.__table__
FACE_SUBJECTS = FaceSubject.__table__
DECISIONS = FaceDecision.__table__
EMBEDDING = "embedding"
GEOMETRY = "geometry"
EXTRACT = "extract-template"


class TemplateRefused(FaceledgerError):
    """No decision allows a template for this face: nothing was stored."""


@dataclass(frozen=True)
class SubjectRef:
    id: int
    key_ref: str


def _aad(face_id: int, kind: str, model_version: str) -> bytes:
    return f"faceledger:template:{face_id}:{kind}:{model_version}".encode()


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
        select(DECISIONS.c.face_id, DECISIONS.c.action, DECISIONS.c.decision, DECISIONS.c.purpose)
        .where(DECISIONS.c.id == decision_id)
    ).first()
    if row is None or row.face_id != face_id or row.action != EXTRACT or row.decision != "allow":
        state = "missing" if row is None else f"{row.decision} for {row.action} of face {row.face_id}"
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
) -> None:
    """Encrypt and store one face's templates, assign its subject, audit; all or nothing."""
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
            "ciphertext": vault.encrypt(subject.key_ref, data, aad=_aad(face_id, kind, info.version)),
            "created_at": now,
        }
        for kind, (info, data) in payloads.items()
    ]
    conn.execute(TEMPLATES.insert(), rows)
    conn.execute(
        FACE_SUBJECTS.insert().values(
            face_id=face_id, subject_id=subject.id, distance=distance, assigned_at=now
        )
    )
    append(
        conn,
        AuditRecord(
            name="template.write", actor=actor, object_type="face", object_id=str(face_id),
            payload={"subject": subject.id, "kinds": sorted(payloads), "purpose": purpose,
                     "decision": decision_id,
                     "models": {k: f"{i.name} {i.version}" for k, (i, _) in payloads.items()}},
        ),  # fmt: skip
    )


def read_template(
    ledger: Ledger, vault: KeyVault, *, face_id: int, kind: str, actor: str, reason: str
) -> bytes:
    """Decrypt one face's template (audited); raises KeyShredded after erasure."""
    with ledger.begin() as conn:
        row = conn.execute(
            select(TEMPLATES.c.ciphertext, TEMPLATES.c.model_version, SUBJECTS.c.key_ref)
            .join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
            .where(TEMPLATES.c.face_id == face_id, TEMPLATES.c.kind == kind)
            .order_by(TEMPLATES.c.id.desc())
        ).first()
        if row is None:
            raise FaceledgerError(f"face {face_id} has no {kind} template")
        append(
            conn,
            AuditRecord(
                name="template.read", actor=actor, object_type="face", object_id=str(face_id),
                payload={"kind": kind, "count": 1, "reason": reason},
            ),  # fmt: skip
        )
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
            select(TEMPLATES.c.face_id, TEMPLATES.c.subject_id, TEMPLATES.c.ciphertext, SUBJECTS.c.key_ref)
            .join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
            .where(
                TEMPLATES.c.kind == EMBEDDING,
                TEMPLATES.c.model_version == model_version,
                SUBJECTS.c.status == "active",
            )
            .order_by(TEMPLATES.c.id)
        ).all()
        for row in rows:
            try:
                plain = vault.decrypt(row.key_ref, row.ciphertext, aad=_aad(row.face_id, EMBEDDING, model_version))
            except KeyShredded:
                continue
            faces.append(int(row.face_id))
            subjects.append(int(row.subject_id))
            vectors.append(np.frombuffer(plain, dtype=np.float32))
        append(
            conn,
            AuditRecord(
                name="template.read", actor=actor, object_type="index", object_id=model_version,
                payload={"kind": EMBEDDING, "count": len(faces), "reason": reason},
            ),  # fmt: skip
        )
    if faces:
        index.add(face_ids=faces, subject_ids=subjects, vectors=np.stack(vectors))
    return index
