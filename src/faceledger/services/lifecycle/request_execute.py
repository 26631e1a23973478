"""Carrying a request out: what it reaches (:func:`resolve`) and :func:`execute_request`.

Executing an opt-out or erasure (one transaction): the photos and faces the request covers
get the request id as a tombstone (``excluded_request_id``; rows stay, so re-ingesting the
same source cannot bring them back, and scan, assess, extract, release and search skip them);
their templates are destroyed with a certificate; a release version without them is cut for
every release whose latest version held them; a notice is recorded for every consumer of a
version that held them (GDPR Art. 17(2) / 19). An erasure also shreds the data key of every
subject (cluster) *all* of whose faces it covers (crypto-shredding: backups and dumps hold
only ciphertext); a subject shared with a face outside the request keeps its key, so a
look-alike in the same cluster is never shredded. An access request changes nothing and
records what is held, in which releases, given to whom.

What a request reaches: an account (all the owner's photos, every face on them), a tag (the
owner's photos with it), a photo (every face on it), or faces: only the faces a reviewer
confirmed and the faces the person claimed (an active claim). Never other faces of a matched
subject. The identity rules (:mod:`faceledger.services.lifecycle.request_identity`) are checked again
here, in the executing transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select, update

from faceledger.config import Settings
from faceledger.errors import RequestStateError
from faceledger.services.biometrics.templates import destroy_templates, shred_keys
from faceledger.services.lifecycle.release_consumers import notify_consumers
from faceledger.services.lifecycle.release_versions import releases_holding
from faceledger.services.lifecycle.releases import cut_without
from faceledger.services.lifecycle.request_identity import (
    acted_faces,
    identity_problem,
    wholly_covered_subjects,
)
from faceledger.services.lifecycle.request_records import RequestRecord, find, record, step
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import (
    CONSUMERS,
    FACE_SUBJECTS,
    FACES,
    ITEMS,
    PHOTOS,
    REQUESTS,
    chunks,
    in_chunks,
)
from faceledger.store.vault import KeyVault


@dataclass
class Scope:
    """What a request reaches: whole photos, single faces, and the subjects (people) all of
    whose faces are among them."""

    photo_ids: set[int]
    face_ids: set[int]
    subject_ids: set[int]


def _in_chunks(conn: Connection, column: Any, ids: set[int], *select_columns: Any) -> list[Any]:
    return in_chunks(conn, select(*select_columns), column, sorted(ids))


def resolve_photos(conn: Connection, row: Any) -> set[int]:
    """The whole photos request ``row`` covers (none for a face request)."""
    value = row.key_value
    if row.key_type == "owner":
        return {int(i) for (i,) in conn.execute(
            select(PHOTOS.c.id).where(or_(PHOTOS.c.owner_id == value, PHOTOS.c.owner_nickname == value)))}  # fmt: skip
    if row.key_type == "photo":
        return {
            int(i)
            for (i,) in conn.execute(select(PHOTOS.c.id).where(PHOTOS.c.external_id == value))
        }
    if row.key_type == "url":
        return {int(i) for (i,) in conn.execute(
            select(PHOTOS.c.id).where(or_(PHOTOS.c.download_url == value, PHOTOS.c.page_url == value)))}  # fmt: skip
    photos: set[int] = set()
    if row.key_type == "tag":
        wanted = value.strip().lower()
        for photo_id, tags in conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.tags).where(
                PHOTOS.c.owner_id == row.owner_scope, PHOTOS.c.tags.ilike(f"%{wanted}%"))
        ):  # fmt: skip
            if wanted in {t.strip().lower() for t in (tags or "").split(",")}:
                photos.add(int(photo_id))
    return photos


def resolve(conn: Connection, row: Any, ledger: Ledger | None = None) -> Scope:
    """The photos, faces and subjects request ``row`` reaches, as of now (module docs)."""
    photos = resolve_photos(conn, row)
    faces: set[int] = set()
    if row.key_type == "face":
        assert ledger is not None, "a face request resolves through its claims: pass the ledger"
        faces, _ = acted_faces(conn, ledger, int(row.id))
    if photos:
        faces.update(int(f) for (f,) in _in_chunks(conn, FACES.c.photo_id, photos, FACES.c.id))
    return Scope(photos, faces, wholly_covered_subjects(conn, faces))


def _access_document(conn: Connection, scope: Scope) -> dict[str, Any]:
    photos = _in_chunks(conn, PHOTOS.c.id, scope.photo_ids | {
        int(p) for (p,) in _in_chunks(conn, FACES.c.id, scope.face_ids, FACES.c.photo_id)
    }, PHOTOS.c.id, PHOTOS.c.external_id, PHOTOS.c.page_url, PHOTOS.c.excluded_request_id)  # fmt: skip
    versions = _in_chunks(conn, ITEMS.c.face_id, scope.face_ids, ITEMS.c.version_id)
    version_ids = {int(v) for (v,) in versions}
    consumers = _in_chunks(
        conn, CONSUMERS.c.version_id, version_ids, CONSUMERS.c.name, CONSUMERS.c.version_id
    )
    subjects = {
        int(s)
        for (s,) in _in_chunks(
            conn, FACE_SUBJECTS.c.face_id, scope.face_ids, FACE_SUBJECTS.c.subject_id
        )
    }
    return {
        "photos": [{"id": int(p.id), "external_id": p.external_id, "page_url": p.page_url,
                    "excluded": p.excluded_request_id is not None} for p in sorted(photos, key=lambda p: p.id)],
        "faces": len(scope.face_ids),
        "subjects": sorted(subjects),
        "releases": releases_holding(conn, face_ids=scope.face_ids, photo_ids=scope.photo_ids),
        "consumers": sorted({name for name, _ in consumers}),
    }  # fmt: skip


def _exclude(conn: Connection, table: Any, ids: set[int], request_id: int) -> int:
    count, values = 0, sorted(ids)
    for chunk in chunks(values):
        count += conn.execute(
            update(table)
            .where(
                table.c.id.in_(chunk),
                table.c.excluded_request_id.is_(None),
            )
            .values(excluded_request_id=request_id)
        ).rowcount
    return int(count)


def execute_request(
    ledger: Ledger,
    vault: KeyVault,
    settings: Settings,
    id_or_receipt: str | int,
    *,
    actor: str = "cli",
) -> RequestRecord:
    """verified -> executed: carry the request out, all in one transaction (module docs).

    Refused (:class:`RequestStateError`) while a matched face is pending review, when no face
    is confirmed or claimed, or when the ownership evidence no longer covers every photo.
    The subjects' keys are shredded last, just before the commit: should the commit fail,
    the keys are gone anyway (the error is on the person's side) and the request stays
    ``verified``, so running it again finishes the job.
    """
    from faceledger.errors import IdentityError

    with ledger.begin() as conn:
        row = step(conn, id_or_receipt, "execute")
        request_id = int(row.id)
        scope = resolve(conn, row, ledger)
        problem = identity_problem(conn, ledger, row, scope.photo_ids, "executed")
        if problem:
            raise IdentityError(problem)
        if row.kind == "access":
            result: dict[str, Any] = _access_document(conn, scope)
            counts = {"photos": len(result["photos"]), "faces": result["faces"],
                      "releases": len(result["releases"])}  # fmt: skip
            key_refs: list[str] = []
        else:
            photos = _exclude(conn, PHOTOS, scope.photo_ids, request_id)
            faces = _exclude(conn, FACES, scope.face_ids, request_id)
            destroyed = destroy_templates(
                conn, face_ids=scope.face_ids, reason=row.kind, actor=actor, request_id=request_id,
                shred_subjects=scope.subject_ids if row.kind == "erasure" else (),
            )  # fmt: skip
            versions = cut_without(
                conn, settings, face_ids=scope.face_ids, photo_ids=scope.photo_ids,
                reason=f"{row.kind} request {request_id}", actor=actor,
            )  # fmt: skip
            notices = notify_consumers(
                conn, face_ids=scope.face_ids, photo_ids=scope.photo_ids, request_id=request_id,
                new_versions=versions,
            )  # fmt: skip
            counts = {
                "photos_excluded": photos, "faces_excluded": faces, "faces_destroyed": destroyed.faces,
                "templates_destroyed": destroyed.templates, "keys_shredded": len(destroyed.key_refs),
                "versions_cut": len(versions), "notices_due": len(notices),
            }  # fmt: skip
            result = {
                **counts, "subjects_shredded": destroyed.subjects_shredded,
                "new_versions": [v.ref for v in versions], "notices": notices,
                "certificates": destroyed.certificates,
            }  # fmt: skip
            key_refs = destroyed.key_refs
        conn.execute(
            update(REQUESTS).where(REQUESTS.c.id == request_id)
            .values(status="executed", executed_at=utcnow(), result=result)
        )  # fmt: skip
        append(conn, AuditRecord(name="request.executed", actor=actor, object_type="request",
                                 object_id=str(request_id), payload={"request": request_id, "kind": row.kind, **counts}))  # fmt: skip
        shred_keys(vault, key_refs)
        return record(conn, find(conn, request_id))


__all__ = ["RequestStateError", "Scope", "execute_request", "resolve"]
