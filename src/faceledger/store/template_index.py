"""The persisted template index: which embeddings are searchable, and a generation counter.

Example::

    with ledger.begin() as conn:                   # in the transaction that stores a template
        index_added(conn, template_id=9, face_id=12, subject_id=3, model_version=v)
    with ledger.begin() as conn:                   # ... or that destroys templates
        index_removed(conn, face_ids=[12])
    with ledger.read() as conn:
        state = read_state(conn, v)                # IndexState(generation=7, epoch="3f...")
        changes(conn, v, since=5, upto=state.generation)   # what changed since generation 5

It holds ids only: no vector, and no code derived from one. A quantised or projected code
good enough to rank faces at the 0.6 margin is itself a weak template, and stored in the
ledger it would sit outside crypto-shredding (a backup keeps it after the key is gone).
The vectors live only in each process's memory (``services/biometrics/template_index.py``), decrypted
from the templates; these rows tell every process, in one small read before each search,
what to add and what to drop. Every change bumps the model version's ``generation`` in the
writer's transaction, so a change and its generation commit together; ``rebuild`` recomputes
the rows from the templates and starts a new ``epoch`` (every process rebuilds its copy).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, false, func, select, update

from faceledger.store.ledger import utcnow
from faceledger.store.tables import FACES, INDEX_ENTRIES, INDEX_STATE, SUBJECTS, TEMPLATES, chunks

EMBEDDING = "embedding"


@dataclass(frozen=True)
class IndexState:
    generation: int
    epoch: str


@dataclass(frozen=True)
class Change:
    template_id: int
    face_id: int
    subject_id: int
    removed: bool


def read_state(conn: Connection, model_version: str) -> IndexState | None:
    row = conn.execute(
        select(INDEX_STATE.c.generation, INDEX_STATE.c.epoch).where(
            INDEX_STATE.c.model_version == model_version
        )
    ).first()
    return IndexState(int(row.generation), str(row.epoch)) if row else None


def bump(conn: Connection, model_version: str) -> int:
    """Move ``model_version``'s generation on by one in the caller's transaction; the new value.

    On PostgreSQL the row lock this takes orders concurrent writers: a generation and the
    rows stamped with it commit together, before any higher generation is handed out.
    """
    if read_state(conn, model_version) is None:
        stmt = INDEX_STATE.insert().values(
            model_version=model_version, generation=0, epoch=secrets.token_hex(8)
        )
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(INDEX_STATE).values(
                model_version=model_version, generation=0, epoch=secrets.token_hex(8)
            )
            stmt = stmt.on_conflict_do_nothing(index_elements=["model_version"])
        conn.execute(stmt)
    return int(
        conn.execute(
            update(INDEX_STATE).where(INDEX_STATE.c.model_version == model_version)
            .values(generation=INDEX_STATE.c.generation + 1).returning(INDEX_STATE.c.generation)
        ).scalar_one()
    )  # fmt: skip


def index_added(
    conn: Connection, *, template_id: int, face_id: int, subject_id: int, model_version: str
) -> int:
    """A new searchable embedding; its generation."""
    generation = bump(conn, model_version)
    conn.execute(INDEX_ENTRIES.insert().values(
        template_id=template_id, face_id=face_id, subject_id=subject_id, model_version=model_version,
        generation=generation, removed=False,
    ))  # fmt: skip
    return generation


def index_removed(
    conn: Connection, *, face_ids: Iterable[int] = (), subject_ids: Iterable[int] = (),
    template_ids: Iterable[int] = (),
) -> int:  # fmt: skip
    """Tombstone the entries of these faces, subjects or templates (every model version);
    one generation per model version touched. How many entries were removed."""
    removed = 0
    for column, ids in ((INDEX_ENTRIES.c.face_id, face_ids), (INDEX_ENTRIES.c.subject_id, subject_ids),
                        (INDEX_ENTRIES.c.template_id, template_ids)):  # fmt: skip
        values = sorted({int(i) for i in ids})
        for chunk in chunks(values):
            where = and_(column.in_(chunk), INDEX_ENTRIES.c.removed == false())
            versions = (
                conn.execute(select(INDEX_ENTRIES.c.model_version).where(where).distinct())
                .scalars()
                .all()
            )
            for version in versions:
                generation = bump(conn, version)
                removed += conn.execute(
                    update(INDEX_ENTRIES).where(where, INDEX_ENTRIES.c.model_version == version)
                    .values(removed=True, generation=generation)
                ).rowcount  # fmt: skip
    return int(removed)


def changes(conn: Connection, model_version: str, *, since: int, upto: int) -> list[Change]:
    """Entries changed after generation ``since`` up to ``upto`` (a state read before)."""
    rows = conn.execute(
        select(INDEX_ENTRIES.c.template_id, INDEX_ENTRIES.c.face_id, INDEX_ENTRIES.c.subject_id, INDEX_ENTRIES.c.removed)
        .where(INDEX_ENTRIES.c.model_version == model_version, INDEX_ENTRIES.c.generation > since,
               INDEX_ENTRIES.c.generation <= upto)
        .order_by(INDEX_ENTRIES.c.generation, INDEX_ENTRIES.c.template_id)
    ).all()  # fmt: skip
    return [
        Change(int(r.template_id), int(r.face_id), int(r.subject_id), bool(r.removed)) for r in rows
    ]


def searchable(model_version: str | None = None) -> Any:
    """The ground truth: a select of ``(template_id, face_id, subject_id, model_version)`` of
    every embedding that may be searched (not quarantined, subject active, face not excluded)."""
    query = (
        select(TEMPLATES.c.id.label("template_id"), TEMPLATES.c.face_id, TEMPLATES.c.subject_id,
               TEMPLATES.c.model_version)
        .join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
        .join(FACES, FACES.c.id == TEMPLATES.c.face_id)
        .where(TEMPLATES.c.kind == EMBEDDING, TEMPLATES.c.quarantined_at.is_(None),
               SUBJECTS.c.status == "active", FACES.c.excluded_request_id.is_(None))
    )  # fmt: skip
    return (
        query if model_version is None else query.where(TEMPLATES.c.model_version == model_version)
    )


@dataclass(frozen=True)
class Consistency:
    """How the index rows compare with the templates: ``missing`` searchable templates
    without a live entry, ``stale`` live entries that may no longer be searched."""

    entries: int
    searchable: int
    missing: tuple[int, ...]
    stale: tuple[int, ...]

    @property
    def consistent(self) -> bool:
        return not self.missing and not self.stale

    def to_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "searchable": self.searchable, "missing": len(self.missing),
                "stale": len(self.stale), "consistent": self.consistent}  # fmt: skip


def check(conn: Connection, model_version: str | None = None) -> Consistency:
    """Compare the live entries with :func:`searchable` (template ids)."""
    truth = {int(r.template_id) for r in conn.execute(searchable(model_version))}
    live_query = select(INDEX_ENTRIES.c.template_id).where(INDEX_ENTRIES.c.removed == false())
    if model_version is not None:
        live_query = live_query.where(INDEX_ENTRIES.c.model_version == model_version)
    live = {int(t) for t in conn.execute(live_query).scalars()}
    return Consistency(
        len(live), len(truth), tuple(sorted(truth - live)), tuple(sorted(live - truth))
    )


def rebuild(conn: Connection) -> Consistency:
    """Recompute every entry from the templates, drop the tombstones, start a new epoch for
    every model version: every process rebuilds its in-memory copy before its next search.
    Returns what was found before the rebuild."""
    before = check(conn)
    rows = [dict(r._mapping) for r in conn.execute(searchable())]
    versions = {str(v) for v in conn.execute(select(INDEX_STATE.c.model_version)).scalars()} | {
        str(r["model_version"]) for r in rows
    }
    conn.execute(delete(INDEX_ENTRIES))
    generations: dict[str, int] = {}
    for version in sorted(versions):
        generations[version] = bump(conn, version)
        conn.execute(
            update(INDEX_STATE).where(INDEX_STATE.c.model_version == version)
            .values(epoch=secrets.token_hex(8), rebuilt_at=utcnow())
        )  # fmt: skip
    for chunk in chunks(rows):
        conn.execute(INDEX_ENTRIES.insert(), [
            {**r, "generation": generations[str(r["model_version"])], "removed": False}
            for r in chunk
        ])  # fmt: skip
    return before


def live_entries(conn: Connection, model_version: str) -> int:
    return int(conn.execute(
        select(func.count()).select_from(INDEX_ENTRIES)
        .where(INDEX_ENTRIES.c.model_version == model_version, INDEX_ENTRIES.c.removed == false())
    ).scalar_one())  # fmt: skip


__all__ = ["Change", "Consistency", "IndexState", "bump", "changes", "check", "index_added",
           "index_removed", "live_entries", "read_state", "rebuild", "searchable"]  # fmt: skip
