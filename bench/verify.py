"""Benchmark: face verification pipelines side by side on the shared LFW pairs.

Run by hand (`.venv/bin/python bench/verify.py`); not part of the tests. For every image of
``lfw_verification`` (the largest face) each option computes a 128-D descriptor; the 60 pairs
are then scored at the option's embedder threshold (dlib 0.6, SFace 1.095 = cosine 0.40;
``EMBEDDER_THRESHOLDS``), and the table shows accuracy, the gap between the hardest
same-person and different-person distances, TPR at FPR <= 0.034 (1 of 30 different pairs),
faces/s of the embedding step (one thread, model time only) and its ratio to dlib's. For the
two embedders ``compare`` can use by alignment of record (ours, SFace) every image is embedded,
and a second table scores all C(n, 2) pairs of them: accuracy at the threshold, TPR at FPR
1e-2 and 1e-3, and the hardest pairs.

Options:
  SFace (CenterFace 5 points -> ArcFace) the default embedder ``sface-2021dec``: OpenCV Zoo's
                                         SFace on onnxruntime, on a 112x112 chip aligned by a
                                         similarity from CenterFace's 5 points
  ours (CenterFace box -> dlib 5-point)  ``dlib-resnet-v1``
  CenterFace landmarks -> dlib chip      CenterFace's own 5 points mapped by a similarity
                                         transform onto dlib's 150x150 chip template (the
                                         template is the mean of dlib-aligned chip positions
                                         over the images *not* used in any pair)
  CenterFace box -> dlib 68-point        alignment on the 68-point model (non-commercial data)
  ours + 10 jitters                      the descriptor averaged over 10 jittered chips
  HOG box -> dlib 5-point                face_recognition's own pipeline rebuilt on dlib (HOG,
                                         upsample 1, 5-point, 1 jitter): the reference when
                                         the ``face_recognition`` package is not installed
  face_recognition.face_encodings        the package itself, when installed (bench/_compat.py)

Embeddings are cached in ``--cache`` so a rerun costs nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SET = REPO.parent / "shared" / "data" / "lfw_verification"
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from _compat import import_face_recognition  # noqa: E402

from faceledger.config import load_settings  # noqa: E402
from faceledger.core.evaluation import tpr_at_fpr, verification  # noqa: E402
from faceledger.core.faces import BBox  # noqa: E402
from faceledger.vision.centerface import CenterFace  # noqa: E402
from faceledger.vision.detector import detect_image  # noqa: E402
from faceledger.vision.dlib_models import (  # noqa: E402
    EMBEDDER_THRESHOLDS,
    PREDICTOR_5,
    PREDICTOR_68,
    RESNET,
    DlibModels,
    chip_from_landmarks,
    chip_transform,
)
from faceledger.vision.sface import SFace  # noqa: E402

CACHE_VERSION = 2  # 2: SFace added; ours and SFace for every image


def _largest(
    root: Path, image: str, detector: CenterFace
) -> tuple[np.ndarray, BBox, np.ndarray] | None:
    settings = load_settings()
    found = detect_image(root / image, detector, max_pixels=settings.max_image_pixels,
                         max_side=settings.detect_max_side)  # fmt: skip
    if not found.faces:
        return None
    face = max(found.faces, key=lambda f: f.box.area)
    rgb = found.image.rgb
    s = rgb.shape[1] / found.width
    return rgb, face.box.scaled(s), np.array(face.landmarks) * s


def embed_all(
    root: Path, images: list[str], template_images: set[str]
) -> dict[str, dict[str, list[float] | None]]:
    import dlib

    models = DlibModels()
    sface = SFace()
    sface.embed_chip(np.zeros((112, 112, 3), dtype=np.uint8))  # load outside the timed calls
    detector = CenterFace(threshold=load_settings().detector_threshold, threads=1)
    resnet, p5, p68 = models._get(RESNET), models._get(PREDICTOR_5), models._get(PREDICTOR_68)
    hog = dlib.get_frontal_face_detector()
    located = {
        image: _largest(root, image, detector) for image in sorted(set(images) | template_images)
    }
    # the CenterFace-landmark template: mean chip position of CenterFace's points on faces aligned
    # by dlib's 5-point model, over images used in no pair
    mapped = []
    for image in sorted(template_images):
        if located[image] is None:
            continue
        rgb, box, lms = located[image]
        shape = p5(np.ascontiguousarray(rgb), models_rect(box))
        mapped.append(chip_transform(shape).apply(lms))
    template = np.mean(mapped, axis=0)
    out: dict[str, dict[str, list[float] | None]] = {
        "_template": {"points": template.ravel().tolist()}
    }
    timings: dict[str, float] = {}

    def timed(name: str, fn: object, *args: object) -> list[float] | None:
        start = time.perf_counter()
        vector = fn(*args)  # type: ignore[operator]
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        return None if vector is None else [float(v) for v in vector]

    def hog_embed(pixels: np.ndarray) -> object:
        rects = hog(pixels, 1)
        if not rects:
            return None
        r = max(rects, key=lambda r: r.area())
        return resnet.compute_face_descriptor(pixels, p5(pixels, r), 1)

    def dlib_embed(rgb: np.ndarray, rect: object, predictor: object, jitters: int) -> object:
        return resnet.compute_face_descriptor(rgb, predictor(rgb, rect), jitters)  # type: ignore[operator]

    def chip_embed(rgb: np.ndarray, lms: np.ndarray) -> object:
        return resnet.compute_face_descriptor(chip_from_landmarks(rgb, lms, template), 0)

    for image in sorted(located):
        if image in images:
            continue
        hit = located[image]  # images of no pair: only the two embedders of record, for all pairs
        if hit is not None:
            rgb, box, lms = hit
            rgb = np.ascontiguousarray(rgb)
            out[image] = {"ours": timed("ours", dlib_embed, rgb, models_rect(box), p5, 0),
                          "sface": timed("sface", sface.embed, rgb, lms)}  # fmt: skip
    for image in images:
        entry: dict[str, list[float] | None] = {}
        hit = located[image]
        if hit is not None:
            rgb, box, lms = hit
            rgb = np.ascontiguousarray(rgb)
            rect = models_rect(box)
            entry["sface"] = timed("sface", sface.embed, rgb, lms)
            entry["ours"] = timed("ours", dlib_embed, rgb, rect, p5, 0)
            entry["cf-landmarks"] = timed("cf-landmarks", chip_embed, rgb, lms)
            entry["dlib68"] = timed("dlib68", dlib_embed, rgb, rect, p68, 0)
            entry["jitter10"] = timed("jitter10", dlib_embed, rgb, rect, p5, 10)
        pixels = np.asarray(Image.open(root / image).convert("RGB"))
        entry["hog"] = timed("hog", hog_embed, pixels)
        out[image] = entry
    out["_seconds"] = {k: [v] for k, v in timings.items()}
    out["_version"] = {"cache": [float(CACHE_VERSION)]}
    return out


def _rate_at(same: np.ndarray, different: np.ndarray, max_fpr: float) -> float:
    """TPR at the largest threshold whose FPR <= ``max_fpr`` (numpy, for thousands of pairs)."""
    diff = np.sort(different)
    allowed = int(np.floor(max_fpr * len(diff)))  # different pairs that may fall within
    threshold = diff[allowed] if allowed < len(diff) else np.inf  # strictly below the next one
    return float((same < threshold).mean())


def all_pairs(cache: dict[str, dict[str, list[float] | None]], key: str, threshold: float) -> str:
    """One row over every pair of the images that ``key`` embedded (not only the official 60)."""
    names = sorted(k for k, v in cache.items() if not k.startswith("_") and v.get(key) is not None)
    vectors = np.array([cache[n][key] for n in names], dtype=np.float64)
    people = np.array([n.split("/")[-2] for n in names])
    i, j = np.triu_indices(len(names), k=1)
    distance = np.linalg.norm(vectors[i] - vectors[j], axis=1)
    is_same = people[i] == people[j]
    same, different = distance[is_same], distance[~is_same]
    accuracy = float(((distance <= threshold) == is_same).mean())
    return (f"{len(names):6d} {int(is_same.sum()):5d} {len(different):6d} {accuracy:9.4f} "
            f"{_rate_at(same, different, 1e-2):9.3f} {_rate_at(same, different, 1e-3):9.3f} "
            f"{same.max():8.3f} {different.min():8.3f}")  # fmt: skip


def models_rect(box: BBox) -> object:
    import dlib

    return dlib.rectangle(
        int(round(box.x1)), int(round(box.y1)), int(round(box.x2)), int(round(box.y2))
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=Path, default=DEFAULT_SET / "pairs.csv")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/faceledger-verify-cache.json"))
    args = parser.parse_args()
    root = args.pairs.parent
    with args.pairs.open() as handle:
        pairs = [
            (r["image1"], r["image2"], r["same_identity"] == "1") for r in csv.DictReader(handle)
        ]
    in_pairs = {p for a, b, _ in pairs for p in (a, b)}
    every = sorted(str(p.relative_to(root)) for p in (root / "images").glob("*/*.jpg"))
    cache = json.loads(args.cache.read_text()) if args.cache.is_file() else {}
    if cache.get("_version", {}).get("cache") != [float(CACHE_VERSION)]:
        cache = embed_all(root, sorted(in_pairs), set(every) - in_pairs)
        args.cache.write_text(json.dumps(cache))
    names = {"sface": "SFace (CenterFace 5 points -> ArcFace chip)",
             "ours": "ours (CenterFace box -> dlib 5-point)", "cf-landmarks": "CenterFace landmarks -> dlib chip",
             "dlib68": "CenterFace box -> dlib 68-point", "jitter10": "ours + 10 jitters",
             "hog": "HOG box -> dlib 5-point (face_recognition's pipeline)"}  # fmt: skip
    seconds = {k: v[0] for k, v in cache["_seconds"].items()}
    print(
        f"{len(pairs)} pairs, {len(in_pairs)} images; template from {len(set(every) - in_pairs)} other images"
    )
    print(f"{'option':56} {'thr':>5} {'acc@thr':>7} {'same max':>8} {'diff min':>8} {'TPR@FPR<=1/30':>13} "
          f"{'faces/s':>8} {'x dlib':>6}")  # fmt: skip
    dlib_rate = (
        sum(1 for k, v in cache.items() if not k.startswith("_") and v.get("ours") is not None)
        / seconds["ours"]
    )
    for key, name in names.items():
        threshold = EMBEDDER_THRESHOLDS[
            "sface-2021dec" if key == "sface" else "dlib-resnet-v1"
        ].match
        scored: list[tuple[float | None, bool]] = []
        same, diff = [], []
        for a, b, is_same in pairs:
            va, vb = cache[a].get(key), cache[b].get(key)
            d = (
                None
                if va is None or vb is None
                else float(np.linalg.norm(np.array(va) - np.array(vb)))
            )
            scored.append((d, is_same))
            if d is not None:
                (same if is_same else diff).append(d)
        result = verification(scored, threshold)
        tpr, _ = tpr_at_fpr(same, diff, 1 / 30)
        embedded = sum(
            1 for k, v in cache.items() if not k.startswith("_") and v.get(key) is not None
        )
        rate = (
            embedded
            if key in ("ours", "sface")
            else sum(1 for i in in_pairs if cache[i].get(key) is not None)
        ) / seconds[key]
        print(f"{name:56} {threshold:5.3f} {result.accuracy.value:7.3f} {max(same):8.3f} {min(diff):8.3f} {tpr:13.3f} "
              f"{rate:8.1f} {rate / dlib_rate:6.2f}"
              f"   (same median {statistics.median(same):.3f}, diff median {statistics.median(diff):.3f})")  # fmt: skip
    print(f"\nall pairs of every embedded image:\n{'option':56} {'images':>6} {'same':>5} {'diff':>6} "
          f"{'acc@thr':>9} {'TPR@1e-2':>9} {'TPR@1e-3':>9} {'same max':>8} {'diff min':>8}")  # fmt: skip
    for key, model in (("sface", "sface-2021dec"), ("ours", "dlib-resnet-v1")):
        print(f"{names[key]:56} {all_pairs(cache, key, EMBEDDER_THRESHOLDS[model].match)}")
    if import_face_recognition() is None:
        print("face_recognition itself not measured: the HOG row rebuilds its pipeline on dlib")


if __name__ == "__main__":
    main()
