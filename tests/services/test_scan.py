"""Scanning with the real detector, over a bad-input corpus the test generates."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from faceledger.config import load_settings
from faceledger.core.faces import BBox
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.services.collection.status import ledger_errors
from faceledger.store import Ledger
from faceledger.store.schema import AuditEvent, Face, Photo, ScanRun

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FACE = EXAMPLES / "photos" / "Abel_Pacheco_0001.jpg"  # 250x250, one face
PHOTOS, FACES = Photo.__table__, Face.__table__
CAP = 20_000_000  # max_image_pixels for these tests


def make_bad_input_corpus(root: Path) -> dict[str, str]:
    """Write every awkward case; returns file name -> expected outcome (``done`` or reason)."""
    root.mkdir(parents=True)
    with Image.open(FACE) as original:
        face = original.convert("RGB")
    expected: dict[str, str] = {}

    shutil.copy(FACE, root / "good.jpg")
    expected["good.jpg"] = "done"
    data = FACE.read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    expected["truncated.jpg"] = "truncated"
    (root / "empty.jpg").write_bytes(b"")
    expected["empty.jpg"] = "empty"
    (root / "notes.jpg").write_text("this is not an image\n")
    expected["notes.jpg"] = "not-an-image"
    face.save(root / "png_named.jpg", format="PNG")  # wrong extension
    expected["png_named.jpg"] = "done"

    rotated = face.transpose(Image.Transpose.ROTATE_90)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... displayed upright after a 270-degree turn
    rotated.save(root / "exif_rotated.jpg", exif=exif, quality=95)
    expected["exif_rotated.jpg"] = "done"

    face.convert("CMYK").save(root / "cmyk.jpg", quality=95)
    expected["cmyk.jpg"] = "done"
    gray16 = (np.asarray(face.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(root / "gray16.png")
    with Image.open(root / "gray16.png") as check:
        assert check.mode.startswith("I")
    expected["gray16.png"] = "done"
    face.convert("L").save(root / "gray.png")
    expected["gray.png"] = "done"
    face.convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(root / "palette.png")
    expected["palette.png"] = "done"
    rgba = face.convert("RGBA")
    rgba.putalpha(Image.new("L", face.size, 255))
    rgba.save(root / "alpha.png")
    expected["alpha.png"] = "done"
    face.resize((4000, 4000), Image.Resampling.BICUBIC).save(root / "large.jpg", quality=90)
    expected["large.jpg"] = "done"
    Image.new("1", (5000, 5000)).save(root / "bomb.png")  # 25 M pixels > CAP
    expected["bomb.png"] = "too-large"
    return expected


def _reference_box() -> BBox:
    from faceledger.vision.centerface import CenterFace
    from faceledger.vision.detector import detect_image

    result = detect_image(FACE, CenterFace(threshold=0.4), max_pixels=CAP, max_side=1600)
    return result.faces[0].box


def test_scan_handles_every_bad_input_and_records_why(ledger: Ledger, tmp_path: Path) -> None:
    expected = make_bad_input_corpus(tmp_path / "corpus")
    ingest_paths(ledger, [tmp_path / "corpus"])
    settings = load_settings(workers=1, max_image_pixels=CAP)
    report = scan_pending(ledger, settings)
    assert report.photos_done == sum(v == "done" for v in expected.values())
    assert report.photos_failed == sum(v != "done" for v in expected.values())

    with ledger.read() as conn:
        photos = {Path(r["path"]).name: r for r in conn.execute(select(PHOTOS)).mappings()}
        faces = conn.execute(select(FACES)).mappings().all()
    outcome = {name: (r["scan_error"] or r["scan_status"]) for name, r in photos.items()}
    assert outcome == expected
    faces_by_photo: dict[str, list] = {}
    ids = {r["id"]: name for name, r in photos.items()}
    for face in faces:
        faces_by_photo.setdefault(ids[face["photo_id"]], []).append(face)
    reference = _reference_box()
    for name, result in expected.items():
        if result != "done":
            assert name not in faces_by_photo
            continue
        best = max(faces_by_photo[name], key=lambda f: f["score"])
        box = BBox(best["x1"], best["y1"], best["x2"], best["y2"])
        scale = photos[name]["width"] / 250
        assert box.iou(reference.scaled(scale)) > 0.7, name
        assert len(best["landmarks"]) == 5 and best["quality"] > 0
        assert best["detector_name"] == "centerface"
    # EXIF orientation applied: the stored photo is sideways, its displayed size is upright
    assert (photos["exif_rotated.jpg"]["width"], photos["exif_rotated.jpg"]["height"]) == (250, 250)
    assert (photos["large.jpg"]["width"], photos["large.jpg"]["height"]) == (4000, 4000)

    errors = ledger_errors(ledger)
    assert errors["scan_errors_by_reason"] == {
        "truncated": 1, "empty": 1, "not-an-image": 1, "too-large": 1,
    }  # fmt: skip
    bomb = next(e for e in errors["scan_errors"] if e["path"].endswith("bomb.png"))
    assert "25,000,000 pixels" in bomb["detail"] and "max_image_pixels" in bomb["detail"]


def test_exif_orientation_puts_boxes_in_displayed_pixels(tmp_path: Path, detector) -> None:
    from faceledger.vision.detector import detect_image

    with Image.open(FACE) as original:
        face = original.convert("RGB")
    wide = Image.new("RGB", (500, 250), "white")
    wide.paste(face, (250, 0))  # face on the right of a wide image
    exif = Image.Exif()
    exif[0x0112] = 8  # stored rotated; displayed as `wide`
    wide.transpose(Image.Transpose.ROTATE_270).save(tmp_path / "r.jpg", exif=exif, quality=95)
    wide.save(tmp_path / "upright.jpg", quality=95)
    rotated = detect_image(tmp_path / "r.jpg", detector, max_pixels=CAP, max_side=1600)
    upright = detect_image(tmp_path / "upright.jpg", detector, max_pixels=CAP, max_side=1600)
    assert (rotated.width, rotated.height) == (500, 250)
    assert rotated.faces[0].box.iou(upright.faces[0].box) > 0.8
    assert rotated.faces[0].box.x1 > 250


def test_scan_is_audited_and_a_second_scan_finds_nothing_to_do(ledger: Ledger) -> None:
    ingest_paths(ledger, [EXAMPLES])
    first = scan_pending(ledger, load_settings(workers=2))
    assert first.photos_done == 10 and first.faces_found >= 25
    second = scan_pending(ledger, load_settings(workers=1))
    assert (second.photos_done, second.faces_found) == (0, 0)
    with ledger.read() as conn:
        faces = conn.execute(select(func.count()).select_from(FACES)).scalar_one()
        runs = conn.execute(select(ScanRun.status).order_by(ScanRun.id)).scalars().all()
        names = conn.execute(select(AuditEvent.name).order_by(AuditEvent.id)).scalars().all()
    assert faces == first.faces_found
    assert runs == ["done", "done"]
    assert names[-4:] == ["scan.started", "scan.finished", "scan.started", "scan.finished"]


def test_an_injected_detector_runs_in_process_and_its_boxes_land_in_original_pixels(
    ledger: Ledger, tmp_path: Path, fake_detector
) -> None:
    """The fake detector sees the 1600 px working image of a 4000 px photo; the ledger holds
    its box in the photo's own pixels (LoadedImage.to_original). Asked for a pool or Ray, the
    scan still runs the caller's detector here, and records one worker."""
    folder = tmp_path / "big"
    folder.mkdir()
    with Image.open(FACE) as original:
        original.convert("RGB").resize((4000, 2000)).save(folder / "wide.jpg", quality=90)
    ingest_paths(ledger, [folder])
    detector = fake_detector([(100.0, 50.0, 300.0, 250.0)])
    report = scan_pending(ledger, load_settings(workers=3, engine="ray"), detector=detector)
    assert (report.photos_done, report.faces_found, detector.calls) == (1, 1, 1)
    with ledger.read() as conn:
        face = conn.execute(select(FACES)).mappings().one()
        run = conn.execute(select(ScanRun.workers, ScanRun.detector_name)).one()
    assert [face[k] for k in ("x1", "y1", "x2", "y2")] == pytest.approx([250, 125, 750, 625])
    assert face["landmarks"][0] == pytest.approx([250 + 0.3 * 500, 125 + 0.4 * 500], abs=0.01)
    assert tuple(run) == (1, "fake")
