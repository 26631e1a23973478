"""Benchmark: `faceledger extract` rate against its models' own rate, and face_recognition.

Run by hand (`make bench` or `.venv/bin/python bench/embed.py`). On the LFW subset of
shared/data (one face per image, 112 images), in one run:
  - the limit: a tight loop of what extract computes per face — the configured embedder's
    vector (default SFace, aligned on CenterFace's 5 landmarks) plus dlib's 68 landmarks for
    the DiF measures — on pre-decoded images with known boxes, one process,
  - the raw dlib 5-point + ResNet descriptor (the `dlib-resnet-v1` embedder), for reference,
  - `face_recognition.face_encodings` with known face locations (model "small", 5 points),
  - `faceledger extract` end to end (decode, landmarks, embedding, DiF measures, clustering,
    encryption, ledger writes) with 1 and 2 workers,
with faces/s and ratios against the limit (times the worker count for extract).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from faceledger.vision.dlib_models import DlibModels, embedder_for  # noqa: E402
from faceledger.vision.images import load_image  # noqa: E402

DEFAULT_SET = REPO.parent / "shared" / "data" / "lfw_verification"


def faces(images: list[Path]) -> list[tuple[np.ndarray, object, np.ndarray]]:
    """(image, box, 5 landmarks) of the largest face of each image, in working pixels."""
    detector = CenterFace(threshold=0.4, threads=2)
    out = []
    for path in images:
        rgb = load_image(path, max_pixels=10**8, max_side=1600).rgb
        found = detector(rgb)
        if found:
            face = max(found, key=lambda f: f.box.area)
            out.append((rgb, face.box, np.asarray(face.landmarks, dtype=np.float64)))
    return out


def bench_models(samples: list[tuple[np.ndarray, object, np.ndarray]], repeat: int) -> float:
    """The configured embedder plus the 68 landmarks, per face: extract's model-bound limit."""
    embedder = embedder_for(load_settings())
    rgb, box, points = samples[0]
    embedder.embed(rgb, box, landmarks=points)  # warm up both models
    embedder.dlib.landmarks68(rgb, box)
    start = time.perf_counter()
    for _ in range(repeat):
        for rgb, box, points in samples:
            embedder.embed(rgb, box, landmarks=points)
            embedder.dlib.landmarks68(rgb, box)
    return repeat * len(samples) / (time.perf_counter() - start)


def bench_dlib(samples: list[tuple[np.ndarray, object, np.ndarray]], repeat: int) -> float:
    models = DlibModels()
    models.embed(*samples[0][:2])
    start = time.perf_counter()
    for _ in range(repeat):
        for rgb, box, _points in samples:
            models.embed(rgb, box)
    return repeat * len(samples) / (time.perf_counter() - start)


def bench_face_recognition(
    samples: list[tuple[np.ndarray, object, np.ndarray]], repeat: int
) -> float | None:
    face_recognition = import_face_recognition()
    if face_recognition is None:
        return None
    start = time.perf_counter()
    for _ in range(repeat):
        for rgb, box, _points in samples:
            location = [(int(box.y1), int(box.x2), int(box.y2), int(box.x1))]
            face_recognition.face_encodings(rgb, known_face_locations=location, model="small")
    return repeat * len(samples) / (time.perf_counter() - start)


class Ticks:
    """A progress sink that keeps (time, faces so far) at every tick, to tell the workers'
    start (model loads) from their steady rate."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int]] = []

    @contextmanager
    def task(self, name: str, *, total: int | None, unit: str) -> Iterator[Callable[..., None]]:
        done = 0

        def tick(n: int = 1, **counters: object) -> None:
            nonlocal done
            done += n
            self.marks.append((time.perf_counter(), done))

        yield tick

    def steady(self) -> float:
        """Faces/s from the first batch written to the last."""
        (t0, n0), (t1, n1) = self.marks[0], self.marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


def bench_extract(images: list[Path], workers: int, repeat: int) -> tuple[float, float]:
    """(end-to-end faces/s including the workers' start, faces/s after the first batch)."""
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
        # the manifest lists the images where they lie, outside its own folder
        ingest_paths(ledger, [root], roots={image.parent for image in images})
        scan_pending(ledger, settings)
        assess_faces(ledger, settings, purpose=settings.purpose)
        start = time.perf_counter()
        ticks = Ticks()
        report = extract_templates(
            ledger, KeyVault.open(settings), settings, purpose=settings.purpose, progress=ticks
        )
        rate = report.extracted / (time.perf_counter() - start)
        ledger.dispose()
    if not report.extracted:  # a rate of nothing measures a broken setup, not the code
        raise SystemExit(f"extract made no template: {report}")
    return rate, ticks.steady()


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
    name = embedder_for(load_settings()).name
    raw = bench_models(samples, args.repeat)
    rows = [(f"raw {name} + dlib 68 landmarks, 1 process", raw, 1)]
    rows.append(
        ("raw dlib 5-point + ResNet descriptor, 1 process", bench_dlib(samples, args.repeat), 1)
    )
    fr = bench_face_recognition(samples, args.repeat)
    if fr:
        rows.append(("face_recognition.face_encodings (small), 1 process", fr, 1))
    for workers in (1, 2):
        whole, steady = bench_extract(images, workers, args.repeat)
        rows.append((f"faceledger extract, {workers} worker(s), end to end", whole, workers))
        rows.append(("  the same after its first batch (workers started)", steady, workers))
    again = bench_models(samples, args.repeat)  # the host is shared: the limit is the better run
    rows.append((f"raw {name} + dlib 68 landmarks, again at the end", again, 1))
    limit = max(raw, again)
    print(f"{'what':56} {'faces/s':>8} {'x limit':>8}")
    for what, rate, workers in rows:
        print(f"{what:56} {rate:8.2f} {rate / (limit * workers):8.2f}")
    print(
        "limit = the better of the two raw model runs x workers (each process runs them serially)"
    )


if __name__ == "__main__":
    main()
