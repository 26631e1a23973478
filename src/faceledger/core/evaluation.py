"""How well a detector or matcher does on labelled data: counts, Wilson intervals, box matching.

Pure: numbers and boxes in, numbers out; no I/O, no model. Used by ``faceledger evaluate``,
the quality tests and the benchmarks, so all three count the same way.

Example::

    proportion(90, 100).low                    # 0.825..., the 95% Wilson lower bound
    counts = count_detections([BBox(0, 0, 40, 40)], [TruthFace(BBox(1, 1, 41, 41))])
    counts.tp, counts.fn, counts.fp            # (1, 0, 0)
    size_bucket(40.0)                          # "32-64"

Detection protocol (WIDER FACE's, as in docs/detection.md): a labelled face counts when it is
not ``invalid`` and at least :data:`MIN_HEIGHT` px high; a detection is a true positive when it
matches such a face at IoU >= 0.5 (greedy, one-to-one, best IoU first). Detections on ignored
faces (invalid or smaller) count neither way, nor do detections smaller than
``0.7 * MIN_HEIGHT``; every other unmatched detection is a false positive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from faceledger.core.faces import BBox, match_detections

MIN_HEIGHT = 20.0
#: z for a two-sided 95% interval.
Z95 = 1.959963984540054
#: An interval wider than this (high - low) is "too few faces to tell".
WIDE_INTERVAL = 0.2
SIZE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<20", 0.0, 20.0),
    ("20-32", 20.0, 32.0),
    ("32-64", 32.0, 64.0),
    ("64-128", 64.0, 128.0),
    (">=128", 128.0, math.inf),
)
IGNORE_IOU = 0.3


@dataclass(frozen=True)
class Interval:
    """``k`` of ``n`` with its 95% Wilson score interval; ``value`` is ``None`` when n == 0."""

    k: int
    n: int
    value: float | None
    low: float | None
    high: float | None

    @property
    def wide(self) -> bool:
        """True when the interval is too wide to tell (or there is nothing to tell)."""
        return self.low is None or self.high is None or self.high - self.low > WIDE_INTERVAL

    def to_dict(self) -> dict[str, object]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {"k": self.k, "n": self.n, "value": r(self.value), "low": r(self.low),
                "high": r(self.high), "wide": self.wide}  # fmt: skip


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``k`` successes in ``n`` trials (n > 0)."""
    if n <= 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def proportion(k: int, n: int) -> Interval:
    """``k / n`` with its Wilson interval (all ``None`` when ``n`` is 0)."""
    if n == 0:
        return Interval(k, 0, None, None, None)
    low, high = wilson(k, n)
    return Interval(k, n, k / n, low, high)


def size_bucket(height: float) -> str:
    """The face-height bucket of ``height`` px: ``<20``, ``20-32``, ``32-64``, ``64-128``, ``>=128``."""
    for name, low, high in SIZE_BUCKETS:
        if low <= height < high:
            return name
    return SIZE_BUCKETS[-1][0]


@dataclass(frozen=True)
class TruthFace:
    """One labelled face: its box, whether the label set marks it invalid, and its labels."""

    box: BBox
    invalid: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)

    def counted(self, min_height: float = MIN_HEIGHT) -> bool:
        return not self.invalid and self.box.height >= min_height


@dataclass(frozen=True)
class DetectionCounts:
    """One image's outcome: ``hits[j]`` is whether counted face ``truth[j]`` was found
    (``None`` for an ignored face); ``false_positives`` and ``matched`` are indices of
    predictions (the others fell on ignored or tiny faces and count neither way)."""

    tp: int
    fn: int
    fp: int
    hits: tuple[bool | None, ...]
    false_positives: tuple[int, ...]
    matched: tuple[int, ...] = ()

    @property
    def truth_hits(self) -> list[tuple[int, bool]]:
        """``(truth index, found)`` for every counted face."""
        return [(j, hit) for j, hit in enumerate(self.hits) if hit is not None]


def count_detections(
    predicted: Sequence[BBox], truth: Sequence[TruthFace], *, iou_threshold: float = 0.5,
    min_height: float = MIN_HEIGHT,
) -> DetectionCounts:  # fmt: skip
    """Match one image's detections to its labels (see the module docs for the protocol)."""
    counted = [j for j, face in enumerate(truth) if face.counted(min_height)]
    ignored = [face.box for face in truth if not face.counted(min_height)]
    matches = match_detections(
        predicted, [truth[j].box for j in counted], iou_threshold=iou_threshold
    )
    matched_pred = {i for i, _ in matches}
    found = {counted[j] for _, j in matches}
    counted_set = set(counted)
    hits = tuple((j in found) if j in counted_set else None for j in range(len(truth)))
    false_positives = tuple(
        i for i, box in enumerate(predicted)
        if i not in matched_pred and box.height >= 0.7 * min_height
        and not any(box.iou(other) >= IGNORE_IOU for other in ignored)
    )  # fmt: skip
    return DetectionCounts(
        len(matches),
        len(counted) - len(matches),
        len(false_positives),
        hits,
        false_positives,
        tuple(sorted(matched_pred)),
    )


@dataclass
class Tally:
    """Found / counted faces per group (a band, a label value, a size bucket)."""

    found: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)

    def add(self, group: str, hit: bool) -> None:
        self.total[group] = self.total.get(group, 0) + 1
        self.found[group] = self.found.get(group, 0) + int(hit)

    def intervals(self, order: Sequence[str] = ()) -> dict[str, Interval]:
        keys = [k for k in order if k in self.total] + sorted(
            k for k in self.total if k not in order
        )
        return {k: proportion(self.found[k], self.total[k]) for k in keys}


@dataclass(frozen=True)
class VerificationResult:
    """Accuracy, TPR and FPR of a matcher at ``threshold`` (distance <= threshold = same)."""

    threshold: float
    accuracy: Interval
    tpr: Interval
    fpr: Interval

    def to_dict(self) -> dict[str, object]:
        return {"threshold": self.threshold, "accuracy": self.accuracy.to_dict(),
                "tpr": self.tpr.to_dict(), "fpr": self.fpr.to_dict()}  # fmt: skip


def verification(
    pairs: Iterable[tuple[float | None, bool]], threshold: float
) -> VerificationResult:
    """Score ``(distance, same)`` pairs; a pair with no distance (no face found) counts as
    "different" (the matcher could not say "same"): a miss for a same pair."""
    tp = fp = tn = fn = 0
    for distance, same in pairs:
        predicted_same = distance is not None and distance <= threshold
        if same:
            tp, fn = tp + predicted_same, fn + (not predicted_same)
        else:
            fp, tn = fp + predicted_same, tn + (not predicted_same)
    return VerificationResult(
        threshold,
        proportion(tp + tn, tp + tn + fp + fn),
        proportion(tp, tp + fn),
        proportion(fp, fp + tn),
    )


def tpr_at_fpr(
    same: Sequence[float], different: Sequence[float], max_fpr: float
) -> tuple[float, float]:
    """The highest TPR whose threshold keeps FPR <= ``max_fpr``: ``(tpr, threshold)``."""
    if not same or not different:
        raise ValueError("need both same and different distances")
    best = (0.0, min(min(same), min(different)) - 1e-9)
    for t in sorted(set(same) | set(different)):
        fpr = sum(d <= t for d in different) / len(different)
        if fpr <= max_fpr:
            tpr = sum(d <= t for d in same) / len(same)
            if tpr >= best[0]:
                best = (tpr, t)
    return best
