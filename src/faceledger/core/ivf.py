"""Approximate candidate search with an exact re-rank: an inverted-file (IVF) index.

Example::

    index = IVFIndex(dim=128)
    index.add(face_ids=ids, subject_ids=subjects, vectors=vectors)   # trains once it is big
    index.search(query, k=10, max_distance=0.6)   # [Match(face_id, subject_id, distance), ...]
    index.remove_subjects([7])                    # rows and codes zeroed, never returned again

The vectors are split into ``cells`` by k-means (trained on a fixed-seed sample, so the same
vectors give the same cells). A query probes its ``nprobe`` nearest cells; every distance it
returns is the *exact* Euclidean one: the approximation is only in which cells are looked at.
Below :data:`EXACT_BELOW` vectors the index is one cell, i.e. exact search, recall 1.0 by
construction.

Layout (issue 15.2): one float32 matrix whose rows are sorted by cell, with ``offsets`` (cell
``c`` is rows ``offsets[c]:offsets[c+1]``) and the squared norms precomputed. Vectors added
after training go to a small unsorted *tail* that every query scans exactly in float32; the
tail is merged into the sorted matrix when it passes :data:`TAIL_FRACTION` of it. A removed
row is zeroed in place and tombstoned (infinite norm, ids -1: it can never be within any
distance, nor be listed); the matrix is compacted once tombstones pass :data:`COMPACT_FRACTION`.

The first pass reads 8-bit codes, not the float32 rows: once trained, every row of the matrix
also has a faiss scalar-quantiser code (``QT_8bit``: per dimension, 256 steps over the range of
the rows, 1/4 of the bytes), kept in faiss inverted lists that mirror the cells (list ``c``
holds the codes of rows ``offsets[c]:offsets[c+1]``, in order, with the row numbers as ids).
A thresholded query asks faiss (``range_search_preassigned``, our cells, one thread) for the
codes within ``max_distance + e`` (plus a float32 rounding allowance), where ``e`` is the
largest ``|row - decoded code|`` over every code (~0.007 on face-like vectors): a row within
``max_distance`` has its code within ``max_distance + e``, so no row the float32 scan of the
same cells would return is lost. Only those candidates (~150 at 1 M) are re-ranked on their
float32 rows, and the threshold and ``k`` apply to the exact distances
(``tests/core/test_ivf.py``). The codes are rebuilt from the matrix at every merge (so they
cover the range of the rows, none clipped), a removed row's code is zeroed in faiss's memory
with the row, and every list is zeroed before faiss frees it. A query without a threshold
scans the probed rows in float32. Measured (docs/scale.md): at 1 M the float32 scan of 12% of
the cells is memory-bound (p50 5-17 ms on the 2-core machine, by load); the code pass gives the
same answers in 2-4 ms.

Why IVF and not HNSW: face embeddings of one person lie close together (dlib: same person
0.2-0.55, different people 0.6-1.0), so the cells that hold a query's true matches are the
cells nearest to it; probing a few of them finds them (``bench/search.py`` measures recall on
realistic vectors and on the random worst case). Deleting a person is zeroing rows and codes
here, while graph indexes only mark deletions.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import faiss
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
#: Merge the unsorted tail into the cell-sorted matrix past this fraction of it (or 1024 rows).
TAIL_FRACTION = 0.01
_TAIL_MIN = 1_024
#: Compact the matrix (drop tombstoned rows) past this fraction of it.
COMPACT_FRACTION = 0.1
_SEED = 15
_ITERATIONS = 8
_SAMPLE_PER_CELL = 40
_CHUNK = 16_384
_GONE = -1  # face and subject id of a tombstoned row, faiss id of its zeroed code
#: Relative float32 rounding allowance of a squared distance (faiss's and the re-rank's).
_ROUNDING = 1e-4


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
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=cells)
        filled = counts > 0
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[filled]
        sums = np.add.reduceat(sample[order], starts, axis=0)  # one row per filled cell
        centroids[filled] = sums / counts[filled, None]
        empty = np.flatnonzero(~filled)
        if empty.size:  # an empty cell restarts at a random sample row
            centroids[empty] = sample[rng.choice(sample_size, empty.size, replace=False)]
    sample.fill(0.0)
    return np.asarray(centroids, dtype=np.float32)


def _squared_norms(vectors: Vectors) -> npt.NDArray[np.float32]:
    return np.asarray(np.einsum("ij,ij->i", vectors, vectors), dtype=np.float32)


class _Codes:
    """faiss 8-bit scalar-quantiser codes of a cell-sorted matrix, in inverted lists that mirror
    its cells (list ``c``: rows ``offsets[c]:offsets[c+1]``, ids = row numbers); module docs.

    Each list is allocated once at its final size and the codes are written straight into it
    (no reallocation leaves a copy behind); :meth:`drop` zeroes codes in place,
    :meth:`wipe` zeroes every list before the owner lets faiss free them.
    """

    def __init__(self, vectors: Vectors, offsets: Ids) -> None:
        cells, dim = int(offsets.size - 1), int(vectors.shape[1])
        self.offsets = offsets
        self._quantiser: Any = faiss.IndexFlatL2(dim)  # empty: the cells are IVFIndex's own
        index: Any = faiss.IndexIVFScalarQuantizer(
            self._quantiser, dim, cells, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2, False
        )
        index.sq.train(vectors)  # per-dimension min and max over every row: none clipped
        index.is_trained = True
        self._index = index
        self.code_size = int(index.code_size)
        sizes = np.diff(offsets)
        decoded = np.empty((int(sizes.max(initial=0)), dim), np.float32)
        error = 0.0
        for cell in np.flatnonzero(sizes).tolist():
            lo, hi = int(offsets[cell]), int(offsets[cell + 1])
            index.invlists.resize(cell, hi - lo)
            codes, ids = self.view(cell)
            index.sq.compute_codes_c(faiss.swig_ptr(vectors[lo:hi]), faiss.swig_ptr(codes), hi - lo)
            ids[:] = np.arange(lo, hi)
            rounded = decoded[: hi - lo]
            index.sq.decode_c(faiss.swig_ptr(codes), faiss.swig_ptr(rounded), hi - lo)
            rounded -= vectors[lo:hi]
            error = max(error, float(np.sqrt(_squared_norms(rounded).max())))
        decoded.fill(0.0)  # it held decoded rows
        #: the largest ``|row - decoded code|``: how far a code's distance is from its row's
        self.error = error

    @property
    def cells(self) -> int:
        return int(self.offsets.size - 1)

    def view(self, cell: int) -> tuple[npt.NDArray[np.uint8], Ids]:
        """Writable views of faiss's codes (one row each) and ids of one cell's list."""
        lists, size = self._index.invlists, int(self._index.invlists.list_size(cell))
        if not size:
            return np.empty((0, self.code_size), np.uint8), np.empty(0, np.int64)
        codes = faiss.rev_swig_ptr(lists.get_codes(cell), size * self.code_size)
        return codes.reshape(size, self.code_size), faiss.rev_swig_ptr(lists.get_ids(cell), size)

    def within(self, query: Vectors, cells: Ids, squared: float) -> Ids:
        """Rows of ``cells`` whose code is within ``sqrt(squared)`` of ``query`` (faiss)."""
        self._index.nprobe = int(cells.size)
        _, _, rows = self._index.range_search_preassigned(
            query.reshape(1, -1), squared, cells.reshape(1, -1), None
        )
        return np.asarray(rows[rows != _GONE], dtype=np.int64)

    def drop(self, rows: Ids) -> None:
        """Zero the codes of these rows (and drop their ids) in faiss's memory."""
        cells = np.searchsorted(self.offsets, rows, side="right") - 1
        for cell in np.unique(cells).tolist():
            codes, ids = self.view(cell)
            at = rows[cells == cell] - self.offsets[cell]
            codes[at] = 0
            ids[at] = _GONE

    def wipe(self) -> None:
        """Zero every code: called before this object, and faiss's lists with it, are dropped."""
        for cell in range(self.cells):
            codes, ids = self.view(cell)
            codes.fill(0)
            ids.fill(_GONE)


class IVFIndex:
    """Embeddings in k-means cells, stored contiguously by cell, with 8-bit codes for the first
    pass; exact distances inside the probed cells (module docs).

    ``nprobe`` (default: 12% of the cells, at least 8) trades speed for recall: the bench
    shows the curve. ``exact_below`` keeps small indexes exact. Searches are serialised on an
    internal lock (they share scratch buffers);
    :class:`~faceledger.services.biometrics.template_index.LiveIndex` holds its own lock
    around every call anyway.
    """

    def __init__(self, dim: int = 128, *, nprobe: int | None = None, exact_below: int = EXACT_BELOW,
                 per_cell: int = PER_CELL) -> None:  # fmt: skip
        self.dim = dim
        self.nprobe = nprobe
        self.exact_below = exact_below
        self.per_cell = per_cell
        self._lock = threading.Lock()
        self._scratch: npt.NDArray[np.float32] = np.empty((2, 0), np.float32)
        self._codes: _Codes | None = None
        self._reset()

    def _reset(self) -> None:
        dim = self.dim
        self._centroids: Vectors = np.zeros((1, dim), np.float32)
        self._centroid_norms: npt.NDArray[np.float32] = np.zeros(1, np.float32)
        # the cell-sorted matrix: cell c is rows offsets[c]:offsets[c+1]
        self._vectors: Vectors = np.empty((0, dim), np.float32)
        self._norms: npt.NDArray[np.float32] = np.empty(0, np.float32)
        self._faces: Ids = np.empty(0, np.int64)
        self._subjects: Ids = np.empty(0, np.int64)
        self._offsets: Ids = np.zeros(2, np.int64)
        self._dead = 0  # tombstoned rows in the matrix
        if self._codes is not None:
            self._codes.wipe()
        self._codes = None  # the codes of the matrix once trained
        self._norm_cap = 0.0  # the largest squared norm of a row, for the rounding allowance
        # the unsorted tail (added since the last merge), scanned exactly by every query
        self._tail_vectors: Vectors = np.empty((0, dim), np.float32)
        self._tail_norms: npt.NDArray[np.float32] = np.empty(0, np.float32)
        self._tail_faces: Ids = np.empty(0, np.int64)
        self._tail_subjects: Ids = np.empty(0, np.int64)
        self._trained_at = 0  # size the cells were trained at (0: one exact cell)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def cells(self) -> int:
        return int(self._centroids.shape[0])

    def probes(self) -> int:
        if self.nprobe is not None:
            return max(1, min(self.nprobe, self.cells))
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
        with self._lock:
            self._size += int(faces.size)
            if self._needs_training():
                self._retrain(extra=(faces, subjects, vectors))
                return
            if not self._faces.size and not self._tail_faces.size:  # first rows: sort them in
                self._merge(faces, subjects, vectors, _squared_norms(vectors))
                return
            self._tail_vectors = np.vstack([self._tail_vectors, vectors])
            self._tail_norms = np.concatenate([self._tail_norms, _squared_norms(vectors)])
            self._tail_faces = np.concatenate([self._tail_faces, faces])
            self._tail_subjects = np.concatenate([self._tail_subjects, subjects])
            if self._tail_faces.size > max(_TAIL_MIN, TAIL_FRACTION * self._faces.size):
                self._merge_tail()

    def _needs_training(self) -> bool:
        if self._size < self.exact_below:
            return False
        return self._trained_at == 0 or self._size > RETRAIN_GROWTH * self._trained_at

    def _take_tail(self) -> tuple[Ids, Ids, Vectors, npt.NDArray[np.float32]]:
        tail = (self._tail_faces, self._tail_subjects, self._tail_vectors, self._tail_norms)
        self._tail_vectors = np.empty((0, self.dim), np.float32)
        self._tail_norms = np.empty(0, np.float32)
        self._tail_faces = np.empty(0, np.int64)
        self._tail_subjects = np.empty(0, np.int64)
        return tail

    def _merge_tail(self) -> None:
        faces, subjects, vectors, norms = self._take_tail()
        self._merge(faces, subjects, vectors, norms)
        vectors.fill(0.0)

    def _merge(
        self, faces: Ids, subjects: Ids, vectors: Vectors, norms: npt.NDArray[np.float32]
    ) -> None:
        """Sort new rows into their cells: one new matrix (the old one is zeroed, then freed);
        tombstoned rows are dropped on the way. The codes are rebuilt from the new matrix."""
        cells = self.cells
        new_labels = (
            np.zeros(faces.size, np.int64)
            if cells == 1
            else _nearest_centroid(vectors, self._centroids)
        )
        live = self._faces != _GONE
        old_labels = np.repeat(np.arange(cells), np.diff(self._offsets))[live]
        labels = np.concatenate([old_labels, new_labels])
        order = np.argsort(labels, kind="stable")  # old rows first within a cell, then the new
        old_vectors = self._vectors
        self._vectors = np.vstack([old_vectors[live], vectors])[order]
        self._norms = np.concatenate([self._norms[live], norms])[order]
        self._faces = np.concatenate([self._faces[live], faces])[order]
        self._subjects = np.concatenate([self._subjects[live], subjects])[order]
        self._offsets = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=cells))])
        self._dead = 0
        old_vectors.fill(0.0)
        if self._codes is not None:
            self._codes.wipe()
            self._codes = None
        if cells > 1 and self._faces.size:
            self._codes = _Codes(self._vectors, self._offsets)
            self._norm_cap = float(self._norms.max(initial=0.0))

    def _retrain(self, extra: tuple[Ids, Ids, Vectors] | None = None) -> None:
        live = self._faces != _GONE
        tail_faces, tail_subjects, tail_vectors, _ = self._take_tail()
        parts = [(self._faces[live], self._subjects[live], self._vectors[live]),
                 (tail_faces, tail_subjects, tail_vectors)]  # fmt: skip
        if extra is not None:
            parts.append(extra)
        faces = np.concatenate([p[0] for p in parts])
        subjects = np.concatenate([p[1] for p in parts])
        vectors = np.vstack([p[2] for p in parts])
        self._vectors.fill(0.0)  # the old copies go: zero them before they are freed
        tail_vectors.fill(0.0)
        if self._codes is not None:
            self._codes.wipe()
            self._codes = None
        cells = (
            max(1, vectors.shape[0] // self.per_cell) if vectors.shape[0] >= self.exact_below else 1
        )
        self._centroids = (
            train_centroids(vectors, cells) if cells > 1 else np.zeros((1, self.dim), np.float32)
        )
        self._centroid_norms = _squared_norms(self._centroids)
        self._vectors = np.empty((0, self.dim), np.float32)
        self._norms = np.empty(0, np.float32)
        self._faces, self._subjects = np.empty(0, np.int64), np.empty(0, np.int64)
        self._offsets = np.zeros(cells + 1, np.int64)
        self._trained_at = vectors.shape[0] if cells > 1 else 0
        self._merge(faces, subjects, vectors, _squared_norms(vectors))
        vectors.fill(0.0)

    # --- removing -----------------------------------------------------------------------

    def _remove(self, column: str, ids: Iterable[int]) -> int:
        wanted = np.fromiter((int(i) for i in ids), dtype=np.int64)
        wanted = wanted[wanted != _GONE]
        if not wanted.size or not self._size:
            return 0
        with self._lock:
            main = np.flatnonzero(np.isin(getattr(self, f"_{column}"), wanted))
            # zeroed in place, then tombstoned: never within any distance, never listed
            self._vectors[main] = 0.0
            self._norms[main] = np.inf
            self._faces[main] = _GONE
            self._subjects[main] = _GONE
            if self._codes is not None and main.size:
                self._codes.drop(main)
            self._dead += int(main.size)
            gone = np.isin(getattr(self, f"_tail_{column}"), wanted)
            tail = int(gone.sum())
            if tail:
                self._tail_vectors[gone] = 0.0
                keep = ~gone
                self._tail_vectors = self._tail_vectors[keep]
                self._tail_norms = self._tail_norms[keep]
                self._tail_faces = self._tail_faces[keep]
                self._tail_subjects = self._tail_subjects[keep]
            removed = int(main.size) + tail
            self._size -= removed
            if self._dead > COMPACT_FRACTION * self._faces.size:
                self._merge_tail()  # drops the tombstones too
            return removed

    def remove_faces(self, face_ids: Iterable[int]) -> int:
        """Drop these faces' vectors and codes (zeroed first); how many went."""
        return self._remove("faces", face_ids)

    def remove_subjects(self, subject_ids: Iterable[int]) -> int:
        """Drop every vector and code of these subjects (zeroed first); how many went."""
        return self._remove("subjects", subject_ids)

    def clear(self) -> None:
        """Zero and drop everything."""
        with self._lock:
            self._vectors.fill(0.0)
            self._tail_vectors.fill(0.0)
            self._reset()

    def subjects(self) -> set[int]:
        found = np.unique(np.concatenate([self._subjects, self._tail_subjects]))
        return {int(s) for s in found if s != _GONE}

    def faces(self) -> set[int]:
        found = np.concatenate([self._faces, self._tail_faces])
        return {int(f) for f in found[found != _GONE]}

    # --- searching ----------------------------------------------------------------------

    def _probed(self, q: Vectors) -> Ids:
        """The probed cells, ascending."""
        nprobe = self.probes()
        if nprobe >= self.cells:
            return np.arange(self.cells, dtype=np.int64)
        to_cells = self._centroid_norms - 2.0 * (self._centroids @ q)
        return np.sort(np.argpartition(to_cells, nprobe - 1)[:nprobe]).astype(np.int64)

    def _spans(self, cells: Ids) -> tuple[Ids, Ids]:
        """Row ranges ``[lo, hi)`` of these cells (ascending), adjacent cells merged."""
        lo, hi = self._offsets[cells], self._offsets[cells + 1]
        runs = np.flatnonzero(lo[1:] != hi[:-1]) + 1  # where a run of adjacent cells breaks
        return lo[np.r_[0, runs]], hi[np.r_[runs - 1, hi.size - 1]]

    def _buffers(self, size: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        if self._scratch.shape[1] < size:
            self._scratch = np.empty((2, max(size, 2 * self._scratch.shape[1])), np.float32)
        return self._scratch[0, :size], self._scratch[1, :size]

    def search(
        self, query: Vectors, *, k: int = 10, max_distance: float | None = None
    ) -> list[Match]:
        """The ``k`` nearest faces among the probed cells, nearest first, exact distances."""
        if not self._size or k <= 0:
            return []
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(self.dim))
        qq = float(q @ q)
        with self._lock:
            cells = self._probed(q)
            if self._codes is not None and max_distance is not None:
                faces, subjects, squared = self._scan_codes(
                    q, qq, cells, k=k, limit=max_distance**2
                )
            else:
                # a tombstone's squared distance is inf: it never passes, even without a limit
                limit = float(np.finfo(np.float32).max) if max_distance is None else max_distance**2
                faces, subjects, squared = self._scan_exact(q, qq, cells, k=k, limit=limit)
        order = np.lexsort((faces, squared))[:k]  # nearest first; ties by face id
        distances = np.sqrt(np.maximum(squared[order], 0.0))
        return [
            Match(int(faces[i]), int(subjects[i]), float(d))
            for i, d in zip(order, distances, strict=True)
        ]

    @staticmethod
    def _nearest(squared: npt.NDArray[np.float32], *, k: int, limit: float) -> Ids:
        """Positions within ``limit``: the ``k`` nearest and whatever ties the k-th."""
        near = np.flatnonzero(squared <= limit)
        if near.size > k:
            kth = squared[near[np.argpartition(squared[near], k - 1)[k - 1]]]
            near = near[squared[near] <= kth]
        return near

    def _scan_exact(
        self, q: Vectors, qq: float, cells: Ids, *, k: int, limit: float
    ) -> tuple[Ids, Ids, npt.NDArray[np.float32]]:
        """Every row of the probed cells and the tail in float32: the ``k`` nearest within
        ``limit`` (and ties), as face ids, subject ids and squared distances."""
        lo, hi = self._spans(cells)
        main = int((hi - lo).sum())
        squared, norms = self._buffers(main + self._tail_faces.size)
        vectors, all_norms = self._vectors, self._norms
        pos = 0
        for start, stop in zip(lo.tolist(), hi.tolist(), strict=True):
            end = pos + stop - start
            np.dot(vectors[start:stop], q, out=squared[pos:end])
            norms[pos:end] = all_norms[start:stop]
            pos = end
        if self._tail_faces.size:
            np.dot(self._tail_vectors, q, out=squared[main:])
            norms[main:] = self._tail_norms
        squared *= -2.0
        squared += norms
        squared += qq
        near = self._nearest(squared, k=k, limit=limit)
        in_main = near < main
        rows = np.r_[0, np.cumsum(hi - lo)]  # position in the probed spans -> matrix row
        span = np.searchsorted(rows, near[in_main], side="right") - 1
        at = np.asarray(lo[span] + (near[in_main] - rows[span]), dtype=np.int64)
        tail = near[~in_main] - main
        return (
            np.concatenate([self._faces[at], self._tail_faces[tail]]),
            np.concatenate([self._subjects[at], self._tail_subjects[tail]]),
            squared[near],  # a copy: the scratch buffer is reused
        )

    def _scan_codes(
        self, q: Vectors, qq: float, cells: Ids, *, k: int, limit: float
    ) -> tuple[Ids, Ids, npt.NDArray[np.float32]]:
        """The codes of the probed cells first (faiss), then the float32 rows of the candidates
        and of the tail: the ``k`` nearest within ``limit`` (and ties), exact distances.

        A code's distance is within ``e`` (:attr:`_Codes.error`) of its row's, so a row at
        ``d <= r`` has a code at ``<= r + e``: the filter ``r + e`` (plus float32 rounding of
        both computations) keeps every row the float32 scan would return."""
        assert self._codes is not None
        rounding = _ROUNDING * (1.0 + qq + self._norm_cap)
        reach = (math.sqrt(limit + rounding) + self._codes.error) ** 2 + rounding
        rows = self._codes.within(q, cells, reach)
        picked = self._vectors[rows]
        near_main = picked @ q
        picked.fill(0.0)  # a copy of decrypted rows: zeroed before it is freed
        tail = self._tail_vectors @ q
        squared = np.concatenate([near_main, tail]).astype(np.float32, copy=False)
        squared *= -2.0
        squared += np.concatenate([self._norms[rows], self._tail_norms])
        squared += qq
        near = self._nearest(squared, k=k, limit=limit)
        faces = np.concatenate([self._faces[rows], self._tail_faces])[near]
        subjects = np.concatenate([self._subjects[rows], self._tail_subjects])[near]
        return faces, subjects, squared[near]
