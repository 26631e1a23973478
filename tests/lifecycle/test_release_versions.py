"""Releases: what a purpose allows, frozen into immutable versions with a Croissant card."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from faceledger.errors import ReleaseError
from faceledger.services.lifecycle.release_consumers import add_consumer, list_consumers
from faceledger.services.lifecycle.release_versions import diff_releases, list_releases
from faceledger.services.lifecycle.releases import create_release
from faceledger.store.audit import verify_chain

pytestmark = pytest.mark.integration


def test_release_freezes_allowed_faces_and_is_never_overwritten(world) -> None:  # type: ignore[no-untyped-def]
    v1 = create_release(
        world.ledger, world.vault, world.settings, name="faces", purpose=world.settings.purpose
    )
    table = pq.read_table(Path(v1.path) / "faces.parquet")
    photos = set(table.column("photo_external_id").to_pylist())
    assert photos == {"abel", "abel_mirror", "alan", "group"}  # afton (Illinois) is blocked
    assert v1.faces == table.num_rows == 5 and v1.photos == 4
    assert table.column("features").null_count == table.num_rows  # no features unless asked
    assert set(table.column("download_url").to_pylist()) >= {"https://photos.example/abel.jpg"}
    card_before = (Path(v1.path) / "croissant.json").read_bytes()

    v2 = create_release(world.ledger, world.vault, world.settings, name="faces",
                        purpose=world.settings.purpose, with_features=True)  # fmt: skip
    assert (v2.version, v2.parent) == (2, 1) and v2.path != v1.path
    assert (Path(v1.path) / "croissant.json").read_bytes() == card_before
    features = pq.read_table(Path(v2.path) / "faces.parquet").column("features").to_pylist()
    assert all(f is not None and "schemes" in json.loads(f) for f in features)
    assert diff_releases(world.ledger, "faces@v1", "faces@v2")["faces"]["removed"] == []
    assert [v.ref for v in list_releases(world.ledger)] == ["faces@v1", "faces@v2"]
    with pytest.raises(ReleaseError, match="purpose"):
        create_release(world.ledger, world.vault, world.settings, name="faces", purpose="other")

    consumer = add_consumer(world.ledger, name="lab", ref="faces@v1", contact="lab@example.org")
    assert consumer["release"] == "faces@v1"
    with pytest.raises(ReleaseError, match="already"):
        add_consumer(world.ledger, name="lab", ref="faces@v1")
    assert [c["name"] for c in list_consumers(world.ledger)] == ["lab"]
    with world.ledger.read() as conn:
        assert verify_chain(conn) is None


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning:mlcroissant")
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_croissant_card_validates_with_mlcroissant(world) -> None:  # type: ignore[no-untyped-def]
    mlc = pytest.importorskip("mlcroissant")
    v1 = create_release(world.ledger, world.vault, world.settings, name="faces",
                        purpose=world.settings.purpose, with_features=True)  # fmt: skip
    card = json.loads((Path(v1.path) / "croissant.json").read_text())
    assert card["fl:retention"]["fl:destroyByField"] == "faces/destroy_by"
    dataset = mlc.Dataset(jsonld=Path(v1.path) / "croissant.json")  # raises on any error
    assert dataset.metadata.ctx.issues.warnings == set()
    records = list(dataset.records("faces"))
    assert len(records) == 5
