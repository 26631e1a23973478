"""The links between consents and the faces they may cover (helpers of the consent service).

A consent covers claimed faces (``consent_claims``), a subject's claimed faces, or a photo
owner's own claimed face. These helpers check a consent's claims, link them, and find the
faces a change may touch so that :mod:`faceledger.services.people.consent` re-decides them in the
change's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from faceledger.core.law import Policy
from faceledger.errors import ConsentError
from faceledger.services.decisions.redecide import Reassessment, reassess_decided
from faceledger.sources.consents import FIELDS
from faceledger.store import Ledger
from faceledger.store.tables import CLAIMS, CONSENT_CLAIMS, FACE_SUBJECTS, FACES, PHOTOS, chunks


def consent_identity(values: Any) -> tuple[Any, ...]:
    """What makes two consent records the same record (an import run twice adds nothing)."""
    return tuple(
        tuple(sorted(values[name]) if name == "claims" else values[name])
        if name in ("purposes", "claims") else values[name]
        for name in FIELDS
    )  # fmt: skip


# --- re-deciding the faces a change touches ------------------------------------------------


def touched_faces(conn: Connection, records: Iterable[Mapping[str, Any]]) -> set[int]:
    """Faces a consent may cover: its owner's photos' faces, its claims' faces, its subject's."""
    owners: set[str] = set()
    claims: set[int] = set()
    subjects: set[int] = set()
    for record in records:
        if record.get("owner_id"):
            owners.add(record["owner_id"])
        claims.update(record.get("claims") or record.get("claim_ids") or ())
        if record.get("subject_id") is not None:
            subjects.add(int(record["subject_id"]))
    faces: set[int] = set()
    queries: tuple[tuple[list[Any], Callable[[Any], Any]], ...] = (
        (sorted(owners), lambda chunk: select(FACES.c.id).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
         .where(PHOTOS.c.owner_id.in_(chunk))),
        (sorted(claims), lambda chunk: select(CLAIMS.c.face_id).where(CLAIMS.c.id.in_(chunk))),
        (sorted(subjects), lambda chunk: select(FACE_SUBJECTS.c.face_id)
         .where(FACE_SUBJECTS.c.subject_id.in_(chunk))),
    )  # fmt: skip
    for keys, query in queries:
        for chunk in chunks(keys):
            faces.update(int(f) for f in conn.execute(query(chunk)).scalars())
    return faces


def reassess_consents(
    ledger: Ledger, conn: Connection, records: Iterable[Mapping[str, Any]], *, on: date,
    policies: list[Policy], actor: str, trigger: dict[str, Any],
) -> Reassessment:  # fmt: skip
    """Re-decide, in ``conn``'s transaction, the decided faces these consents may cover."""
    return reassess_decided(
        ledger, conn, touched_faces(conn, records), on=on, policies=policies, actor=actor,
        trigger=trigger,
    )  # fmt: skip


def check_claims(conn: Connection, values: Mapping[str, Any]) -> None:
    """The claims a consent names exist and are active; a representative's are theirs."""
    wanted = list(values["claims"])
    if not wanted:
        return
    rows = {int(r.id): r for r in conn.execute(select(CLAIMS).where(CLAIMS.c.id.in_(wanted)))}
    for claim_id in wanted:
        row = rows.get(claim_id)
        if row is None:
            raise ConsentError(f"no claim with id {claim_id} (see faceledger claim list)")
        if row.status != "active":
            raise ConsentError(f"claim {claim_id} is {row.status}: a consent cannot rest on it")
        if (
            values["given_by"] == "legal-representative"
            and row.claimed_by != "legal-representative"
        ):
            raise ConsentError(
                f"claim {claim_id} was made by the subject: a legal representative consents "
                "only for a face they claimed for the person they represent"
            )


def link_claims(conn: Connection, consent_id: int, claim_ids: Iterable[int]) -> None:
    rows = [{"consent_id": consent_id, "claim_id": c} for c in claim_ids]
    if rows:
        conn.execute(CONSENT_CLAIMS.insert(), rows)


def claim_ids_of(conn: Connection, consent_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for chunk in chunks(consent_ids):
        for consent_id, claim_id in conn.execute(
            select(CONSENT_CLAIMS.c.consent_id, CONSENT_CLAIMS.c.claim_id).where(
                CONSENT_CLAIMS.c.consent_id.in_(chunk)
            )
        ):
            found.setdefault(int(consent_id), []).append(int(claim_id))
    return found


# --- add, revoke, list, import ------------------------------------------------------------
