"""Release versions with images (`release create --images original|redacted`), both backends:
redacted images checked with the real detector (nothing found in a redacted box, every allowed
face still found and unchanged), originals only for photos whose faces are all allowed, a
no-derivatives photo never redacted-and-released, both hashes in the manifest and the card,
and an erasure that cuts a new version without the photo's image."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image
from sqlalchemy import select, update

from faceledger.core.faces import BBox
from faceledger.services.lifecycle.redaction import faces_left
from faceledger.services.lifecycle.releases import create_release
from faceledger.services.lifecycle.requests import execute_request, new_request, verify_request
from faceledger.services.people.verification import IdentityEvidence
from faceledger.store.schema import Face, FaceDecision, Photo, ReleaseItem
from faceledger.store.tables import OUTCOMES
from faceledger.vision.detector import detect_image

pytestmark = pytest.mark.integration
F, P, D, ITEMS = Face.__table__, Photo.__table__, FaceDecision.__table__, ReleaseItem.__table__
LIMITS = {"max_pixels": 120_000_000, "max_side": 1600}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _iou(a: BBox, b: BBox) -> float:
    w = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    h = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    return w * h / (a.width * a.height + b.width * b.height - w * h)


def _block_smaller_face(world: Any, external_id: str) -> int:
    """The smaller face of the photo gets a blocking decision (as when that person withdraws
    consent): its photo now holds one allowed and one blocked face."""
    with world.ledger.begin() as conn:
        face_id = conn.execute(
            select(F.c.id).join(P, P.c.id == F.c.photo_id).where(P.c.external_id == external_id)
            .order_by(F.c.face_size).limit(1)
        ).scalar_one()  # fmt: skip
        law = {"id": "us-fl-test", "title": "test law", "applies": "yes",
               "violations": [{"section": "s. 1", "reason": "consent withdrawn"}]}  # fmt: skip
        outcome = conn.execute(OUTCOMES.insert().values(
            digest=f"test-block-{face_id}", scenario={}, policy_versions={},
            result={"mode": "conservative", "laws": [law]}).returning(OUTCOMES.c.id)).scalar_one()  # fmt: skip
        conn.execute(update(D).where(D.c.face_id == face_id, D.c.purpose == world.settings.purpose)
                     .values(decision="block", outcome_id=outcome))  # fmt: skip
    return int(face_id)


def _set_licence(world: Any, external_id: str, licence: str) -> None:
    with world.ledger.begin() as conn:
        conn.execute(update(P).where(P.c.external_id == external_id).values(license_name=licence))


def _photo(world: Any, external_id: str) -> Any:
    with world.ledger.read() as conn:
        return conn.execute(select(P).where(P.c.external_id == external_id)).one()


def _manifest(version: Any) -> list[dict[str, Any]]:
    return pq.read_table(Path(version.path) / "images.parquet").to_pylist()


def test_redacted_images_hide_blocked_faces_from_the_detector_and_keep_allowed_ones(
    world: Any, detector: Any
) -> None:
    blocked = _block_smaller_face(world, "group")
    _set_licence(world, "afton", "CC BY-ND 2.0")  # afton's only face is blocked (Illinois)
    version = create_release(world.ledger, world.vault, world.settings, name="redacted",
                             purpose=world.settings.purpose, images="redacted")  # fmt: skip
    folder = Path(version.path)
    rows = _manifest(version)
    assert {r["photo_external_id"] for r in rows} == {"abel", "abel_mirror", "alan", "group"}
    assert version.images is not None
    assert version.images["left_out"] == {
        "CC-BY-ND-2.0 forbids derivatives (NoDerivatives): not redacted": 1
    }

    group = [r for r in rows if r["photo_external_id"] == "group"]
    (hidden,) = [r for r in group if r["redacted"]]
    assert hidden["face_id"] == blocked and "us-fl-test s. 1" in hidden["redaction_reason"]
    kept = [r for r in group if not r["redacted"]]
    assert kept and all(r["redaction_reason"] is None for r in kept)
    image = folder / hidden["image"]
    source = Path(_photo(world, "group").path)
    assert hidden["image_sha256"] == _sha(image) != hidden["source_sha256"] == _sha(source)
    recorded = _photo(world, "group").content_hash
    assert recorded is None or hidden["source_sha256"] == recorded

    region = tuple(int(v) for v in hidden["region"].split(","))
    after = [f.box for f in detect_image(image, detector, **LIMITS).faces]
    assert faces_left(after, [region]) == []  # the detector finds nothing in the redacted box
    with Image.open(image) as im, Image.open(source) as src:
        redacted_px, source_px = (
            np.asarray(im.convert("RGB"), np.int16),
            np.asarray(src.convert("RGB"), np.int16),
        )
    for face in kept:
        box = BBox(face["x1"], face["y1"], face["x2"], face["y2"])
        assert any(_iou(box, other) > 0.5 for other in after), "an allowed face is no longer found"
        x1, y1, x2, y2 = (int(v) for v in (box.x1, box.y1, box.x2, box.y2))
        diff = np.abs(redacted_px[y1:y2, x1:x2] - source_px[y1:y2, x1:x2]).mean()
        assert diff < 4.0, (
            f"an allowed face changed (mean difference {diff:.1f})"
        )  # JPEG re-encoding only
    x1, y1, x2, y2 = region
    assert np.abs(redacted_px[y1:y2, x1:x2] - source_px[y1:y2, x1:x2]).mean() > 8.0

    # unredacted photos are exact copies; the faces manifest holds only allowed faces
    abel = next(r for r in rows if r["photo_external_id"] == "abel")
    assert abel["image_sha256"] == abel["source_sha256"] == _sha(Path(_photo(world, "abel").path))
    faces = pq.read_table(folder / "faces.parquet").column("face_id").to_pylist()
    assert blocked not in faces and all(r["face_id"] in faces for r in rows if not r["redacted"])
    assert version.files[hidden["image"]] == hidden["image_sha256"]  # in the version's sha256 list
    with (
        world.ledger.read() as conn
    ):  # the redacted face is recorded with the version (erasure finds it)
        assert conn.execute(select(ITEMS.c.face_id).where(ITEMS.c.version_id == version.id,
                                                          ITEMS.c.face_id == blocked)).first() is not None  # fmt: skip

    card = json.loads((folder / "croissant.json").read_text())
    assert card["fl:images"]["fl:mode"] == "redacted" and card["fl:images"]["fl:redactedFaces"] == 1
    assert any(
        "us-fl-test s. 1" in item["fl:value"] for item in card["fl:images"]["fl:redactedBecause"]
    )
    assert any(
        item["fl:value"].startswith("CC-BY-ND-2.0") for item in card["fl:images"]["fl:leftOut"]
    )
    fields = {f["name"] for rs in card["recordSet"] if rs["@id"] == "images" for f in rs["field"]}
    assert {"image_sha256", "source_sha256", "redacted", "redaction_reason"} <= fields


def test_original_images_only_for_photos_whose_faces_are_all_allowed_and_erasure_cuts_them(
    world: Any,
) -> None:
    _block_smaller_face(world, "group")
    original = create_release(world.ledger, world.vault, world.settings, name="originals",
                              purpose=world.settings.purpose, images="original")  # fmt: skip
    redacted = create_release(world.ledger, world.vault, world.settings, name="redacted",
                              purpose=world.settings.purpose, images="redacted")  # fmt: skip
    rows = _manifest(original)
    assert {r["photo_external_id"] for r in rows} == {
        "abel",
        "abel_mirror",
        "alan",
    }  # group: a blocked face
    for row in rows:
        copy = Path(original.path) / row["image"]
        assert (
            row["image_sha256"]
            == row["source_sha256"]
            == _sha(copy)
            == _sha(Path(_photo(world, row["photo_external_id"]).path))
        )
        assert not row["redacted"]
    assert {r["photo_external_id"] for r in _manifest(redacted)} == {
        "abel",
        "abel_mirror",
        "alan",
        "group",
        "afton",
    }

    request = new_request(world.ledger, world.settings, kind="optout", key_type="url",
                          value="https://photos.example/p/alan")  # fmt: skip
    proof = IdentityEvidence("owner-profile-code", True, {"owner_id": "owner-b@N01", "verifier": "test"},
                             datetime.now(UTC))  # fmt: skip
    verify_request(world.ledger, request.id, evidence=proof)
    result = execute_request(world.ledger, world.vault, world.settings, request.id).result
    assert result is not None and result["versions_cut"]
    alan_image = next(r["image"] for r in rows if r["photo_external_id"] == "alan")
    for name, parent in (("originals", original), ("redacted", redacted)):
        with world.ledger.read() as conn:
            from faceledger.services.lifecycle.release_versions import get_version

            cut = get_version(conn, name)
        assert cut.version == parent.version + 1
        kept = _manifest(cut)
        assert "alan" not in {r["photo_external_id"] for r in kept}
        assert (
            not (Path(cut.path) / alan_image).exists() and (Path(parent.path) / alan_image).exists()
        )
        assert alan_image not in cut.files and alan_image in parent.files
        before = {
            r["photo_id"]: r["image_sha256"]
            for r in _manifest(parent)
            if r["photo_external_id"] != "alan"
        }
        assert {
            r["photo_id"]: r["image_sha256"] for r in kept
        } == before  # the rest travels unchanged
        for row in kept:
            if row["image"]:
                assert (
                    _sha(Path(cut.path) / row["image"])
                    == row["image_sha256"]
                    == cut.files[row["image"]]
                )


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_the_cli_writes_redacted_images_that_faceledger_detect_finds_no_face_in(
    world: Any, ledger_url: str
) -> None:
    from click.testing import CliRunner

    from faceledger.cli import main

    blocked = _block_smaller_face(world, "group")
    base = ["--database-url", ledger_url, "--data-dir", str(world.settings.data_dir)]
    env = {"FACELEDGER_PROCESSOR_LOCATION": "US-FL"}
    runner = CliRunner()
    made = runner.invoke(main, [*base, "release", "create", "cli", "--purpose", world.settings.purpose,
                                "--images", "redacted", "--json"], env=env, catch_exceptions=False)  # fmt: skip
    assert made.exit_code == 0, made.output
    version = json.loads(made.output)
    assert (
        version["images"]["mode"] == "redacted" and version["images"]["redacted_faces"] == 2
    )  # group + afton
    rows = pq.read_table(Path(version["path"]) / "images.parquet").to_pylist()
    for row in (r for r in rows if r["redacted"]):
        found = runner.invoke(
            main, [*base, "detect", str(Path(version["path"]) / row["image"]), "--json"], env=env
        )
        assert found.exit_code == 0, found.output
        boxes = [
            BBox(*face["box"])
            for image in json.loads(found.output)["images"]
            for face in image["faces"]
        ]
        region = tuple(int(v) for v in row["region"].split(","))
        assert faces_left(boxes, [region]) == [], (row["photo_external_id"], boxes, region)
    assert any(r["face_id"] == blocked and r["redacted"] for r in rows)
    bad = runner.invoke(main, [*base, "release", "create", "cli", "--purpose", world.settings.purpose,
                               "--images", "blurred"], env=env)  # fmt: skip
    assert bad.exit_code == 2 and "blurred" in bad.output
