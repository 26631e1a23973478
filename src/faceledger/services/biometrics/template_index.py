"""The searchable copy of the embeddings each process keeps in memory, kept in step with the
ledger before every search.

Example::

    index = shared_index(ledger, vault, model_version=info.version)
    index.search(probe, k=5, max_distance=0.6, actor="portal")   # brings itself up to date first
    rebuild_index(ledger, actor="cli")                          # ``faceledger index rebuild``

Design (issue 15.2; docs/biometrics.md, "Matching at scale"): the vectors are decrypted from
the templates into an :class:`~faceledger.core.ivf.IVFIndex` in this process's memory only;
the ledger holds no vector and no code derived from one (``store/template_index.py``). Before
each search the index reads, in one small query, its model version's generation and epoch,
and the key vault's shred generation:

- same epoch, higher generation: apply the changes since (decrypt the added templates,
  audited as one ``template.read``; zero and drop the removed faces and subjects);
- another epoch (``index rebuild``, a restored backup) or a lower generation: rebuild;
- the vault's shred generation moved (a key shredded anywhere, even outside faceledger's
  erasure path): drop every subject whose data key is gone.

Extraction, erasure, retention and quarantine bump the generation in their own transaction
(``services/templates``), so an erased subject is dropped by every warm process before its
next answer, and at once (before commit) by the process that erased it. No data key is kept:
the vault's key cache is emptied after every build or update.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from faceledger.core.ivf import IVFIndex
from faceledger.core.matching import Match
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.tables import INDEX_STATE, SUBJECTS, TEMPLATES
from faceledger.store.template_index import (
    Consistency,
    IndexState,
    changes,
    check,
    read_state,
    rebuild,
    searchable,
)
from faceledger.store.vault import KeyVault

EMBEDDING = "embedding"
_CHUNK = 5_000


def _vault_generation(vault: KeyVault) -> int:
    """The vault's shred generation (``vault_meta``), read on a short connection of our own."""
    conn = sqlite3.connect(vault.path, timeout=30, isolation_level=None)
    try:
        row = conn.execute(
            "SELECT value FROM vault_meta WHERE name = 'shred_generation'"
        ).fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


def _held_refs(vault: KeyVault, refs: list[str]) -> set[str]:
    """Which of ``refs`` still have a data key in the vault."""
    found: set[str] = set()
    conn = sqlite3.connect(vault.path, timeout=30, isolation_level=None)
    try:
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                r
                for (r,) in conn.execute(f"SELECT ref FROM data_keys WHERE ref IN ({marks})", chunk)
            )  # noqa: S608
    finally:
        conn.close()
    return found


@dataclass
class Refresh:
    """What one refresh did."""

    mode: str  # current | update | rebuild | shred-check | empty
    added: int = 0
    removed: int = 0


class LiveIndex:
    """One model version's embeddings, decrypted in this process (module docs). Thread-safe."""

    def __init__(
        self, ledger: Ledger, vault: KeyVault, model_version: str, *, nprobe: int | None = None
    ) -> None:
        self.ledger, self.vault, self.model_version = ledger, vault, model_version
        self._index = IVFIndex(nprobe=nprobe)
        self._state: IndexState | None = None
        self._vault_generation: int | None = None
        self._key_refs: dict[int, str] = {}  # subject id -> key ref (a name, never a key)
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._index)

    def faces(self) -> set[int]:
        with self._lock:
            return self._index.faces()

    def subjects(self) -> set[int]:
        with self._lock:
            return self._index.subjects()

    def search(
        self, query: np.ndarray, *, k: int, max_distance: float | None, actor: str, reason: str
    ) -> list[Match]:
        """Refresh, then the ``k`` nearest faces within ``max_distance`` (exact distances)."""
        with self._lock:
            self.refresh(actor=actor, reason=reason)
            return self._index.search(query, k=k, max_distance=max_distance)

    def drop(self, *, face_ids: Iterable[int] = (), subject_ids: Iterable[int] = ()) -> int:
        """Zero and forget these faces and subjects now (the erasing process, before commit)."""
        with self._lock:
            subject_ids = list(subject_ids)
            for subject in subject_ids:
                self._key_refs.pop(int(subject), None)
            return self._index.remove_faces(face_ids) + self._index.remove_subjects(subject_ids)

    def clear(self) -> None:
        with self._lock:
            self._index.clear()
            self._key_refs.clear()
            self._state, self._vault_generation = None, None

    # --- keeping in step ----------------------------------------------------------------

    def refresh(self, *, actor: str = "system", reason: str = "search") -> Refresh:
        """Bring the in-memory copy up to date with the ledger and the vault (module docs)."""
        with self._lock:
            vault_generation = _vault_generation(self.vault)
            with self.ledger.read() as conn:
                state = read_state(conn, self.model_version)
                if state is None:  # nothing was ever indexed for this version
                    if len(self._index):
                        self.clear()
                    self._vault_generation = vault_generation
                    return Refresh("empty")
                mine = self._state
                delta = None
                if (
                    mine is not None
                    and mine.epoch == state.epoch
                    and mine.generation <= state.generation
                ):
                    delta = changes(
                        conn, self.model_version, since=mine.generation, upto=state.generation
                    )
            if delta is None:
                done = self._rebuild(state, actor=actor, reason=reason)
            elif delta:
                done = self._apply(state, delta, actor=actor, reason=reason)
            else:
                done = Refresh("current")
            if (
                self._vault_generation is not None
                and vault_generation != self._vault_generation
                and done.mode != "rebuild"
            ):
                gone = self._shredded_subjects()
                done.removed += self._index.remove_subjects(gone)
                for subject in gone:
                    self._key_refs.pop(subject, None)
                done.mode = done.mode if done.mode != "current" else "shred-check"
            self._vault_generation = vault_generation
            self._state = state
            return done

    def _shredded_subjects(self) -> list[int]:
        refs = sorted(set(self._key_refs.values()))
        held = _held_refs(self.vault, refs)
        return [s for s, ref in self._key_refs.items() if ref not in held]

    def _decrypt_rows(
        self, template_ids: list[int], *, actor: str, reason: str
    ) -> tuple[list[int], list[int], list[np.ndarray]]:
        """Decrypt the searchable templates among ``template_ids`` (all if empty), audited once."""
        from faceledger.services.biometrics.templates import _decrypt

        faces: list[int] = []
        subjects: list[int] = []
        vectors: list[np.ndarray] = []
        query = searchable(self.model_version).add_columns(
            TEMPLATES.c.ciphertext, SUBJECTS.c.key_ref
        )
        with self.ledger.begin() as conn:
            chunks: list[Any] = (
                [query.order_by(TEMPLATES.c.id)] if not template_ids else
                [query.where(TEMPLATES.c.id.in_(template_ids[s : s + _CHUNK])) for s in range(0, len(template_ids), _CHUNK)]
            )  # fmt: skip
            for chunked in chunks:
                for row in conn.execute(chunked):
                    plain = _decrypt(self.vault, _Row(row), EMBEDDING, conn, actor=actor)
                    if plain is None:
                        continue
                    faces.append(int(row.face_id))
                    subjects.append(int(row.subject_id))
                    self._key_refs[int(row.subject_id)] = str(row.key_ref)
                    vectors.append(np.frombuffer(plain, dtype=np.float32))
            append(conn, AuditRecord(
                name="template.read", actor=actor, object_type="index", object_id=self.model_version,
                payload={"kind": EMBEDDING, "count": len(faces), "reason": reason},
            ))  # fmt: skip
        self.vault.forget()  # the index keeps vectors, never keys
        return faces, subjects, vectors

    def _rebuild(self, state: IndexState, *, actor: str, reason: str) -> Refresh:
        self._index.clear()
        self._key_refs.clear()
        faces, subjects, vectors = self._decrypt_rows(
            [], actor=actor, reason=f"index build: {reason}"
        )
        if faces:
            matrix = np.stack(vectors)
            self._index.add(face_ids=faces, subject_ids=subjects, vectors=matrix)
            matrix.fill(0.0)
        return Refresh("rebuild", added=len(faces))

    def _apply(self, state: IndexState, delta: list[Any], *, actor: str, reason: str) -> Refresh:
        gone = [c.face_id for c in delta if c.removed]
        added = [c.template_id for c in delta if not c.removed]
        done = Refresh("update", removed=self._index.remove_faces(gone))
        # an entry re-added after its face left (never today) must not be dropped: add last
        present = self._index.faces()
        if added:
            faces, subjects, vectors = self._decrypt_rows(
                sorted(set(added)), actor=actor, reason=f"index update: {reason}"
            )
            keep = [i for i, f in enumerate(faces) if f not in present]
            if keep:
                matrix = np.stack([vectors[i] for i in keep])
                self._index.add(
                    face_ids=[faces[i] for i in keep],
                    subject_ids=[subjects[i] for i in keep],
                    vectors=matrix,
                )
                matrix.fill(0.0)
                done.added = len(keep)
        return done


class _Row:
    """A result row as :func:`faceledger.services.biometrics.templates._decrypt` reads it (``id``)."""

    def __init__(self, row: Any) -> None:
        self.id, self.face_id, self.model_version = row.template_id, row.face_id, row.model_version
        self.ciphertext, self.key_ref = row.ciphertext, row.key_ref


# --- one copy per ledger, vault and model version in this process ---------------------------

_registry: weakref.WeakKeyDictionary[Ledger, dict[tuple[str, str], LiveIndex]] = (
    weakref.WeakKeyDictionary()
)
_registry_lock = threading.Lock()


def shared_index(ledger: Ledger, vault: KeyVault, *, model_version: str) -> LiveIndex:
    """This process's :class:`LiveIndex` for ``ledger``, ``vault`` and ``model_version``."""
    with _registry_lock:
        per_ledger = _registry.setdefault(ledger, {})
        key = (str(vault.path), model_version)
        if key not in per_ledger:
            per_ledger[key] = LiveIndex(ledger, vault, model_version)
        return per_ledger[key]


def drop_in_process(engine: Any, *, face_ids: Iterable[int], subject_ids: Iterable[int]) -> None:
    """Zero and drop faces and subjects from this process's live indexes of the ledger on
    ``engine``: called by the erasing transaction, before it commits. Should the
    commit fail, they stay out of this process's memory until its next rebuild: the error is
    on the person's side, like the shredded keys."""
    faces, subjects = sorted({int(f) for f in face_ids}), sorted({int(s) for s in subject_ids})
    if not faces and not subjects:
        return
    with _registry_lock:
        indexes = [
            i for led, per in _registry.items() if led.engine is engine for i in per.values()
        ]
    for index in indexes:
        index.drop(face_ids=faces, subject_ids=subjects)


# --- the persisted side, for the CLI ----------------------------------------------------------


def index_status(ledger: Ledger) -> dict[str, Any]:
    """Per model version: generation, epoch and live entries, and whether the entries agree
    with the templates (``faceledger index status``)."""
    from faceledger.store.template_index import live_entries

    with ledger.read() as conn:
        versions = conn.execute(select(INDEX_STATE.c.model_version, INDEX_STATE.c.generation, INDEX_STATE.c.epoch,
                                       INDEX_STATE.c.rebuilt_at).order_by(INDEX_STATE.c.model_version)).all()  # fmt: skip
        out = []
        for row in versions:
            consistency = check(conn, row.model_version)
            out.append({"model_version": row.model_version, "generation": int(row.generation), "epoch": row.epoch,
                        "rebuilt_at": row.rebuilt_at.isoformat() if row.rebuilt_at else None,
                        "entries": live_entries(conn, row.model_version), **consistency.to_dict()})  # fmt: skip
        overall = check(conn)
    return {
        "versions": out,
        "consistent": overall.consistent,
        "missing": len(overall.missing),
        "stale": len(overall.stale),
    }


def rebuild_index(ledger: Ledger, *, actor: str = "cli") -> Consistency:
    """Recompute the index entries from the templates (new epoch: every process rebuilds its
    copy before its next search); audited. Returns what was wrong before."""
    with ledger.begin() as conn:
        before = rebuild(conn)
        append(conn, AuditRecord(
            name="index.rebuild", actor=actor, object_type="index", object_id=None,
            payload={"entries": before.searchable, "missing": len(before.missing), "stale": len(before.stale)},
        ))  # fmt: skip
    return before
