"""core/evaluation: Wilson intervals, the WIDER-style box protocol, verification counts."""

from __future__ import annotations

import pytest

from faceledger.core.evaluation import (
    TruthFace,
    count_detections,
    proportion,
    size_bucket,
    tpr_at_fpr,
    verification,
    wilson,
)
from faceledger.core.faces import BBox


def test_wilson_matches_the_textbook_values() -> None:
    low, high = wilson(18, 19)
    assert (round(low, 4), round(high, 4)) == (0.7536, 0.9906)
    assert wilson(0, 10)[0] == 0.0 and round(wilson(0, 10)[1], 4) == 0.2775
    assert wilson(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_an_interval_is_wide_when_there_are_too_few_to_tell() -> None:
    assert proportion(9, 10).wide and not proportion(900, 1000).wide
    empty = proportion(0, 0)
    assert empty.value is None and empty.wide


def test_size_buckets_follow_the_face_height() -> None:
    assert [size_bucket(h) for h in (10, 20, 31.9, 32, 64, 127, 128, 900)] == [
        "<20", "20-32", "20-32", "32-64", "64-128", "64-128", ">=128", ">=128"
    ]  # fmt: skip


def test_detections_on_ignored_or_tiny_faces_count_neither_way() -> None:
    truth = [
        TruthFace(BBox(0, 0, 40, 40)),
        TruthFace(BBox(100, 0, 140, 40)),  # missed
        TruthFace(BBox(200, 0, 240, 40), invalid=True),
        TruthFace(BBox(300, 0, 310, 10)),  # 10 px: ignored
    ]
    predicted = [
        BBox(1, 1, 41, 41),  # match
        BBox(201, 1, 241, 41),  # on the invalid face
        BBox(301, 0, 311, 10),  # on the tiny face
        BBox(400, 0, 410, 10),  # tiny detection anywhere: ignored
        BBox(500, 0, 540, 40),  # a false positive
    ]
    counts = count_detections(predicted, truth)
    assert (counts.tp, counts.fn, counts.fp) == (1, 1, 1)
    assert counts.hits == (True, False, None, None)
    assert counts.matched == (0,) and counts.false_positives == (4,)


def test_a_pair_without_a_face_is_a_miss_not_a_match() -> None:
    result = verification([(0.3, True), (None, True), (0.8, False), (0.5, False)], 0.6)
    assert (result.accuracy.k, result.accuracy.n) == (2, 4)
    assert (result.tpr.k, result.tpr.n) == (1, 2)
    assert (result.fpr.k, result.fpr.n) == (1, 2)


def test_tpr_at_fpr_picks_the_loosest_threshold_within_the_budget() -> None:
    tpr, threshold = tpr_at_fpr([0.2, 0.4, 0.7], [0.5, 0.9, 1.0], 0.0)
    assert (tpr, threshold) == (2 / 3, 0.4)
