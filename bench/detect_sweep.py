"""Benchmark: detection options (passes, fusion, threshold) on both shared box sets, with CV.

Run by hand (`.venv/bin/python bench/detect_sweep.py`); not part of the tests. The raw
CenterFace output of every pass of every image (threshold 0.2, so any higher threshold is a
filter of it) is computed once and cached in ``--cache`` (default
``/tmp/faceledger-detect-cache.json``); every option below is then evaluated from the cache
without running the model again, so the sweep is cheap on a shared machine.

Passes (each is a resize of the working image, boxes mapped back to working pixels):
``x1`` (working scale), ``x2`` (upscaled 2x, bicubic), ``x1.5``, ``coarse`` (640 px longer
side), ``flip`` (mirrored, working scale), ``flip2`` (mirrored, upscaled 2x). The cache is
incremental: a pass added here is computed for the cached images only. Options combine passes
with NMS or weighted box fusion (WBF); "gated" upscaled passes run only where the first pass
found no face or one under 64 px, as ``detector.pass_plan`` does.

Thresholds are chosen by k-fold cross-validation (5 and 10) over the union of the WIDER subset
and the dlib group photos (folds stratified by set): on k-1 folds the rule "lowest grid
threshold whose pooled precision reaches the target" (targets 0.90 / 0.91 / 0.92) picks a
threshold, scored on the held-out fold. Options are ranked by held-out recall among those whose
held-out precision stays >= 0.91 (the goal's 0.90 with a margin) with every dlib face found;
``--nested`` cross-validates that choice of option too; ``--per-fold`` prints every fold.
(Tiling is not an option here: the WIDER images are 1024 px, under ``detect_max_side``, so a
tile of the working image is the working image; on larger images tiling at working resolution
is what the upscaled pass already does.)
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
PASSES = ("x1", "x2", "x1.5", "coarse", "flip", "flip2")


def read_truth(root: Path) -> dict[str, list[TruthFace]]:
    truth: dict[str, list[TruthFace]] = {}
    with (root / "boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            box = BBox.from_xywh(*(float(row[k]) for k in ("x", "y", "w", "h")))
            truth.setdefault(row["image"], []).append(
                TruthFace(box, row.get("invalid", "0") == "1")
            )
    return truth


def _resize(rgb: np.ndarray, factor: float) -> np.ndarray:
    size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
    method = Image.Resampling.BICUBIC if factor > 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(rgb).resize(size, method))


def _raw_pass(detector: object, rgb: np.ndarray, name: str) -> list[list[float]]:
    h, w = rgb.shape[:2]
    factor = {
        "x1": 1.0,
        "x2": 2.0,
        "x1.5": 1.5,
        "flip": 1.0,
        "flip2": 2.0,
        "coarse": 640 / max(h, w),
    }[name]
    image = rgb if factor == 1.0 else _resize(rgb, factor)
    if name.startswith("flip"):
        width = image.shape[1]
        rows = []
        for f in detector(np.ascontiguousarray(image[:, ::-1])):  # type: ignore[operator]
            b = f.box
            lms = [(width - x, y) for x, y in f.landmarks]
            lms = [lms[1], lms[0], lms[2], lms[4], lms[3]]
            rows.append([v / factor for v in (width - b.x2, b.y1, width - b.x1, b.y2)] + [f.score]
                        + [v / factor for p in lms for v in p])  # fmt: skip
        return rows
    faces = detector(image)  # type: ignore[operator]
    return [[*(v / factor for v in f.box.as_list()), f.score,
             *[v / factor for p in f.landmarks for v in p]] for f in faces]  # fmt: skip


def build_cache(path: Path, passes: tuple[str, ...] = PASSES) -> dict[str, dict[str, object]]:
    """``{set/image: {"scale": s, "size": [w, h], "passes": {name: [[x1,y1,x2,y2,score,lm...]]}, "ms": {}}}``.

    Incremental: passes already in the cache are kept, missing ones (a pass added to ``PASSES``,
    an image added to a set) are computed and the cache is rewritten after every image."""
    cache: dict[str, dict[str, object]] = json.loads(path.read_text()) if path.is_file() else {}
    missing = [
        (s, root, image)
        for s, root in SETS.items()
        for image in sorted(read_truth(root))
        if not set(passes) <= set(cache.get(f"{s}/{image}", {}).get("passes", {}))
    ]  # type: ignore[arg-type]
    if not missing:
        return cache
    from faceledger.vision.centerface import CenterFace

    settings = load_settings()
    detector = CenterFace(threshold=RAW_THRESHOLD, threads=2)
    for set_name, root, image in missing:
        loaded = load_image(
            root / image, max_pixels=settings.max_image_pixels, max_side=settings.detect_max_side
        )
        entry = cache.setdefault(f"{set_name}/{image}", {"passes": {}, "ms": {}})
        entry.update({"scale": loaded.scale, "size": [loaded.width, loaded.height],
                      "working": list(loaded.rgb.shape[:2])})  # fmt: skip
        detector(loaded.rgb[:64, :64])  # model loaded outside the timings
        for name in passes:
            if name in entry["passes"]:  # type: ignore[operator]
                continue
            start = time.perf_counter()
            entry["passes"][name] = _raw_pass(detector, loaded.rgb, name)  # type: ignore[index]
            entry["ms"][name] = (time.perf_counter() - start) * 1000  # type: ignore[index]
        path.write_text(json.dumps(cache))
        print(f"cached {set_name}/{image}", file=sys.stderr, flush=True)
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
        if name == "coarse" and not (
            max(h, w) > 1000 and (not first or any(f.box.height / scale > 256 for f in first))
        ):
            continue
        if (
            name == "flip"
            and flip_gate is not None
            and first
            and min(f.box.height / scale for f in first) >= flip_gate
        ):
            continue
        if name in ("x2", "x1.5", "flip2") and gate != "always":
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
        memo = (
            key,
            option["passes"],
            option["fusion"],
            option["gate"],
            option.get("flip_gate"),
            threshold,
        )
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
    "x1+coarse (before issue 14)": {"passes": ("x1", "coarse"), "fusion": "nms", "gate": "64"},
    "x1+x2 wbf always": {"passes": ("x1", "x2", "coarse"), "fusion": "wbf", "gate": "always"},
    "x1+x2 wbf gated": {"passes": ("x1", "x2", "coarse"), "fusion": "wbf", "gate": "64"},
    "x1+x1.5 wbf gated": {"passes": ("x1", "x1.5", "coarse"), "fusion": "wbf", "gate": "64"},
    "x1+flip wbf": {"passes": ("x1", "flip", "coarse"), "fusion": "wbf", "gate": "always"},
    "x1+flip+x2 wbf gated (landed)": {
        "passes": ("x1", "flip", "x2", "coarse"),
        "fusion": "wbf",
        "gate": "64",
    },
    "x1+flip+x2 wbf always": {
        "passes": ("x1", "flip", "x2", "coarse"),
        "fusion": "wbf",
        "gate": "always",
    },
    "x1+flip+x2 nms gated": {
        "passes": ("x1", "flip", "x2", "coarse"),
        "fusion": "nms",
        "gate": "64",
    },
    "x1+flip+x2 wbf-avg gated": {
        "passes": ("x1", "flip", "x2", "coarse"),
        "fusion": "wbf-avg",
        "gate": "64",
    },
    "x1+flip+x1.5 wbf gated": {
        "passes": ("x1", "flip", "x1.5", "coarse"),
        "fusion": "wbf",
        "gate": "64",
    },
    "x1+flip+x1.5+x2 wbf gated": {
        "passes": ("x1", "flip", "x1.5", "x2", "coarse"),
        "fusion": "wbf",
        "gate": "64",
    },
    "x1+flip+x2+flip2 wbf gated": {
        "passes": ("x1", "flip", "x2", "flip2", "coarse"),
        "fusion": "wbf",
        "gate": "64",
    },
    "x1+flip+x2+flip2 wbf always": {
        "passes": ("x1", "flip", "x2", "flip2", "coarse"),
        "fusion": "wbf",
        "gate": "always",
    },
    "x1+flip+x2 wbf gated, no coarse": {
        "passes": ("x1", "flip", "x2"),
        "fusion": "wbf",
        "gate": "64",
    },
}
GRID = [round(0.25 + 0.025 * i, 3) for i in range(15)]  # 0.25 .. 0.60
TARGETS = (0.90, 0.91, 0.92)  # pooled precision the threshold rule asks of the training folds
GOAL_PRECISION = 0.91  # held-out precision an option must keep (the goal's 0.90 plus a margin)


def choose_threshold(cache: dict, keys: list[str], truth: dict, option: dict,
                     min_precision: float = 0.92) -> float:  # fmt: skip
    """The lowest grid threshold whose pooled precision on ``keys`` reaches ``min_precision``
    (most recall at that precision, as recall only falls with the threshold); the
    highest-precision one if none does."""
    best = None
    for t in GRID:
        result = evaluate(cache, keys, truth, option, t)
        if result["precision"] >= min_precision:
            return t
        if best is None or result["precision"] > best[1]:
            best = (t, result["precision"])
    assert best is not None
    return best[0]


def folds_of(keys: list[str], folds: int, seed: int | None = None) -> dict[str, int]:
    """Images of each set dealt into ``folds`` (in name order, or shuffled by ``seed``), so
    every fold holds both sets."""
    by_set = {s: [k for k in keys if k.startswith(s + "/")] for s in SETS}
    if seed is not None:
        rng = np.random.default_rng(seed)
        by_set = {s: [ks[i] for i in rng.permutation(len(ks))] for s, ks in by_set.items()}
    return {k: i % folds for s in by_set.values() for i, k in enumerate(s)}


def cross_validate(cache: dict, truth: dict, option: dict, folds: int = 5,
                   min_precision: float = 0.92, seed: int | None = None) -> dict[str, object]:  # fmt: skip
    """k-fold CV over the images of both sets (each fold holds images of both): threshold
    chosen on k-1 folds, scored on the held-out fold; per-fold and pooled held-out counts."""
    keys = sorted(cache)
    fold_of = folds_of(keys, folds, seed)
    chosen, per_fold, tp, fn, fp = [], [], 0, 0, 0
    dlib_found = 0
    buckets: dict[str, list[int]] = {}
    for f in range(folds):
        train = [k for k in keys if fold_of[k] != f]
        test = [k for k in keys if fold_of[k] == f]
        t = choose_threshold(cache, train, truth, option, min_precision)
        chosen.append(t)
        r = evaluate(cache, test, truth, option, t)
        per_fold.append(r)
        tp, fn, fp = tp + r["tp"], fn + r["fn"], fp + r["fp"]
        for b, (hit, n) in r["buckets"].items():
            acc = buckets.setdefault(b, [0, 0])
            acc[0], acc[1] = acc[0] + hit, acc[1] + n
        dlib_found += evaluate(cache, [k for k in test if k.startswith("dlib/")], truth, option, t)[
            "tp"
        ]
    return {"thresholds": chosen, "recall": tp / (tp + fn), "precision": tp / max(1, tp + fp), "fp": fp,
            "tp": tp, "fn": fn, "dlib_found": dlib_found, "per_fold": per_fold, "buckets": buckets}  # fmt: skip


def nested(cache: dict, truth: dict, options: dict[str, dict], folds: int) -> dict[str, object]:
    """The whole selection procedure cross-validated: on each training split, every option and
    rule target picks its threshold there and the (option, target) with the most training recall
    at training precision >= GOAL_PRECISION wins; it is scored on the held-out fold."""
    keys = sorted(cache)
    fold_of = folds_of(keys, folds)
    tp = fn = fp = 0
    picks = []
    for f in range(folds):
        train = [k for k in keys if fold_of[k] != f]
        test = [k for k in keys if fold_of[k] == f]
        best = None
        for name, option in options.items():
            for target in TARGETS:
                t = choose_threshold(cache, train, truth, option, target)
                r = evaluate(cache, train, truth, option, t)
                if r["precision"] >= GOAL_PRECISION and (best is None or r["recall"] > best[0]):
                    best = (r["recall"], name, t)
        assert best is not None
        r = evaluate(cache, test, truth, options[best[1]], best[2])
        picks.append((best[1], best[2]))
        tp, fn, fp = tp + r["tp"], fn + r["fn"], fp + r["fp"]
    return {"picks": picks, "recall": tp / (tp + fn), "precision": tp / max(1, tp + fp)}


def _buckets(b: dict[str, list[int]]) -> str:
    return " ".join(f"{k}:{v[0]}/{v[1]}" for k, v in sorted(b.items()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/faceledger-detect-cache.json"))
    parser.add_argument("--option", action="append", help="evaluate only these options")
    parser.add_argument("--folds", type=int, action="append", help="CV folds (default 5 and 10)")
    parser.add_argument(
        "--per-fold", action="store_true", help="print every fold's threshold and counts"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=0,
        help="also repeat 5-fold CV over this many shuffled fold assignments (mean figures)",
    )
    parser.add_argument(
        "--nested", action="store_true", help="also cross-validate the option selection itself"
    )
    args = parser.parse_args()
    cache = build_cache(args.cache)
    truth = {
        f"{s}/{image}": faces
        for s, root in SETS.items()
        for image, faces in read_truth(root).items()
    }
    wider = [k for k in sorted(cache) if k.startswith("wider/")]
    dlib = [k for k in sorted(cache) if k.startswith("dlib/")]
    single_ms = sum(cache[k]["ms"]["x1"] for k in wider)
    options = {n: o for n, o in OPTIONS.items() if not args.option or n in args.option}
    summary = []
    for name, option in options.items():
        print(f"\n== {name}")
        for folds in args.folds or [5, 10]:
            for target in TARGETS:
                cv = cross_validate(cache, truth, option, folds, target)
                summary.append((name, folds, target, cv))
                print(f"  {folds:2d}-fold, rule P>={target:.2f}: thresholds {cv['thresholds']} -> held-out recall "
                      f"{cv['recall']:.3f} ({cv['tp']}/{cv['tp'] + cv['fn']}) precision {cv['precision']:.3f} "
                      f"({cv['fp']} FP), dlib {cv['dlib_found']}/18 | {_buckets(cv['buckets'])}")  # fmt: skip
                if args.per_fold:
                    for i, (t, r) in enumerate(zip(cv["thresholds"], cv["per_fold"], strict=True)):
                        print(f"      fold {i}: t={t:.3f} R {r['recall']:.3f} ({r['tp']}/{r['tp'] + r['fn']}) "
                              f"P {r['precision']:.3f} ({r['fp']} FP)")  # fmt: skip
        for t in (0.35, 0.375, 0.4, 0.425, 0.45):
            w = evaluate(cache, wider, truth, option, t)
            d = evaluate(cache, dlib, truth, option, t)
            print(f"  t={t:.3f} WIDER R {w['recall']:.3f} P {w['precision']:.3f} FP {w['fp']:3d} | dlib {d['tp']}/18 "
                  f"FP {d['fp']} | model time x{w['ms'] / single_ms:.2f} | {_buckets(w['buckets'])}")  # fmt: skip
    print(
        f"\n== options by held-out recall at held-out precision >= {GOAL_PRECISION} (both fold counts)"
    )
    by_key: dict[tuple[str, float], list[dict]] = {}
    for name, _folds, target, cv in summary:
        by_key.setdefault((name, target), []).append(cv)
    ranked = sorted(by_key.items(), key=lambda kv: -min(cv["recall"] for cv in kv[1]))
    for (name, target), cvs in ranked:
        ok = all(cv["precision"] >= GOAL_PRECISION and cv["dlib_found"] == 18 for cv in cvs)
        figures = " / ".join(f"R {cv['recall']:.3f} P {cv['precision']:.3f}" for cv in cvs)
        print(f"  {'ok ' if ok else '-- '}{name:36} rule {target:.2f}: {figures}")
    if args.repeats:
        print(f"\n== 5-fold CV repeated over {args.repeats} shuffled fold assignments: mean held-out R / P, "
              f"share of repeats with P >= {GOAL_PRECISION}, worst dlib")  # fmt: skip
        for name, option in options.items():
            for target in TARGETS:
                runs = [
                    cross_validate(cache, truth, option, 5, target, seed)
                    for seed in range(args.repeats)
                ]
                r = np.mean([cv["recall"] for cv in runs])
                pr = np.mean([cv["precision"] for cv in runs])
                ok = np.mean([cv["precision"] >= GOAL_PRECISION for cv in runs])
                dl = min(cv["dlib_found"] for cv in runs)
                print(
                    f"  {name:36} rule {target:.2f}: R {r:.3f} P {pr:.3f} P-ok {ok:.2f} dlib {dl}/18"
                )
    if args.nested:
        for folds in args.folds or [5, 10]:
            n = nested(cache, truth, options, folds)
            print(f"\nnested {folds}-fold (option and threshold chosen inside each training split): recall "
                  f"{n['recall']:.3f} precision {n['precision']:.3f}; picks {n['picks']}")  # fmt: skip


if __name__ == "__main__":
    main()
