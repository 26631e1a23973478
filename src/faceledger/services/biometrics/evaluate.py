"""``faceledger evaluate``: how well the detector and the matcher do on an owner's own labels.

Example::

    summary = evaluate_detect(Path("labels/boxes.csv"), settings)
    summary["overall"]["recall"]["value"], summary["breakdowns"]["band"]["dark"]["recall"]
    summary = evaluate_verify(Path("labels/pairs.csv"), settings)
    path = save_evaluation(ledger, settings, summary)     # <data_dir>/evaluations/, audited

Files: ``BOXES.csv`` has ``image, x, y, w, h`` (pixels of the image as displayed, top-left
corner) and optionally ``invalid`` (1 = ignore this face); ``PAIRS.csv`` has ``image1, image2,
same`` (1/0; ``same_identity`` is read too). Any other column is a label (a demographic group,
a camera, a site) and gets its own breakdown when it has at most :data:`MAX_LABEL_VALUES`
values. Image paths resolve relative to the CSV's folder.

Every figure carries its 95% Wilson interval, overall, by face size, by skin-tone band and by
label. The band is the ITA of DiF scheme 6 (``core/dif.skin_tone_5``, on dlib's 5 points of the
labelled or matched face), computed in memory for this evaluation only: no per-face value is
kept, printed or stored; the summary holds counts per band. Storing the measure itself would
need a decision allowing ``extract-template`` for that face (``faceledger extract`` does that).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from faceledger.config import Settings, available_cores
from faceledger.core.dif import ITA_BANDS, skin_tone_5
from faceledger.core.evaluation import (
    SIZE_BUCKETS,
    Interval,
    Tally,
    TruthFace,
    count_detections,
    proportion,
    size_bucket,
    verification,
)
from faceledger.core.faces import BBox
from faceledger.errors import EvaluationError, ImageError
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append

MAX_LABEL_VALUES = 20
UNKNOWN_BAND = "unknown"
BAND_ORDER = [name for name, _ in ITA_BANDS] + [UNKNOWN_BAND]
SIZE_ORDER = [name for name, _, _ in SIZE_BUCKETS]
NOT_LABELS = {"image_width", "image_height", "width", "height", "score", "identity1", "identity2"}
SKIN_TONE_NOTE = (
    "Skin-tone bands are ITA bands (DiF scheme 6, dlib 5-point regions) computed in memory for "
    "this evaluation only; no per-face measure was stored or shown. Storing it needs a policy "
    "decision that allows a template for the face (faceledger assess, then extract)."
)
DIR_NAME = "evaluations"


def _rows(path: Path, required: Iterable[str]) -> tuple[list[dict[str, str]], list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EvaluationError(f"cannot read {path}: {exc}") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise EvaluationError(
            f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(columns)})"
        )
    if not rows:
        raise EvaluationError(f"{path} has no rows")
    return rows, columns


def _labels(
    rows: list[dict[str, str]], columns: list[str], known: set[str]
) -> tuple[list[str], dict[str, str]]:
    labels, skipped = [], {}
    for column in columns:
        if column in known or column in NOT_LABELS:
            continue
        values = {row.get(column, "") for row in rows}
        if len(values) > MAX_LABEL_VALUES:
            skipped[column] = (
                f"{len(values)} distinct values (more than {MAX_LABEL_VALUES}): not a group label"
            )
        else:
            labels.append(column)
    return labels, skipped


def _number(row: dict[str, str], column: str, line: int, path: Path) -> float:
    try:
        return float(row[column])
    except ValueError:
        raise EvaluationError(
            f"{path} line {line}: {column} = {row[column]!r} is not a number"
        ) from None


@dataclass
class _Breakdowns:
    """Tallies of several metrics per breakdown (``size``, ``band``, ``label:<column>``)."""

    tallies: dict[str, dict[str, Tally]] = field(default_factory=dict)

    def add(self, breakdown: str, group: str, metric: str, hit: bool) -> None:
        self.tallies.setdefault(breakdown, {}).setdefault(metric, Tally()).add(group, hit)

    def to_dict(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for breakdown, metrics in self.tallies.items():
            order = SIZE_ORDER if breakdown == "size" else BAND_ORDER if breakdown == "band" else []
            groups: dict[str, dict[str, Any]] = {}
            for metric, tally in metrics.items():
                for group, interval in tally.intervals(order).items():
                    groups.setdefault(group, {})[metric] = interval.to_dict()
            ordered = [g for g in order if g in groups] + sorted(
                g for g in groups if g not in order
            )
            out[breakdown] = {g: groups[g] for g in ordered}
        return out


def _warnings(
    breakdowns: dict[str, dict[str, dict[str, Any]]], metric: str, unit: str
) -> list[str]:
    warnings = []
    for breakdown, groups in breakdowns.items():
        for group, metrics in groups.items():
            item = metrics.get(metric)
            if item is None or not item["wide"]:
                continue
            what = {"band": "skin-tone band", "size": "face size"}.get(
                breakdown, breakdown.replace("label:", "")
            )
            span = (
                ""
                if item["low"] is None
                else f", 95% interval {item['low']:.2f}-{item['high']:.2f}"
            )
            warnings.append(
                f"{what} {group}: {metric} over {item['n']} {unit}{span}: too few {unit} to tell"
            )
    return warnings


def _band(models: Any, rgb: np.ndarray, box: BBox) -> str:
    """The ITA band of the face in ``box`` (working pixels), held only in this call."""
    if box.height < 20:
        return UNKNOWN_BAND
    try:
        return str(skin_tone_5(rgb, models.landmarks5(rgb, box)).band)
    except ValueError:
        return UNKNOWN_BAND


def _detector(settings: Settings) -> Any:
    from faceledger.vision.centerface import CenterFace

    return CenterFace(threshold=settings.detector_threshold, threads=max(1, available_cores()))


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def evaluate_detect(
    path: Path, settings: Settings, *, detector: Any = None, models: Any = None
) -> dict[str, Any]:
    """Detection recall and precision on ``path`` (BOXES.csv); see the module docs."""
    from faceledger.vision.detector import detect_image
    from faceledger.vision.dlib_models import DlibModels

    rows, columns = _rows(path, ("image", "x", "y", "w", "h"))
    labels, skipped = _labels(rows, columns, {"image", "x", "y", "w", "h", "invalid"})
    truth: dict[str, list[TruthFace]] = {}
    for line, row in enumerate(rows, start=2):
        x, y, w, h = (_number(row, c, line, path) for c in ("x", "y", "w", "h"))
        if w < 0 or h < 0:
            raise EvaluationError(f"{path} line {line}: negative width or height")
        invalid = row.get("invalid", "0") in ("1", "true", "True", "yes")
        truth.setdefault(row["image"], []).append(
            TruthFace(BBox.from_xywh(x, y, w, h), invalid, {c: row.get(c, "") for c in labels})
        )
    detector = detector or _detector(settings)
    models = models or DlibModels.shared()
    tallies = _Breakdowns()
    tp = fn = fp = ignored = failed = 0
    for image, faces in truth.items():
        try:
            found = detect_image(path.parent / image, detector, max_pixels=settings.max_image_pixels,
                                 max_side=settings.detect_max_side)  # fmt: skip
        except ImageError:  # its faces were not found: misses, not left out (fail closed)
            failed += 1
            for face in faces:
                if face.counted():
                    fn += 1
                    tallies.add("size", size_bucket(face.box.height), "recall", False)
                    tallies.add("band", UNKNOWN_BAND, "recall", False)
                    for column in labels:
                        tallies.add(
                            f"label:{column}", face.labels[column] or "(blank)", "recall", False
                        )
                else:
                    ignored += 1
            continue
        boxes = [face.box for face in found.faces]
        counts = count_detections(boxes, faces)
        tp, fn, fp = tp + counts.tp, fn + counts.fn, fp + counts.fp
        ignored += sum(hit is None for hit in counts.hits)
        rgb = found.image.rgb
        scale = rgb.shape[1] / found.width
        for j, hit in counts.truth_hits:
            face = faces[j]
            tallies.add("size", size_bucket(face.box.height), "recall", hit)
            tallies.add("band", _band(models, rgb, face.box.scaled(scale)), "recall", hit)
            for column in labels:
                tallies.add(f"label:{column}", face.labels[column] or "(blank)", "recall", hit)
        for i in (*counts.matched, *counts.false_positives):
            tallies.add("size", size_bucket(boxes[i].height), "precision", i in counts.matched)
    breakdowns = tallies.to_dict()
    return {
        "kind": "detect", "source": path.name, "generated_at": _stamp(),
        "detector": _detector_info(detector), "iou": 0.5, "min_height": 20,
        "images": len(truth), "images_failed": failed, "faces": tp + fn, "faces_ignored": ignored,
        "counts": {"tp": tp, "fn": fn, "fp": fp},
        "overall": {"recall": proportion(tp, tp + fn).to_dict(), "precision": proportion(tp, tp + fp).to_dict()},
        "breakdowns": breakdowns, "labels_skipped": skipped,
        "warnings": _warnings(breakdowns, "recall", "faces"),
        "skin_tone": {"measure": "ITA, DiF scheme 6", "stored": False, "note": SKIN_TONE_NOTE},
    }  # fmt: skip


def _detector_info(detector: Any) -> dict[str, Any]:
    info = detector.info
    return {"name": info.name, "version": info.version, "threshold": info.threshold}


def evaluate_verify(
    path: Path, settings: Settings, *, detector: Any = None, models: Any = None
) -> dict[str, Any]:
    """Verification accuracy, TPR and FPR at ``match_threshold`` on ``path`` (PAIRS.csv)."""
    from faceledger.vision.detector import detect_image
    from faceledger.vision.dlib_models import embedder_for, thresholds_for

    threshold = thresholds_for(settings, embedder=models).match  # the one used, unless set
    rows, columns = _rows(path, ("image1", "image2"))
    same_column = (
        "same" if "same" in columns else "same_identity" if "same_identity" in columns else None
    )
    if same_column is None:
        raise EvaluationError(f"{path}: missing column same (1 = same person, 0 = different)")
    labels, skipped = _labels(rows, columns, {"image1", "image2", same_column})
    detector = detector or _detector(settings)
    embedder = models or embedder_for(settings)
    probes: dict[str, tuple[np.ndarray, str, float] | None] = {}
    for image in sorted({row[k] for row in rows for k in ("image1", "image2")}):
        try:
            found = detect_image(path.parent / image, detector, max_pixels=settings.max_image_pixels,
                                 max_side=settings.detect_max_side)  # fmt: skip
        except ImageError:
            probes[image] = None
            continue
        if not found.faces:
            probes[image] = None
            continue
        face = max(found.faces, key=lambda f: f.box.area)
        rgb = found.image.rgb
        scale = rgb.shape[1] / found.width
        working = face.scaled(scale)
        vector = embedder.embed(rgb, working.box, landmarks=np.array(working.landmarks))
        probes[image] = (vector, _band(embedder.dlib, rgb, working.box), face.box.height)
    scored: list[tuple[float | None, bool]] = []
    tallies = _Breakdowns()
    same_d: list[float] = []
    diff_d: list[float] = []
    for line, row in enumerate(rows, start=2):
        value = row[same_column]
        if value not in ("0", "1"):
            raise EvaluationError(
                f"{path} line {line}: {same_column} must be 1 or 0, not {value!r}"
            )
        same = value == "1"
        a, b = probes[row["image1"]], probes[row["image2"]]
        distance = None if a is None or b is None else float(np.linalg.norm(a[0] - b[0]))
        scored.append((distance, same))
        if distance is not None:
            (same_d if same else diff_d).append(distance)
        predicted = distance is not None and distance <= threshold
        band = UNKNOWN_BAND if a is None or b is None else a[1] if a[1] == b[1] else "mixed"
        size = "no face" if a is None or b is None else size_bucket(min(a[2], b[2]))
        groups = [("band", band), ("size", size)] + [
            (f"label:{c}", row.get(c) or "(blank)") for c in labels
        ]
        for breakdown, group in groups:
            tallies.add(breakdown, group, "accuracy", predicted == same)
            tallies.add(breakdown, group, "tpr" if same else "fpr", predicted)
    result = verification(scored, threshold)
    breakdowns = tallies.to_dict()
    return {
        "kind": "verify", "source": path.name, "generated_at": _stamp(),
        "detector": _detector_info(detector), "embedder": embedder.info_dict(),
        "threshold": threshold, "pairs": len(rows),
        "same_pairs": sum(s for _, s in scored), "pairs_without_face": sum(d is None for d, _ in scored),
        "images": len(probes), "images_without_face": sum(p is None for p in probes.values()),
        "overall": {"accuracy": result.accuracy.to_dict(), "tpr": result.tpr.to_dict(), "fpr": result.fpr.to_dict()},
        "distances": {"same": _spread(same_d), "different": _spread(diff_d)},
        "breakdowns": breakdowns, "labels_skipped": skipped,
        "warnings": _warnings(breakdowns, "accuracy", "pairs"),
        "skin_tone": {"measure": "ITA, DiF scheme 6", "stored": False, "note": SKIN_TONE_NOTE,
                      "pairs": "a pair's band is its faces' band when both agree, else 'mixed'"},
    }  # fmt: skip


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "median": None, "max": None}
    return {
        "min": round(min(values), 4),
        "median": round(float(np.median(values)), 4),
        "max": round(max(values), 4),
    }


def evaluations_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / DIR_NAME


def save_evaluation(
    ledger: Ledger, settings: Settings, summary: Mapping[str, Any], *, actor: str = "cli"
) -> Path:
    """Write ``summary`` to ``<data_dir>/evaluations/`` (``<kind>-<time>.json`` and
    ``latest-<kind>.json``) and append ``evaluate.run`` (counts only) to the audit log."""
    kind = str(summary["kind"])
    folder = evaluations_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary, indent=2, default=str) + "\n"
    stamp = str(summary["generated_at"]).replace(":", "").replace("-", "")
    path = folder / f"{kind}-{stamp}.json"
    counts: dict[str, Any] = {"kind": kind, "images": summary.get("images", 0)}
    if kind == "detect":
        counts |= {"faces": summary["faces"], **summary["counts"]}
    else:
        overall = summary["overall"]
        counts |= {"pairs": summary["pairs"], "correct": overall["accuracy"]["k"],
                   "pairs_without_face": summary["pairs_without_face"]}  # fmt: skip
    with ledger.begin() as conn:
        path.write_text(text, encoding="utf-8")
        (folder / f"latest-{kind}.json").write_text(text, encoding="utf-8")
        append(conn, AuditRecord(name="evaluate.run", actor=actor, object_type="evaluation",
                                 object_id=kind, payload=counts))  # fmt: skip
    return path


def latest_evaluations(settings: Settings) -> dict[str, dict[str, Any]]:
    """The latest saved summary of each kind (``detect``, ``verify``), those that exist."""
    out: dict[str, dict[str, Any]] = {}
    for kind in ("detect", "verify"):
        path = evaluations_dir(settings) / f"latest-{kind}.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(document, dict) and document.get("kind") == kind:
            out[kind] = document
    return out


def interval_text(item: Mapping[str, Any]) -> str:
    """``0.912 [0.87, 0.94] (83/91)`` for an interval dict."""
    if item.get("value") is None:
        return f"- (0/{item.get('n', 0)})"
    return f"{item['value']:.3f} [{item['low']:.2f}, {item['high']:.2f}] ({item['k']}/{item['n']})"


__all__ = [
    "Interval",
    "evaluate_detect",
    "evaluate_verify",
    "interval_text",
    "latest_evaluations",
    "save_evaluation",
]
