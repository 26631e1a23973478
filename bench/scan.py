"""Benchmark: detector limit vs `faceledger scan` end to end vs face_recognition's HOG.

Run by hand (`make bench` or `.venv/bin/python bench/scan.py`); not part of the tests.
Prints, in one run on the same fixed image set (WIDER FACE val subset from shared/data):
  - raw CenterFace inference rate on pre-decoded images, with the same passes as scan
    (working scale plus the upscaled / coarse passes ``pass_plan`` calls for, fused): the
    limit scan is measured against (goal: scan >= 0.85 of it),
  - raw single-pass inference (working scale only, as before issue 14): what the extra
    recall costs,
  - `faceledger scan` end-to-end rate (decode + detect + ledger writes) with 1 and 2 workers,
  - face_recognition's HOG detector (dlib) rate,
with each rate as a ratio of both raw rates, and recall at IoU >= 0.5 on faces >= 20 px.

With ``--engine ray`` it also scans the same images with the Ray engine, the same number of
workers, and prints Ray / local pool (goal >= 0.9 on one node). The Ray cluster is started
before the timing, as a real one is already running when a scan starts: by default a local
one-node Ray with ``--ray-workers`` CPUs; with ``--nodes N`` (N >= 2) a real N-node cluster on
this machine (``ray start`` per node, one CPU each; see faceledger.engines.ray_cluster).
Inside the timing, for both engines: starting the workers, loading the model in each,
reading the bytes (Ray: the driver reads them and sends them through the object store),
detection and the ledger writes.

Example:
    .venv/bin/python bench/scan.py --engine ray --ray-workers 2
    .venv/bin/python bench/scan.py --engine ray --nodes 2 --repeat 2
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SET = REPO.parent / "shared" / "data" / "wider_face_val_subset"
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from _compat import import_face_recognition  # noqa: E402

from faceledger.config import load_settings  # noqa: E402
from faceledger.core.faces import BBox, match_detections  # noqa: E402
from faceledger.services.collection.ingest import ingest_paths  # noqa: E402
from faceledger.services.collection.scan import scan_pending  # noqa: E402
from faceledger.store import open_ledger  # noqa: E402
from faceledger.vision.centerface import CenterFace  # noqa: E402
from faceledger.vision.detector import detect_multiscale  # noqa: E402
from faceledger.vision.images import load_image  # noqa: E402


def truth(root: Path) -> dict[str, list[BBox]]:
    boxes: dict[str, list[BBox]] = defaultdict(list)
    with (root / "boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            box = BBox.from_xywh(*(float(row[k]) for k in ("x", "y", "w", "h")))
            if row.get("invalid", "0") != "1" and box.height >= 20:
                boxes[Path(row["image"]).name].append(box)
            else:
                boxes.setdefault(Path(row["image"]).name, [])
    return boxes


def recall(found: dict[str, list[BBox]], gt: dict[str, list[BBox]]) -> float:
    tp = sum(len(match_detections(found.get(k, []), v)) for k, v in gt.items())
    return tp / max(1, sum(len(v) for v in gt.values()))


def bench_raw(
    images: list[Path], repeat: int, *, passes: bool
) -> tuple[float, dict[str, list[BBox]]]:
    settings = load_settings()
    detector = CenterFace(threshold=settings.detector_threshold, threads=2)
    decoded = [
        load_image(p, max_pixels=settings.max_image_pixels, max_side=settings.detect_max_side)
        for p in images
    ]
    detector(decoded[0].rgb)  # load the model outside the timing
    run = (lambda rgb: detect_multiscale(detector, rgb)) if passes else detector
    start = time.perf_counter()
    for _ in range(repeat):
        results = [run(image.rgb) for image in decoded]
    rate = repeat * len(images) / (time.perf_counter() - start)
    found = {
        p.name: [f.box.scaled(img.scale) for f in r]
        for p, img, r in zip(images, decoded, results, strict=True)
    }
    return rate, found


def bench_scan(
    images: list[Path], workers: int, repeat: int, **engine: str
) -> tuple[float, dict[str, list[BBox]]]:
    from sqlalchemy import select

    from faceledger.store.schema import Face, Photo

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "set")
        for copy in range(repeat):
            (folder / str(copy)).mkdir(parents=True)
            for image in images:
                shutil.copy(image, folder / str(copy) / image.name)
        ledger = open_ledger(f"sqlite:///{tmp}/bench.db")
        ingest_paths(ledger, [folder])
        start = time.perf_counter()
        report = scan_pending(ledger, load_settings(workers=workers, **engine))
        rate = report.photos_done / (time.perf_counter() - start)
        found: dict[str, list[BBox]] = defaultdict(list)
        with ledger.read() as conn:
            rows = conn.execute(
                select(Photo.source_key, Face.x1, Face.y1, Face.x2, Face.y2).join(
                    Face, Face.photo_id == Photo.id
                )
            ).all()
        for key, *box in rows:
            if key.startswith("0/"):
                found[Path(key).name].append(BBox(*box))
        ledger.dispose()
    return rate, found


def bench_hog(images: list[Path]) -> tuple[float, dict[str, list[BBox]]] | None:
    face_recognition = import_face_recognition()
    if face_recognition is None:
        return None
    pixels = [face_recognition.load_image_file(str(p)) for p in images]
    start = time.perf_counter()
    results = [
        face_recognition.face_locations(img, number_of_times_to_upsample=1, model="hog")
        for img in pixels
    ]
    rate = len(images) / (time.perf_counter() - start)
    found = {
        p.name: [BBox(left, top, right, bottom) for top, right, bottom, left in r]
        for p, r in zip(images, results, strict=True)
    }
    return rate, found


def bench_ray(
    images: list[Path], workers: int, repeat: int, nodes: int
) -> tuple[float, dict[str, list[BBox]]]:
    """The Ray engine's scan rate on an already running cluster (started outside the timing)."""
    import ray

    if nodes >= 2:
        from faceledger.engines.ray_cluster import LocalCluster

        with LocalCluster(cpus_per_node=1) as cluster:
            cluster.start(nodes=nodes, timeout=300)
            return bench_scan(images, nodes, repeat, engine="ray", ray_address=cluster.address)
    temp = tempfile.mkdtemp(prefix="flbench-ray-")
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _temp_dir=temp)  # fmt: skip
    try:
        return bench_scan(images, workers, repeat, engine="ray")
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--images", type=Path, default=DEFAULT_SET, help="folder with images/ and boxes.csv"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="passes over the set for raw and scan rates"
    )
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="ray: also compare the Ray engine with the local pool on the same images",
    )
    parser.add_argument(
        "--ray-workers", type=int, default=2, help="workers for the Ray vs local pool rows"
    )
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="Ray nodes: 1 = a local Ray; N >= 2 = a real N-node cluster on this machine",
    )
    args = parser.parse_args()
    images = sorted(args.images.glob("images/**/*.jpg"))
    gt = truth(args.images)
    print(
        f"image set: {len(images)} images from {args.images} ({sum(len(v) for v in gt.values())} faces >= 20 px); "
        f"{os.cpu_count()} cores"
    )
    raw_rate, raw_found = bench_raw(images, args.repeat, passes=True)
    single_rate, single_found = bench_raw(images, args.repeat, passes=False)
    rows = [
        ("CenterFace raw, scan's passes (2 threads, pre-decoded)", raw_rate, recall(raw_found, gt)),
        (
            "CenterFace raw, single pass (2 threads, pre-decoded)",
            single_rate,
            recall(single_found, gt),
        ),
    ]
    scanned = []
    for workers in (1, 2):
        rate, found = bench_scan(images, workers, args.repeat)
        scanned.append((workers, rate, found))
        rows.append(
            (
                f"faceledger scan, {workers} worker{'s' if workers > 1 else ''} (end to end)",
                rate,
                recall(found, gt),
            )
        )
    if args.engine == "ray":
        workers = args.nodes if args.nodes >= 2 else args.ray_workers
        pool_rate, pool_found = (
            next((r, f) for w, r, f in scanned if w == workers) if workers in (1, 2)
            else bench_scan(images, workers, args.repeat)
        )  # fmt: skip
        ray_rate, ray_found = bench_ray(images, workers, args.repeat, args.nodes)
        where = f"{args.nodes} nodes x 1 CPU" if args.nodes >= 2 else "1 node"
        rows.append(
            (f"faceledger scan, Ray {workers} workers ({where})", ray_rate, recall(ray_found, gt))
        )
        ray_ratio = (ray_rate / pool_rate, workers, where, ray_found == pool_found)
    hog = bench_hog(images)
    if hog:
        rows.append(("face_recognition HOG (dlib, upsample=1)", hog[0], recall(hog[1], gt)))
    print(f"{'what':58} {'images/s':>9} {'x raw':>6} {'x single':>8} {'recall':>7}")
    for name, rate, rec in rows:
        print(f"{name:58} {rate:9.2f} {rate / raw_rate:6.2f} {rate / single_rate:8.2f} {rec:7.3f}")
    if args.engine == "ray":
        ratio, workers, where, same = ray_ratio
        print(
            f"Ray / local pool ({workers} workers each, {where}): {ratio:.2f} (goal >= 0.9 on one node); "
            f"same faces as the pool: {'yes' if same else 'NO'}"
        )


if __name__ == "__main__":
    main()
