"""The IVF index: exact below its training size, exact distances always (the faiss code pass
answers like the float32 scan), high recall of the true matches on clustered (face-like)
vectors, and removal that zeroes what it drops, codes included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from faceledger.core.ivf import IVFIndex
from faceledger.core.matching import ExactIndex

DIM = 128


def _clustered(people: int, each: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face-like vectors: a common mean, people ~0.85 apart, faces ~0.4 from each other."""
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(DIM).astype(np.float32)
    mean *= 1.3 / np.linalg.norm(mean)
    centres = mean + rng.standard_normal((people, DIM)).astype(np.float32) * (0.53 / np.sqrt(DIM))
    labels = np.repeat(np.arange(people), each)
    vectors = centres[labels] + rng.standard_normal((labels.size, DIM)).astype(np.float32) * (
        0.29 / np.sqrt(DIM)
    )
    probes = centres + rng.standard_normal((people, DIM)).astype(np.float32) * (0.29 / np.sqrt(DIM))
    return vectors.astype(np.float32), labels, probes.astype(np.float32)


def test_a_small_index_is_one_cell_and_answers_exactly_like_exact_search() -> None:
    vectors, labels, probes = _clustered(200, 5)
    ivf, exact = IVFIndex(), ExactIndex()
    for index in (ivf, exact):
        index.add(face_ids=np.arange(labels.size), subject_ids=labels, vectors=vectors)
    assert ivf.cells == 1
    for probe in probes[:50]:
        assert ivf.search(probe, k=10, max_distance=0.6) == exact.search(
            probe, k=10, max_distance=0.6
        )


def test_a_trained_index_finds_the_true_matches_with_exact_distances() -> None:
    vectors, labels, probes = _clustered(3_000, 5)
    ivf = IVFIndex(exact_below=5_000, per_cell=250)
    ivf.add(face_ids=np.arange(labels.size), subject_ids=labels, vectors=vectors)
    exact = ExactIndex()
    exact.add(face_ids=np.arange(labels.size), subject_ids=labels, vectors=vectors)
    assert ivf.cells == 60 and len(ivf) == labels.size
    truths = [{m.face_id for m in exact.search(p, k=10, max_distance=0.6) if m.subject_id == n}
              for n, p in enumerate(probes[:300])]  # fmt: skip
    assert sum(len(t) for t in truths) > 1_200
    recalls = []
    for nprobe in (4, 8, 18, 60):
        ivf.nprobe = nprobe
        found = 0
        for probe, truth in zip(probes, truths, strict=False):
            hits = ivf.search(probe, k=10, max_distance=0.6)
            for hit in hits:  # every distance is the exact one
                assert (
                    abs(hit.distance - float(np.linalg.norm(vectors[hit.face_id] - probe))) < 1e-4
                )
            found += len(truth & {m.face_id for m in hits})
        recalls.append(found / sum(len(t) for t in truths))
    assert recalls == sorted(recalls)  # more cells probed never finds less
    assert recalls[2] >= 0.99  # 30% of the cells, on isotropic (harder than face-like) spread
    assert recalls[3] == 1.0  # every cell: exact search
    assert ivf.search(probes[0], k=10) == exact.search(probes[0], k=10)


def test_removing_a_subject_zeroes_its_rows_and_never_returns_it() -> None:
    vectors, labels, probes = _clustered(3_000, 5)
    ivf = IVFIndex(exact_below=5_000, per_cell=250)
    ivf.add(face_ids=np.arange(labels.size), subject_ids=labels, vectors=vectors)
    held = ivf._vectors  # the cell-sorted matrix that held subject 7's rows before removal
    rows = np.flatnonzero(ivf._subjects == 7)
    assert rows.size == 5
    assert ivf.remove_subjects([7]) == 5 and ivf.remove_subjects([7]) == 0
    assert not held[rows].any()  # zeroed in place before being dropped
    assert 7 not in ivf.subjects() and len(ivf) == labels.size - 5
    assert all(m.subject_id != 7 for m in ivf.search(probes[7], k=10, max_distance=0.6))
    assert ivf.remove_faces([0, 1]) == 2 and {0, 1}.isdisjoint(ivf.faces())


def test_growing_past_twice_the_trained_size_retrains_and_keeps_every_vector() -> None:
    vectors, labels, _ = _clustered(2_000, 5)
    ivf = IVFIndex(exact_below=1_000, per_cell=100)
    ivf.add(face_ids=np.arange(1_000), subject_ids=labels[:1_000], vectors=vectors[:1_000])
    assert ivf.cells == 10
    ivf.add(
        face_ids=np.arange(1_000, 2_500),
        subject_ids=labels[1_000:2_500],
        vectors=vectors[1_000:2_500],
    )
    assert ivf.cells == 25 and ivf.faces() == set(range(2_500))
    ivf.add(
        face_ids=np.arange(2_500, 3_000),
        subject_ids=labels[2_500:3_000],
        vectors=vectors[2_500:3_000],
    )
    assert ivf.cells == 25 and len(ivf) == 3_000  # appended to the nearest cells
    ivf.clear()
    assert len(ivf) == 0 and ivf.search(vectors[0], k=3) == []


def test_tail_tombstones_and_compaction_keep_answers_equal_to_exact_search() -> None:
    """Adds after training go to the exact tail, removals are tombstones then a compaction;
    probing every cell, the answers stay exactly those of exact search over what is left."""
    vectors, labels, probes = _clustered(1_000, 5)
    ivf = IVFIndex(exact_below=2_000, per_cell=100)
    ivf.add(face_ids=np.arange(3_000), subject_ids=labels[:3_000], vectors=vectors[:3_000])
    assert ivf.cells == 30 and ivf._tail_faces.size == 0
    ivf.add(face_ids=np.arange(3_000, 3_500), subject_ids=labels[3_000:3_500],
            vectors=vectors[3_000:3_500])  # fmt: skip
    assert ivf._tail_faces.size == 500 and ivf.cells == 30  # not merged, not retrained
    removed = set(range(0, 1_000, 7)) | {3_001, 3_002}
    assert ivf.remove_faces(sorted(removed)) == len(removed)
    assert ivf.remove_subjects([650]) == 5  # subject 650's faces are in the tail
    removed |= {int(f) for f in np.flatnonzero(labels == 650)}
    assert ivf._dead == 143 and ivf._tail_faces.size == 493  # tombstones below the compaction
    ivf.add(face_ids=np.arange(3_500, 5_000), subject_ids=labels[3_500:5_000],
            vectors=vectors[3_500:5_000])  # fmt: skip
    assert ivf._tail_faces.size == 0 and ivf._dead == 0  # the tail merged, tombstones dropped
    assert ivf.cells == 30 and len(ivf) == 5_000 - len(removed)
    assert ivf.faces() == set(range(5_000)) - removed
    assert np.all(np.diff(ivf._offsets) >= 0) and ivf._offsets[-1] == ivf._faces.size
    keep = np.array(sorted(ivf.faces()))
    exact = ExactIndex()
    exact.add(face_ids=keep, subject_ids=labels[keep], vectors=vectors[keep])
    ivf.nprobe = ivf.cells
    for probe in probes[::10]:
        got, want = (
            ivf.search(probe, k=10, max_distance=0.6),
            exact.search(probe, k=10, max_distance=0.6),
        )
        assert [m.face_id for m in got] == [m.face_id for m in want]
        assert np.allclose([m.distance for m in got], [m.distance for m in want], atol=1e-5)
    assert all(m.face_id not in removed for m in ivf.search(vectors[0], k=50))


def _same(got: list, want: list) -> None:
    assert [(m.face_id, m.subject_id) for m in got] == [(m.face_id, m.subject_id) for m in want]
    assert np.allclose([m.distance for m in got], [m.distance for m in want], atol=1e-5)


def _codes_of(ivf: IVFIndex, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the codes and faiss ids that faiss holds for these rows of the matrix."""
    codes = ivf._codes
    assert codes is not None
    cells = np.searchsorted(codes.offsets, rows, side="right") - 1
    views = [codes.view(int(c)) for c in cells]
    at = rows - codes.offsets[cells]
    return (np.stack([v[0][a] for v, a in zip(views, at, strict=True)]),
            np.array([v[1][a] for v, a in zip(views, at, strict=True)]))  # fmt: skip


def _float32_scan(ivf: IVFIndex, query: np.ndarray, **kwargs: object) -> list:
    """The same search without the code pass: every row of the same probed cells in float32."""
    codes, ivf._codes = ivf._codes, None
    try:
        return ivf.search(query, **kwargs)  # type: ignore[arg-type]
    finally:
        ivf._codes = codes


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    k=st.sampled_from([1, 3, 10, 40]),
    max_distance=st.sampled_from([0.3, 0.45, 0.6, 0.9, 3.0]),
    nprobe=st.integers(1, 40),
    outliers=st.booleans(),
)
def test_the_code_pass_answers_exactly_like_the_float32_scan(
    seed: int, k: int, max_distance: float, nprobe: int, outliers: bool
) -> None:
    """Whatever the probes, k and threshold, through a merge of late rows (some outside the
    first range of the codes), a tail, tombstones: the faiss code pass and the float32 re-rank
    return the same faces and distances as scanning the same cells in float32, and, probing
    every cell, as exact search."""
    rng = np.random.default_rng(seed)
    vectors, labels, probes = _clustered(700, 5, seed=seed % 97)
    ivf = IVFIndex(exact_below=1_000, per_cell=60, nprobe=nprobe)
    ivf.add(face_ids=np.arange(2_000), subject_ids=labels[:2_000], vectors=vectors[:2_000])
    late = vectors[2_000:] * (np.float32(2.0) if outliers else np.float32(1.0))
    ivf.add(face_ids=np.arange(2_000, 3_100), subject_ids=labels[2_000:3_100], vectors=late[:1_100])
    ivf.add(face_ids=np.arange(3_100, 3_500), subject_ids=labels[3_100:], vectors=late[1_100:])
    removed = {int(f) for f in rng.choice(3_500, 150, replace=False)}
    ivf.remove_faces(sorted(removed))
    assert ivf._codes is not None and 0 < ivf._tail_faces.size < 400 and ivf._dead > 0
    every = np.concatenate([vectors[:2_000], late])
    keep = np.array(sorted(set(range(3_500)) - removed))
    exact = ExactIndex()
    exact.add(face_ids=keep, subject_ids=labels[keep], vectors=every[keep])
    near = every[rng.choice(keep, 3)] + rng.normal(0, 0.02, (3, DIM)).astype(np.float32)
    queries = np.vstack([probes[rng.choice(700, 6)], near])  # near: not 0 (sqrt of rounding)
    for query in queries:
        _same(ivf.search(query, k=k, max_distance=max_distance),
              _float32_scan(ivf, query, k=k, max_distance=max_distance))  # fmt: skip
    ivf.nprobe = ivf.cells
    for query in queries:
        _same(ivf.search(query, k=k, max_distance=max_distance),
              exact.search(query, k=k, max_distance=max_distance))  # fmt: skip


def test_codes_follow_the_rows_and_are_zeroed_with_them_in_faiss_memory() -> None:
    """Each row's code decodes to within the error bound of it; removing a subject zeroes its
    codes in faiss's lists at once; a compaction, a retrain and clear zero the old lists."""
    vectors, labels, probes = _clustered(1_000, 5)
    ivf = IVFIndex(exact_below=2_000, per_cell=100)
    ivf.add(face_ids=np.arange(3_000), subject_ids=labels[:3_000], vectors=vectors[:3_000])
    codes = ivf._codes
    assert codes is not None and codes.cells == ivf.cells == 30
    assert 0 < codes.error < 0.05  # far below the 0.6 threshold: few rows to re-rank
    every, ids = _codes_of(ivf, np.arange(3_000))
    assert every.shape == (3_000, DIM) and every.dtype == np.uint8  # 1/4 of the float32 rows
    assert np.array_equal(ids, np.arange(3_000)) and every.any(axis=1).all()
    decoded = codes._index.sq.decode(every)
    assert np.linalg.norm(decoded - ivf._vectors, axis=1).max() <= codes.error + 1e-6
    rows = np.flatnonzero(ivf._subjects == 7)
    assert ivf.remove_subjects([7]) == 5
    gone, gone_ids = _codes_of(ivf, rows)
    assert not gone.any() and (gone_ids == -1).all()  # zeroed in faiss's memory, not just hidden
    assert not ivf._vectors[rows].any()
    assert all(m.subject_id != 7 for m in ivf.search(probes[7], k=10, max_distance=3.0))
    face = int(ivf._faces[100])
    assert ivf.remove_faces([face]) == 1 and not _codes_of(ivf, np.array([100]))[0].any()
    ivf.remove_faces(range(0, 3_000, 3))  # past 10% tombstones: compacted, codes rebuilt
    assert ivf._dead == 0 and ivf._codes is not codes
    assert all(not codes.view(c)[0].any() for c in range(codes.cells))  # the old lists: zeroed
    fresh = ivf._codes
    assert fresh is not None and sum(fresh.view(c)[0].shape[0] for c in range(30)) == len(ivf)
    ivf.add(face_ids=np.arange(3_000, 5_000), subject_ids=labels[3_000:], vectors=vectors[3_000:])
    assert ivf.cells == 30 and ivf._codes is not fresh  # the tail merged: codes rebuilt
    assert all(not fresh.view(c)[0].any() for c in range(fresh.cells))
    last = ivf._codes
    assert last is not None
    ivf.clear()
    assert ivf._codes is None and all(not last.view(c)[0].any() for c in range(last.cells))
    assert ivf.search(probes[0], k=3, max_distance=0.6) == []
