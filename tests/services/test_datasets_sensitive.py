"""`sensitive_dataset_photo_ids` and `dataset_names_by_photo`: which ledger photos an imported
dataset also lists, on SQLite and PostgreSQL, with the DiveFace sample of ../shared/data
(whose ``ethnic-group`` labels make it sensitive) and a label-free list beside it."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.decisions.datasets import (
    dataset_names_by_photo,
    import_dataset,
    sensitive_dataset_photo_ids,
)
from faceledger.store import Ledger
from faceledger.store.schema import Photo


def _diveface_row(diveface_dir: Path) -> dict[str, str]:
    with (diveface_dir / "diveface_sample.csv").open(newline="") as handle:
        return next(csv.DictReader(handle))


def _ledger_photos(ledger: Ledger, tmp_path: Path, rows: list[tuple[str, str]]) -> dict[str, int]:
    """URL-only photos (Flickr photo id, owner NSID or ''); returns external id -> ledger id."""
    manifest = tmp_path / "photos.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "owner_id", "download_url"])
        for photo, owner in rows:
            writer.writerow([photo, owner, f"https://images.example.org/{photo}.jpg"])
    ingest_paths(ledger, [manifest])
    with ledger.read() as conn:
        return {str(e): int(i) for e, i in conn.execute(select(Photo.external_id, Photo.id)).all()}


def test_only_photos_listed_by_a_dataset_with_sensitive_labels_are_returned(
    ledger: Ledger, diveface_dir: Path, tmp_path: Path
) -> None:
    first = _diveface_row(diveface_dir)  # a DiveFace face: its photo id and owner NSID
    photo, owner = first["flickr_photo_id"], first["flickr_user_nsid"]
    ids = _ledger_photos(ledger, tmp_path, [
        ("900000000001", "5@N01"),       # only in a label-free list
        ("900000000002", "6@N01"),       # in no dataset
    ])  # fmt: skip
    assert sensitive_dataset_photo_ids(ledger, ids.values()) == set()  # no dataset imported yet
    import_dataset(ledger, "DiveFace", sorted(diveface_dir.glob("Group*_subset.txt")))
    plain = tmp_path / "megaface.tsv"
    plain.write_text("nsid\tflickr_photo_id\n5@N01\t900000000001\n")
    import_dataset(ledger, "MegaFace", [plain])
    ids = _ledger_photos(
        ledger, tmp_path, [(photo, owner), ("900000000001", "5@N01"), ("900000000002", "6@N01")]
    )
    more = tmp_path / "more.csv"
    more.write_text(f"photo_id,owner_id,download_url\n{photo},,https://b.example.org/x.jpg\n")
    ingest_paths(ledger, [more])  # the same Flickr id, owner unknown: still DiveFace's photo
    with ledger.read() as conn:
        same_id = [
            int(i)
            for i in conn.execute(select(Photo.id).where(Photo.external_id == photo)).scalars()
        ]
        assert len(same_id) == 2
        # a connection works as well as the ledger; ids outside the ledger are simply absent
        assert sensitive_dataset_photo_ids(conn, [*ids.values(), *same_id, 10**9]) == set(same_id)
    assert sensitive_dataset_photo_ids(ledger, []) == set()
    assert sensitive_dataset_photo_ids(ledger, [ids["900000000001"], ids["900000000002"]]) == set()


def test_a_photo_whose_owner_differs_from_the_lists_owner_is_not_that_photo(
    ledger: Ledger, diveface_dir: Path, tmp_path: Path
) -> None:
    first = _diveface_row(diveface_dir)
    import_dataset(ledger, "DiveFace", [diveface_dir / "diveface_sample.csv"])
    ids = _ledger_photos(ledger, tmp_path, [(first["flickr_photo_id"], "1@N01")])
    assert sensitive_dataset_photo_ids(ledger, ids.values()) == set()
    assert dataset_names_by_photo(ledger, ids.values()) == {}


def test_names_by_photo_lists_every_dataset_holding_each_photo(
    ledger: Ledger, tmp_path: Path
) -> None:
    ids = _ledger_photos(ledger, tmp_path, [("11", "1@N01"), ("12", "1@N01"), ("13", "")])
    one, two = tmp_path / "a.csv", tmp_path / "b.csv"
    one.write_text("owner_id,photo_id,labels\n1@N01,11,gender\n1@N01,12,\n")
    two.write_text("photo_id,race\n11,x\n13,y\n")
    import_dataset(ledger, "beta", [one])
    import_dataset(ledger, "Alpha", [two])
    assert dataset_names_by_photo(ledger, ids.values()) == {
        ids["11"]: ["Alpha", "beta"],
        ids["12"]: ["beta"],
        ids["13"]: ["Alpha"],
    }
    assert sensitive_dataset_photo_ids(ledger, ids.values()) == {
        ids["11"],
        ids["13"],
    }  # Alpha: race
