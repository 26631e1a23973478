"""Approximate candidate search with an exact re-rank: an inverted-file (IVF) index. Pure numpy.

Example::

    index = IVFIndex(dim=128)
    index.add(face_ids=ids, subject_ids=subjects, vectors=vectors)   # trains once it is big
    index.search(query, k=10, max_distance=0.6)   # [Match(face_id, subject_id, distance), ...]
    index.remove_subjects([7])                    # rows zeroed in memory, then dropped

The vectors are split into ``cells`` by k-means (trained on a fixed-seed sample, so the same
vectors give the same cells). A query probes its ``nprobe`` nearest cells and computes the
*exact* Euclidean distance to every vector in them: the approximation is only in which cells
are looked at, never in a distance. Below :data:`EXACT_BELOW` vectors the index is one cell,
i.e. exact search, recall 1.0 by construction.

Why IVF and not HNSW: face embeddings of one person lie close together (dlib: same person
0.2-0.55, different people 0.6-1.0), so the cells that hold a query's true matches are the
cells nearest to it; probing a few of them finds them (``bench/search.py`` measures recall on
realistic vectors and on the random worst case). Deleting a person is a masked copy here,
while graph indexes only mark deletions; and nothing beyond numpy is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from faceledger.core.matching import Match

Vectors = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]

#: Below this many vectors the index is a single cell: exact search.
EXACT_BELOW = 20_000
#: Vectors per cell the training aims at (cells = size / this).
PER_CELL = 500
#: Fraction of the cells a query probes (at least :data:`MIN_PROBE`).
PROBE_FRACTION = 0.12
MIN_PROBE = 8
#: Retrain when the index has grown this many times past the size it was trained at.
RETRAIN_GROWTH = 2.0
_SEED = 15
_ITERATIONS = 8
_SAMPLE_PER_CELL = 40
_CHUNK = 16_384


@dataclass
class _Cell:
    vectors: Vectors
    norms: npt.NDArray[np.float32]
    faces: Ids
    subjects: Ids


def _empty_cell(dim: int) -> _Cell:
    return _Cell(
        np.empty((0, dim), np.float32),
        np.empty(0, np.float32),
        np.empty(0, np.int64),
        np.empty(0, np.int64),
    )


def _nearest_centroid(vectors: Vectors, centroids: Vectors) -> npt.NDArray[np.int64]:
    """Index of the nearest centroid of each row (chunked: memory stays bounded)."""
    c_norms = np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty(vectors.shape[0], dtype=np.int64)
    for start in range(0, vectors.shape[0], _CHUNK):
        block = vectors[start : start + _CHUNK]
        out[start : start + block.shape[0]] = np.argmin(
            c_norms[None, :] - 2.0 * (block @ centroids.T), axis=1
        )
    return out


def train_centroids(vectors: Vectors, cells: int, *, seed: int = _SEED) -> Vectors:
    """k-means (Lloyd) centroids of ``vectors``, on a fixed-seed sample of ~40 rows per cell."""
    rng = np.random.default_rng(seed)
    sample_size = min(vectors.shape[0], cells * _SAMPLE_PER_CELL)
    sample = vectors[np.sort(rng.choice(vectors.shape[0], sample_size, replace=False))]
    centroids = sample[rng.choice(sample_size, cells, replace=False)].copy()
    for _ in range(_ITERATIONS):
        labels = _nearest_centroid(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, sample)
        counts = np.bincount(labels, minlength=cells)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
        empty = np.flatnonzero(~filled)
        if empty.size:  # an empty cell restarts at a random sample row
            centroids[empty] = sample[rng.choice(sample_size, empty.size, replace=False)]
    return np.asarray(centroids, dtype=np.float32)


class IVFIndex:
    """Embeddings in k-means cells; exact distances inside the probed cells.

    ``nprobe`` (default: 12% of the cells, at least 8) trades speed for recall: the bench
    shows the curve. ``exact_below`` keeps small indexes exact.
    """

    def __init__(self, dim: int = 128, *, nprobe: int | None = None, exact_below: int = EXACT_BELOW,
                 per_cell: int = PER_CELL) -> None:  # fmt: skip
        self.dim = dim
        self.nprobe = nprobe
        self.exact_below = exact_below
        self.per_cell = per_cell
        self._reset()

    def _reset(self) -> None:
        self._centroids: Vectors = np.zeros((1, self.dim), np.float32)
        self._cells: list[_Cell] = [_empty_cell(self.dim)]
        self._trained_at = 0  # size the cells were trained at (0: one exact cell)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def cells(self) -> int:
        return len(self._cells)

    def probes(self) -> int:
        if self.nprobe is not None:
            return min(self.nprobe, self.cells)
        return min(self.cells, max(MIN_PROBE, int(round(self.cells * PROBE_FRACTION))))

    # --- building -----------------------------------------------------------------------

    def add(
        self, *, face_ids: Sequence[int] | Ids, subject_ids: Sequence[int] | Ids, vectors: Vectors
    ) -> None:
        vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        faces = np.asarray(face_ids, dtype=np.int64).reshape(-1)
        subjects = np.asarray(subject_ids, dtype=np.int64).reshape(-1)
        if not faces.size == subjects.size == vectors.shape[0]:
            raise ValueError("face_ids, subject_ids and vectors must have the same length")
        if not faces.size:
            return
        self._size += int(faces.size)
        if self._needs_training():
            self._retrain(extra=(faces, subjects, vectors))
            return
        self._append(faces, subjects, vectors)

    def _needs_training(self) -> bool:
        if self._size < self.exact_below:
            return False
        return self._trained_at == 0 or self._size > RETRAIN_GROWTH * self._trained_at

    def _append(self, faces: Ids, subjects: Ids, vectors: Vectors) -> None:
        labels = (
            np.zeros(faces.size, dtype=np.int64)
            if self.cells == 1
            else _nearest_centroid(vectors, self._centroids)
        )
        order = np.argsort(labels, kind="stable")
        labels, faces, subjects, vectors = (
            labels[order],
            faces[order],
            subjects[order],
            vectors[order],
        )
        bounds = np.flatnonzero(np.diff(labels)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, labels.size], strict=True):
            cell = self._cells[int(labels[lo])]
            block = vectors[lo:hi]
            cell.vectors = np.vstack([cell.vectors, block])
            cell.norms = np.concatenate([cell.norms, np.einsum("ij,ij->i", block, block)])
            cell.faces = np.concatenate([cell.faces, faces[lo:hi]])
            cell.subjects = np.concatenate([cell.subjects, subjects[lo:hi]])

    def _retrain(self, extra: tuple[Ids, Ids, Vectors] | None = None) -> None:
        parts = [(c.faces, c.subjects, c.vectors) for c in self._cells if c.faces.size]
        if extra is not None:
            parts.append(extra)
        faces = np.concatenate([p[0] for p in parts])
        subjects = np.concatenate([p[1] for p in parts])
        vectors = np.vstack([p[2] for p in parts])
        for cell in self._cells:  # the old copies go: zero them before they are freed
            cell.vectors.fill(0.0)
        cells = (
            max(1, vectors.shape[0] // self.per_cell) if vectors.shape[0] >= self.exact_below else 1
        )
        self._centroids = (
            train_centroids(vectors, cells) if cells > 1 else np.zeros((1, self.dim), np.float32)
        )
        self._cells = [_empty_cell(self.dim) for _ in range(cells)]
        self._trained_at = vectors.shape[0] if cells > 1 else 0
        self._append(faces, subjects, vectors)
        vectors.fill(0.0)

    # --- removing -----------------------------------------------------------------------

    def _remove(self, column: str, ids: Iterable[int]) -> int:
        wanted = np.fromiter((int(i) for i in ids), dtype=np.int64)
        if not wanted.size or not self._size:
            return 0
        removed = 0
        for cell in self._cells:
            gone = np.isin(getattr(cell, column), wanted)
            count = int(gone.sum())
            if not count:
                continue
            cell.vectors[gone] = 0.0  # zeroed in place: the freed copy holds no template
            keep = ~gone
            cell.vectors, cell.norms = cell.vectors[keep], cell.norms[keep]
            cell.faces, cell.subjects = cell.faces[keep], cell.subjects[keep]
            removed += count
        self._size -= removed
        return removed

    def remove_faces(self, face_ids: Iterable[int]) -> int:
        """Drop these faces' vectors (zeroed first); how many went."""
        return self._remove("faces", face_ids)

    def remove_subjects(self, subject_ids: Iterable[int]) -> int:
        """Drop every vector of these subjects (zeroed first); how many went."""
        return self._remove("subjects", subject_ids)

    def clear(self) -> None:
        """Zero and drop everything."""
        for cell in self._cells:
            cell.vectors.fill(0.0)
        self._reset()

    def subjects(self) -> set[int]:
        return {int(s) for cell in self._cells for s in np.unique(cell.subjects)}

    def faces(self) -> set[int]:
        return {int(f) for cell in self._cells for f in cell.faces}

    # --- searching ----------------------------------------------------------------------

    def search(
        self, query: Vectors, *, k: int = 10, max_distance: float | None = None
    ) -> list[Match]:
        """The ``k`` nearest faces among the probed cells, nearest first, exact distances."""
        if not self._size or k <= 0:
            return []
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        qq = float(q @ q)
        if self.cells == 1:
            probed = [self._cells[0]]
        else:
            to_cells = np.einsum("ij,ij->i", self._centroids, self._centroids) - 2.0 * (
                self._centroids @ q
            )
            nprobe = self.probes()
            probed = [self._cells[int(i)] for i in np.argpartition(to_cells, nprobe - 1)[:nprobe]]
        limit = np.inf if max_distance is None else max_distance * max_distance
        hits_d: list[npt.NDArray[np.floating[Any]]] = []
        hits_f: list[Ids] = []
        hits_s: list[Ids] = []
        for cell in probed:
            if not cell.faces.size:
                continue
            squared = cell.norms - 2.0 * (cell.vectors @ q) + qq
            if max_distance is not None:
                near = np.flatnonzero(squared <= limit)
            elif squared.size > k:
                near = np.argpartition(squared, k - 1)[:k]
            else:
                near = np.arange(squared.size)
            if near.size:
                hits_d.append(squared[near])
                hits_f.append(cell.faces[near])
                hits_s.append(cell.subjects[near])
        if not hits_d:
            return []
        squared = np.concatenate(hits_d)
        faces, subjects = np.concatenate(hits_f), np.concatenate(hits_s)
        order = np.lexsort((faces, squared))[:k]  # nearest first; ties by face id
        distances = np.sqrt(np.maximum(squared[order], 0.0))
        return [
            Match(int(faces[i]), int(subjects[i]), float(d))
            for i, d in zip(order, distances, strict=True)
        ]
