"""Benchmark: detection options (passes, fusion, threshold) on both shared box sets, with CV.

Run by hand (`.venv/bin/python bench/detect_sweep.py`); not part of the tests. The raw
CenterFace output of every pass of every image (threshold 0.2, so any higher threshold is a
filter of it) is computed once and cached in ``--cache`` (default
``/tmp/faceledger-detect-cache.json``); every option below is then evaluated from the cache
without running the model again, so the sweep is cheap on a shared machine.

Passes (each is a resize of the working image, boxes mapped back to working pixels):
``x1`` (working scale), ``x2`` (upscaled 2x, bicubic), ``x1.5``, ``coarse`` (640 px longer
side), ``flip`` (mirrored, working scale). Options combine passes with NMS or weighted box
fusion (WBF); thresholds are chosen by leave-one-image-out-per-fold cross-validation over
the union of the WIDER subset and the dlib group photos (folds stratified by set).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))

from faceledger.config import load_settings  # noqa: E402
from faceledger.core.evaluation import TruthFace, count_detections, size_bucket  # noqa: E402
from faceledger.core.faces import BBox, FaceDetection, five_landmarks  # noqa: E402
from faceledger.vision.detector import fuse_detections  # noqa: E402
from faceledger.vision.images import load_image  # noqa: E402

SETS = {"wider": SHARED / "wider_face_val_subset", "dlib": SHARED / "dlib_pascal_group_faces"}
RAW_THRESHOLD = 0.2
PASSES = ("x1", "x2", "x1.5", "coarse", "flip")


def read_truth(root: Path) -> dict[str, list[TruthFace]]:
    truth: dict[str, list[TruthFace]] = {}
    with (root / "boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            box = BBox.from_xywh(*(float(row[k]) for k in ("x", "y", "w", "h")))
            truth.setdefault(row["image"], []).append(TruthFace(box, row.get("invalid", "0") == "1"))
    return truth


def _resize(rgb: np.ndarray, factor: float) -> np.ndarray:
    size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
    method = Image.Resampling.BICUBIC if factor > 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(rgb).resize(size, method))


def _raw_pass(detector: object, rgb: np.ndarray, name: str) -> list[list[float]]:
    h, w = rgb.shape[:2]
    if name == "flip":
        faces = detector(np.ascontiguousarray(rgb[:, ::-1]))  # type: ignore[operator]
        rows = []
        for f in faces:
            b = f.box
            lms = [(w - x, y) for x, y in f.landmarks]
            lms = [lms[1], lms[0], lms[2], lms[4], lms[3]]
            rows.append([w - b.x2, b.y1, w - b.x1, b.y2, f.score, *[v for p in lms for v in p]])
        return rows
    factor = {"x1": 1.0, "x2": 2.0, "x1.5": 1.5, "coarse": 640 / max(h, w)}[name]
    image = rgb if factor == 1.0 else _resize(rgb, factor)
    faces = detector(image)  # type: ignore[operator]
    return [[*(v / factor for v in f.box.as_list()), f.score,
             *[v / factor for p in f.landmarks for v in p]] for f in faces]  # fmt: skip


def build_cache(path: Path) -> dict[str, dict[str, object]]:
    """``{set/image: {"scale": s, "size": [w, h], "passes": {name: [[x1,y1,x2,y2,score,lm...]]}, "ms": {}}}``."""
    if path.is_file():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    from faceledger.vision.centerface import CenterFace

    settings = load_settings()
    detector = CenterFace(threshold=RAW_THRESHOLD, threads=2)
    cache: dict[str, dict[str, object]] = {}
    for set_name, root in SETS.items():
        for image in sorted(read_truth(root)):
            loaded = load_image(root / image, max_pixels=settings.max_image_pixels, max_side=settings.detect_max_side)
            entry: dict[str, object] = {"scale": loaded.scale, "size": [loaded.width, loaded.height],
                                        "working": list(loaded.rgb.shape[:2]), "passes": {}, "ms": {}}  # fmt: skip
            detector(loaded.rgb[:64, :64])  # model loaded outside the timings
            for name in PASSES:
                start = time.perf_counter()
                entry["passes"][name] = _raw_pass(detector, loaded.rgb, name)  # type: ignore[index]
                entry["ms"][name] = (time.perf_counter() - start) * 1000  # type: ignore[index]
            cache[f"{set_name}/{image}"] = entry
    path.write_text(json.dumps(cache))
    return cache


def _faces(rows: list[list[float]], threshold: float, scale: float) -> list[FaceDetection]:
    out = []
    for r in rows:
        if r[4] < threshold:
            continue
        lms = five_landmarks([(r[5 + 2 * i] * scale, r[6 + 2 * i] * scale) for i in range(5)])
        out.append(FaceDetection(BBox(*(v * scale for v in r[:4])), r[4], lms))
    return out


def option_faces(entry: dict, passes: tuple[str, ...], fusion: str, threshold: float,
                 gate: str, flip_gate: float | None = None) -> tuple[list[FaceDetection], list[str]]:  # fmt: skip
    """Detections of one option for one image (original pixels) and the passes that ran."""
    scale = float(entry["scale"])
    first = _faces(entry["passes"]["x1"], threshold, scale)
    ran = ["x1"]
    groups = [first]
    h, w = entry["working"]
    for name in passes:
        if name == "x1":
            continue
        if name == "coarse" and not (max(h, w) > 1000 and (not first or any(f.box.height / scale > 256 for f in first))):
            continue
        if name == "flip" and flip_gate is not None and first and min(f.box.height / scale for f in first) >= flip_gate:
            continue
        if name in ("x2", "x1.5") and gate != "always":
            heights = [f.box.height / scale for f in first]
            if heights and min(heights) >= float(gate):
                continue
        ran.append(name)
        groups.append(_faces(entry["passes"][name], threshold, scale))
    faces = [f for g in groups for f in g]
    if len(groups) == 1:
        return first, ran
    return fuse_detections(faces, method=fusion, passes=len(groups)), ran


def evaluate(cache: dict, keys: list[str], truth: dict[str, list[TruthFace]], option: dict,
             threshold: float) -> dict[str, object]:  # fmt: skip
    tp = fn = fp = 0
    buckets: dict[str, list[int]] = {}
    ms = 0.0
    for key in keys:
        memo = (key, option["passes"], option["fusion"], option["gate"], option.get("flip_gate"), threshold)
        if memo not in _MEMO:
            faces, ran = option_faces(cache[key], option["passes"], option["fusion"], threshold, option["gate"],
                                      option.get("flip_gate"))  # fmt: skip
            _MEMO[memo] = (count_detections([f.box for f in faces], truth[key]), ran)
        counts, ran = _MEMO[memo]
        ms += sum(cache[key]["ms"][p] for p in ran)
        tp, fn, fp = tp + counts.tp, fn + counts.fn, fp + counts.fp
        for j, hit in counts.truth_hits:
            b = buckets.setdefault(size_bucket(truth[key][j].box.height), [0, 0])
            b[0] += hit
            b[1] += 1
    return {"tp": tp, "fn": fn, "fp": fp, "recall": tp / max(1, tp + fn), "precision": tp / max(1, tp + fp),
            "buckets": buckets, "ms": ms}  # fmt: skip


_MEMO: dict[tuple[object, ...], tuple[object, list[str]]] = {}
OPTIONS = {
    "single x1": {"passes": ("x1",), "fusion": "nms", "gate": "64"},
    "x1+coarse (landed)": {"passes": ("x1", "coarse"), "fusion": "nms", "gate": "64"},
    "x1+x2 nms always": {"passes": ("x1", "x2", "coarse"), "fusion": "nms", "gate": "always"},
    "x1+x2 wbf always": {"passes": ("x1", "x2", "coarse"), "fusion": "wbf", "gate": "always"},
    "x1+x2 wbf gated": {"passes": ("x1", "x2", "coarse"), "fusion": "wbf", "gate": "64"},
    "x1+x2 nms gated": {"passes": ("x1", "x2", "coarse"), "fusion": "nms", "gate": "64"},
    "x1+x1.5 wbf gated": {"passes": ("x1", "x1.5", "coarse"), "fusion": "wbf", "gate": "64"},
    "x1+flip wbf": {"passes": ("x1", "flip", "coarse"), "fusion": "wbf", "gate": "always"},
    "x1+flip+x2 wbf gated": {"passes": ("x1", "flip", "x2", "coarse"), "fusion": "wbf", "gate": "64"},
    "x1+flip+x2 wbf gated, flip <128": {"passes": ("x1", "flip", "x2", "coarse"), "fusion": "wbf", "gate": "64",
                                         "flip_gate": 128},
    "x1+x2 wbf gated 48": {"passes": ("x1", "x2", "coarse"), "fusion": "wbf", "gate": "48"},
    "x1+x2 wbf gated 96": {"passes": ("x1", "x2", "coarse"), "fusion": "wbf", "gate": "96"},
    "x1+x2 wbf-avg gated": {"passes": ("x1", "x2", "coarse"), "fusion": "wbf-avg", "gate": "64"},
}
GRID = [round(0.25 + 0.025 * i, 3) for i in range(15)]  # 0.25 .. 0.60


def choose_threshold(cache: dict, keys: list[str], truth: dict, option: dict,
                     min_precision: float = 0.92) -> float:  # fmt: skip
    """The lowest grid threshold whose pooled precision on ``keys`` reaches ``min_precision``
    (most recall at that precision); the highest-precision one if none does."""
    best = None
    for t in GRID:
        result = evaluate(cache, keys, truth, option, t)
        if result["precision"] >= min_precision:
            return t
        if best is None or result["precision"] > best[1]:
            best = (t, result["precision"])
    assert best is not None
    return best[0]


def cross_validate(cache: dict, truth: dict, option: dict, folds: int = 5,
                   min_precision: float = 0.92) -> dict[str, object]:  # fmt: skip
    """k-fold CV over the images of both sets (each fold holds images of both): threshold
    chosen on k-1 folds, scored on the held-out fold; pooled held-out counts."""
    keys = sorted(cache)
    by_set = {s: [k for k in keys if k.startswith(s + "/")] for s in SETS}
    fold_of = {k: i % folds for s in by_set.values() for i, k in enumerate(s)}
    chosen, tp, fn, fp = [], 0, 0, 0
    dlib_found = 0
    for f in range(folds):
        train = [k for k in keys if fold_of[k] != f]
        test = [k for k in keys if fold_of[k] == f]
        t = choose_threshold(cache, train, truth, option, min_precision)
        chosen.append(t)
        r = evaluate(cache, test, truth, option, t)
        tp, fn, fp = tp + r["tp"], fn + r["fn"], fp + r["fp"]
        dlib_found += evaluate(cache, [k for k in test if k.startswith("dlib/")], truth, option, t)["tp"]
    return {"thresholds": chosen, "recall": tp / (tp + fn), "precision": tp / max(1, tp + fp), "fp": fp,
            "dlib_found": dlib_found}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/faceledger-detect-cache.json"))
    parser.add_argument("--option", action="append", help="evaluate only these options")
    args = parser.parse_args()
    cache = build_cache(args.cache)
    truth = {f"{s}/{image}": faces for s, root in SETS.items() for image, faces in read_truth(root).items()}
    wider = [k for k in sorted(cache) if k.startswith("wider/")]
    dlib = [k for k in sorted(cache) if k.startswith("dlib/")]
    single_ms = sum(cache[k]["ms"]["x1"] for k in wider)
    for name, option in OPTIONS.items():
        if args.option and name not in args.option:
            continue
        cv = cross_validate(cache, truth, option)
        print(f"\n== {name}: CV thresholds {cv['thresholds']} -> held-out recall {cv['recall']:.3f} "
              f"precision {cv['precision']:.3f} ({cv['fp']} FP), dlib {cv['dlib_found']}/18")  # fmt: skip
        for t in (0.3, 0.35, 0.375, 0.4, 0.425, 0.45, 0.5):
            w = evaluate(cache, wider, truth, option, t)
            d = evaluate(cache, dlib, truth, option, t)
            buckets = " ".join(f"{b}:{v[0]}/{v[1]}" for b, v in sorted(w["buckets"].items()))
            print(f"  t={t:.3f} WIDER R {w['recall']:.3f} P {w['precision']:.3f} FP {w['fp']:3d} | dlib {d['tp']}/18 "
                  f"FP {d['fp']} | model time x{w['ms'] / single_ms:.2f} | {buckets}")  # fmt: skip


if __name__ == "__main__":
    main()
