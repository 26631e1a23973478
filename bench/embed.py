"""Benchmark: `faceledger extract` rate against the raw dlib descriptor and face_recognition.

Run by hand (`make bench` or `.venv/bin/python bench/embed.py`). On the LFW subset of
shared/data (one face per image, 112 images), in one run:
  - raw dlib: a tight loop of 5-point shape + ResNet descriptor on pre-decoded images with
    known boxes, one process (the model-bound limit per core),
  - `face_recognition.face_encodings` with known face locations (model "small", 5 points),
  - `faceledger extract` end to end (decode, landmarks, embedding, DiF measures, clustering,
    encryption, ledger writes) with 1 and 2 workers,
with faces/s and ratios against the raw limit (times the worker count for extract).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from _compat import import_face_recognition  # noqa: E402

from faceledger.config import load_settings  # noqa: E402
from faceledger.services.biometrics.extract import extract_templates  # noqa: E402
from faceledger.services.collection.ingest import ingest_paths  # noqa: E402
from faceledger.services.collection.scan import scan_pending  # noqa: E402
from faceledger.services.decisions.assess import assess_faces  # noqa: E402
from faceledger.store import open_ledger  # noqa: E402
from faceledger.store.vault import KeyVault  # noqa: E402
from faceledger.vision.centerface import CenterFace  # noqa: E402
from faceledger.vision.dlib_models import DlibModels  # noqa: E402
from faceledger.vision.images import load_image  # noqa: E402

DEFAULT_SET = REPO.parent / "shared" / "data" / "lfw_verification"


def faces(images: list[Path]) -> list[tuple[np.ndarray, object]]:
    detector = CenterFace(threshold=0.4, threads=2)
    out = []
    for path in images:
        rgb = load_image(path, max_pixels=10**8, max_side=1600).rgb
        found = detector(rgb)
        if found:
            out.append((rgb, max(found, key=lambda f: f.box.area).box))
    return out


def bench_raw(samples: list[tuple[np.ndarray, object]], repeat: int) -> float:
    models = DlibModels()
    models.embed(*samples[0])
    start = time.perf_counter()
    for _ in range(repeat):
        for rgb, box in samples:
            models.embed(rgb, box)
    return repeat * len(samples) / (time.perf_counter() - start)


def bench_face_recognition(samples: list[tuple[np.ndarray, object]], repeat: int) -> float | None:
    face_recognition = import_face_recognition()
    if face_recognition is None:
        return None
    start = time.perf_counter()
    for _ in range(repeat):
        for rgb, box in samples:
            location = [(int(box.y1), int(box.x2), int(box.y2), int(box.x1))]
            face_recognition.face_encodings(rgb, known_face_locations=location, model="small")
    return repeat * len(samples) / (time.perf_counter() - start)


def bench_extract(images: list[Path], workers: int, repeat: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "set")
        root.mkdir()
        with (root / "photos.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["photo_id", "path", "owner_location", "latitude", "longitude"])
            for copy in range(repeat):
                for i, image in enumerate(images):
                    writer.writerow([f"{copy}-{i}", str(image), "Miami, FL", 25.76, -80.19])
        settings = load_settings(
            workers=workers,
            processor_location="US-FL",
            data_dir=Path(tmp, "data"),
            retention_limit_days=1095,
        )
        ledger = open_ledger(f"sqlite:///{tmp}/bench.db")
        ingest_paths(ledger, [root])
        scan_pending(ledger, settings)
        assess_faces(ledger, settings, purpose=settings.purpose)
        start = time.perf_counter()
        report = extract_templates(
            ledger, KeyVault.open(settings), settings, purpose=settings.purpose
        )
        rate = report.extracted / (time.perf_counter() - start)
        ledger.dispose()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, default=DEFAULT_SET)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    images = sorted(args.images.glob("images/**/*.jpg"))
    samples = faces(images)
    print(f"{len(samples)} faces from {len(images)} images in {args.images}")
    raw = bench_raw(samples, args.repeat)
    rows = [("raw dlib 5-point + ResNet descriptor, 1 process", raw, raw)]
    fr = bench_face_recognition(samples, args.repeat)
    if fr:
        rows.append(("face_recognition.face_encodings (small), 1 process", fr, raw))
    for workers in (1, 2):
        rows.append((f"faceledger extract, {workers} worker(s), end to end",
                     bench_extract(images, workers, args.repeat), raw * workers))  # fmt: skip
    print(f"{'what':56} {'faces/s':>8} {'x limit':>8}")
    for name, rate, limit in rows:
        print(f"{name:56} {rate:8.2f} {rate / limit:8.2f}")
    print("limit = raw dlib rate x workers (the descriptor is single-threaded per process)")


if __name__ == "__main__":
    main()
