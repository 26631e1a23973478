"""Exact nearest-neighbour search over face embeddings, with delete-by-subject. Pure numpy.

Example::

    index = ExactIndex(dim=128)
    index.add(face_ids=[1, 2], subject_ids=[7, 7], vectors=np.stack([v1, v2]))
    index.search(query, k=5, max_distance=0.6)   # [(face_id, subject_id, distance), ...]
    index.remove_subject(7)

Euclidean distance, as dlib's descriptor is trained for (same person below ~0.6). Exact search
is a matrix-vector product: about 16 ms per query over 1 M x 128 on two cores (measured in
``bench/search.py``), so no approximate index is needed at this scale; its recall is 1.0 by
construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Match:
    face_id: int
    subject_id: int
    distance: float


class ExactIndex:
    """Embeddings in one contiguous float32 matrix; rows removed by compaction."""

    def __init__(self, dim: int = 128) -> None:
        self.dim = dim
        self._vectors: Vectors = np.empty((0, dim), dtype=np.float32)
        self._norms: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self._faces: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._subjects: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._faces.size)

    def add(self, *, face_ids: Sequence[int], subject_ids: Sequence[int], vectors: Vectors) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if not len(face_ids) == len(subject_ids) == vectors.shape[0]:
            raise ValueError("face_ids, subject_ids and vectors must have the same length")
        self._vectors = np.vstack([self._vectors, vectors])
        self._norms = np.concatenate([self._norms, np.einsum("ij,ij->i", vectors, vectors)])
        self._faces = np.concatenate([self._faces, np.asarray(face_ids, dtype=np.int64)])
        self._subjects = np.concatenate([self._subjects, np.asarray(subject_ids, dtype=np.int64)])

    def remove_subject(self, subject_id: int) -> int:
        """Drop every vector of ``subject_id``; returns how many went."""
        keep = self._subjects != subject_id
        removed = int((~keep).sum())
        if removed:
            self._vectors = self._vectors[keep]
            self._norms = self._norms[keep]
            self._faces = self._faces[keep]
            self._subjects = self._subjects[keep]
        return removed

    def subjects(self) -> set[int]:
        return {int(s) for s in np.unique(self._subjects)}

    def search(
        self, query: Vectors, *, k: int = 10, max_distance: float | None = None
    ) -> list[Match]:
        """The ``k`` nearest faces to ``query``, nearest first, optionally within a distance."""
        if not len(self):
            return []
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        squared = self._norms - 2.0 * (self._vectors @ q) + float(q @ q)
        k = min(k, squared.size)
        nearest = np.argpartition(squared, k - 1)[:k]
        nearest = nearest[np.argsort(squared[nearest], kind="stable")]
        distances = np.sqrt(np.maximum(squared[nearest], 0.0))
        return [
            Match(int(self._faces[i]), int(self._subjects[i]), float(d))
            for i, d in zip(nearest, distances, strict=True)
            if max_distance is None or d <= max_distance
        ]
