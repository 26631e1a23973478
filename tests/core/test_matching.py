from __future__ import annotations

import numpy as np
import pytest

from faceledger.core.matching import ExactIndex


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_returns_the_exact_nearest_in_order() -> None:
    rng = np.random.default_rng(1)
    vectors = _unit(rng, 500)
    index = ExactIndex()
    index.add(face_ids=list(range(500)), subject_ids=[i // 10 for i in range(500)], vectors=vectors)
    query = vectors[42] + 0.01 * rng.normal(size=128).astype(np.float32)
    found = index.search(query, k=5)
    truth = np.argsort(np.linalg.norm(vectors - query, axis=1))[:5]
    assert [m.face_id for m in found] == truth.tolist()
    assert found[0].subject_id == 4
    assert found[0].distance == pytest.approx(float(np.linalg.norm(vectors[42] - query)), abs=1e-4)
    assert [m.distance for m in found] == sorted(m.distance for m in found)


def test_threshold_and_small_indexes() -> None:
    index = ExactIndex(dim=2)
    assert index.search(np.zeros(2, dtype=np.float32)) == []
    index.add(
        face_ids=[1, 2], subject_ids=[1, 2], vectors=np.array([[0, 0], [3, 4]], dtype=np.float32)
    )
    assert [m.face_id for m in index.search(np.zeros(2, dtype=np.float32), k=10)] == [1, 2]
    assert [m.face_id for m in index.search(np.zeros(2, dtype=np.float32), max_distance=1.0)] == [1]


def test_remove_subject_removes_all_its_vectors_and_nothing_else() -> None:
    rng = np.random.default_rng(2)
    vectors = _unit(rng, 30)
    index = ExactIndex()
    index.add(face_ids=list(range(30)), subject_ids=[i % 3 for i in range(30)], vectors=vectors)
    assert index.remove_subject(1) == 10
    assert index.remove_subject(1) == 0
    assert index.subjects() == {0, 2}
    assert all(m.subject_id != 1 for m in index.search(vectors[1], k=30))
    assert len(index) == 20


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        ExactIndex().add(
            face_ids=[1], subject_ids=[1, 2], vectors=np.zeros((1, 128), dtype=np.float32)
        )
