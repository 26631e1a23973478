"""Templates of one embedder are never compared with another's (setting ``embedder``).

Two embedders that share dlib's network but align faces differently give vectors that look
alike and are not comparable; each template records its embedder's name and version, and the
index a search or a clustering reads holds one version only. The test stores the very same
vector for two faces under two embedder versions: were versions mixed, a search of either
index would find both at distance 0.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from faceledger.config import Settings, load_settings
from faceledger.services.biometrics.templates import (
    EMBEDDING,
    create_subject,
    load_index,
    store_face_templates,
)
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.services.decisions.assess import assess_faces
from faceledger.store import Ledger
from faceledger.store.schema import FaceDecision, Template
from faceledger.store.vault import KeyVault
from faceledger.vision.dlib_models import EMBEDDERS, DlibModels, Embedder, embedder_for

pytestmark = pytest.mark.integration
PHOTOS = Path(__file__).resolve().parents[2] / "examples" / "photos"
T = Template.__table__


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(workers=1, processor_location="US-FL", data_dir=tmp_path / "data")


def _corpus(root: Path) -> Path:
    root.mkdir()
    with (root / "photos.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "path", "owner_id", "owner_location", "latitude", "longitude"])
        for name, source in (
            ("abel.jpg", "Abel_Pacheco_0001.jpg"),
            ("alan.jpg", "Alan_Dershowitz_0001.jpg"),
        ):
            Image.open(PHOTOS / source).save(root / name, quality=95)
            writer.writerow(
                [
                    name.removesuffix(".jpg"),
                    name,
                    f"owner-{name[0]}@N01",
                    "Miami, FL",
                    "25.76",
                    "-80.19",
                ]
            )
    return root


def test_every_embedder_has_its_own_version_and_the_default_is_sface() -> None:
    models = DlibModels.shared()
    versions = {name: Embedder(name, models).info.version for name in EMBEDDERS}
    assert len(set(versions.values())) == len(EMBEDDERS)
    default = embedder_for(load_settings()).info
    assert default.name == "sface-2021dec" and default.version == versions["sface-2021dec"]
    assert default.version.startswith("0ba9fbfa01b5+")  # the pinned weights' sha256, and alignment
    assert Embedder("dlib-resnet-v1", models).info == models.embedder_info  # dlib 5-point


def test_a_template_of_another_embedder_is_never_in_the_index(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    ingest_paths(ledger, [_corpus(tmp_path / "corpus")])
    scan_pending(ledger, settings)
    assess_faces(ledger, settings, purpose=settings.purpose)
    vault = KeyVault.open(settings)
    default = Embedder("dlib-resnet-v1", DlibModels.shared()).info  # one network, two alignments
    other = Embedder("dlib-resnet-v1-cf5", DlibModels.shared()).info
    with ledger.read() as conn:
        allowed = conn.execute(
            select(FaceDecision.face_id, FaceDecision.id)
            .where(FaceDecision.decision == "allow", FaceDecision.action == "extract-template")
            .order_by(FaceDecision.face_id)
        ).all()
    assert len(allowed) == 2
    vector = np.full(128, 0.05, dtype=np.float32).tobytes()
    with ledger.begin() as conn:  # the same vector for both faces, under two embedder versions
        for (face_id, decision_id), info in zip(allowed, (default, other), strict=True):
            subject = create_subject(conn, model_version=info.version)
            store_face_templates(conn, vault, face_id=face_id, subject=subject, decision_id=decision_id,
                                 payloads={EMBEDDING: (info, vector)}, distance=None, actor="test")  # fmt: skip
    with ledger.read() as conn:
        rows = conn.execute(
            select(T.c.face_id, T.c.model_name, T.c.model_version).order_by(T.c.face_id)
        ).all()
    assert [(r.model_name, r.model_version) for r in rows] == [
        ("dlib-resnet-v1", default.version), ("dlib-resnet-v1", other.version)
    ]  # fmt: skip
    query = np.frombuffer(vector, dtype=np.float32)
    for info, (face_id, _) in zip((default, other), allowed, strict=True):
        index = load_index(ledger, vault, model_version=info.version, actor="test", reason="test")
        assert [hit.face_id for hit in index.search(query, k=10)] == [
            face_id
        ]  # never the other's copy
