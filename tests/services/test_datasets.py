"""`faceledger datasets import / lookup / list` and `datasets_holding` on a real ledger
(SQLite and PostgreSQL), with the DiveFace / MegaFace sample of ../shared/data: counts are
checked against the sample files read independently here."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from faceledger.cli import main
from faceledger.errors import DatasetError
from faceledger.services.decisions.datasets import datasets_holding, import_dataset, list_datasets
from faceledger.store import Ledger
from faceledger.store.schema import AuditEvent, DatasetMember

OWNER = "100016927@N02"  # the first NSID of Group1_Female_subset.txt


def _txt_files(diveface_dir: Path) -> list[Path]:
    return sorted(diveface_dir.glob("Group*_subset.txt"))


def _sample_rows(diveface_dir: Path) -> list[dict[str, str]]:
    with (diveface_dir / "diveface_sample.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _members(ledger: Ledger) -> int:
    with ledger.read() as conn:
        return int(conn.execute(select(func.count()).select_from(DatasetMember)).scalar_one())


def test_diveface_lists_import_every_face_once_and_a_reimport_adds_nothing(
    ledger: Ledger, diveface_dir: Path
) -> None:
    rows = _sample_rows(diveface_dir)
    report = import_dataset(ledger, "DiveFace", _txt_files(diveface_dir), citation="Morales et al. 2020",
                            licence="non-commercial research", optout_url="https://github.com/BiDAlab/DiveFace")  # fmt: skip
    assert (
        (report.seen, report.added, report.rejected) == (len(rows), len(rows), 0) == (1195, 1195, 0)
    )
    assert report.labels == ["ethnic-group", "gender"]  # DiveFace's two annotations, as kinds
    again = import_dataset(ledger, "DiveFace", _txt_files(diveface_dir))
    assert (again.seen, again.added) == (1195, 0) and _members(ledger) == 1195
    (listed,) = list_datasets(ledger)
    assert (listed["faces"], listed["photos"], listed["owners"]) == (
        len(rows),
        len({r["flickr_photo_id"] for r in rows}),
        len({r["flickr_user_nsid"] for r in rows}),
    )
    assert (
        listed["licence"] == "non-commercial research" and listed["sensitive"]
    )  # kept on re-import
    with ledger.read() as conn:
        payloads = (
            conn.execute(select(AuditEvent.payload).where(AuditEvent.name == "datasets.import"))
            .scalars()
            .all()
        )
    assert [p["added"] for p in payloads] == [1195, 0]
    assert OWNER not in json.dumps(payloads) and "Caucasian" not in json.dumps(
        payloads
    )  # ids and values stay out


def test_the_derived_csv_and_the_identity_lists_give_the_same_members(
    ledger: Ledger, diveface_dir: Path
) -> None:
    import_dataset(ledger, "from-txt", _txt_files(diveface_dir))
    report = import_dataset(ledger, "from-csv", [diveface_dir / "diveface_sample.csv"])
    assert report.added == 1195 and report.labels == ["ethnic-group", "gender"]
    assert "source_file" in report.ignored_columns
    with ledger.read() as conn:
        keys = conn.execute(
            select(DatasetMember.dataset_id, DatasetMember.member_key, DatasetMember.labels)
        ).all()
    by_dataset: dict[int, set[tuple[str, str | None]]] = defaultdict(set)
    for dataset_id, key, labels in keys:
        by_dataset[dataset_id].add((key, labels))
    first, second = by_dataset.values()
    assert first == second and len(first) == 1195


def test_lookup_by_owner_and_photo_counts_what_the_files_list(
    ledger: Ledger, diveface_dir: Path
) -> None:
    import_dataset(ledger, "DiveFace", _txt_files(diveface_dir))
    rows = [r for r in _sample_rows(diveface_dir) if r["flickr_user_nsid"] == OWNER]
    (held,) = datasets_holding(ledger, owner_id=OWNER)
    assert (held.name, held.faces, held.photos) == (
        "DiveFace",
        len(rows),
        len({r["flickr_photo_id"] for r in rows}),
    )
    assert held.labels == ["ethnic-group", "gender"] and held.sensitive
    photo = rows[0]["flickr_photo_id"]
    (one,) = datasets_holding(ledger, photo_ids=[photo])
    assert one.photos == 1 and one.faces == sum(r["flickr_photo_id"] == photo for r in rows)
    assert datasets_holding(ledger, owner_id="1@N01") == []
    assert datasets_holding(ledger, owner_id=OWNER, photo_ids=["1"]) == []  # both must match
    with pytest.raises(DatasetError):
        datasets_holding(ledger)  # no enumeration
    with pytest.raises(DatasetError):
        datasets_holding(ledger, owner_id="1000%")  # exact NSIDs only


def test_malformed_lines_are_reported_with_file_and_line_and_the_rest_imported(
    ledger: Ledger, tmp_path: Path
) -> None:
    lines = tmp_path / "Group3_Male_subset.txt"
    lines.write_text(
        "1@N01_identity_1/11_0.jpg\n\nnot a path\n2@N01_identity_1/22_x.jpg\n2@N01_identity_2/22_1.jpg\n"
    )
    table = tmp_path / "members.csv"
    table.write_text("owner_id,photo_id,face_index,labels\n"
                     "3@N01,33,,gender;ethnic-group=Group2\n"
                     "bad-owner,34,,\n"
                     "3@N01,35,1\n"
                     "3@N01,36,2,wh@t\n")  # fmt: skip
    report = import_dataset(ledger, "mixed", [lines, table])
    assert report.rejects == [
        "Group3_Male_subset.txt:3: not a MegaFace identity line (NSID_identity_K/PHOTOID_FACE.jpg)",
        "Group3_Male_subset.txt:4: not a MegaFace identity line (NSID_identity_K/PHOTOID_FACE.jpg)",
        "members.csv:3: owner id 'bad-owner' is not a Flickr NSID (like 12345678@N01)",
        "members.csv:4: 3 fields where the header has 4",
        "members.csv:5: label 'wh@t' is not a label kind",
    ]
    assert (report.seen, report.added, report.rejected) == (8, 3, 5)
    (held,) = datasets_holding(ledger, owner_id="3@N01")
    assert (held.photos, held.faces, held.labels) == (
        1,
        0,
        ["ethnic-group", "gender"],
    )  # a whole photo, no face
    with pytest.raises(DatasetError, match="owner_id or photo_id column"):
        bad = tmp_path / "nope.csv"
        bad.write_text("a,b\n1,2\n")
        import_dataset(ledger, "nope", [bad])


def test_a_generic_list_without_labels_is_not_sensitive(ledger: Ledger, tmp_path: Path) -> None:
    table = tmp_path / "megaface.tsv"
    table.write_text("nsid\tflickr_photo_id\n4@N01\t41\n4@N01\t42\n")
    import_dataset(ledger, "MegaFace", [table], labels=["age"])
    (held,) = datasets_holding(ledger, photo_ids=["41", "42", "not-a-flickr-id"])
    assert (held.photos, held.labels, held.sensitive) == (2, ["age"], False)


def _cli(ledger: Ledger, tmp_path: Path, *args: str) -> Any:
    base = ["--database-url", ledger.url, "--data-dir", str(tmp_path / "data")]
    return CliRunner().invoke(main, [*base, *args])


def test_cli_lookup_json_prints_exactly_name_photos_faces_labels(
    ledger: Ledger, diveface_dir: Path, tmp_path: Path
) -> None:
    files = [str(p) for p in _txt_files(diveface_dir)]
    result = _cli(ledger, tmp_path, "datasets", "import", "DiveFace", *files, "--licence", "research only",
                  "--optout-url", "https://github.com/BiDAlab/DiveFace")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1,195 new" in result.output
    assert "0 new" in _cli(ledger, tmp_path, "datasets", "import", "DiveFace", *files).output
    rows = [r for r in _sample_rows(diveface_dir) if r["flickr_user_nsid"] == OWNER]
    result = _cli(ledger, tmp_path, "datasets", "lookup", "--owner", OWNER, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"datasets": [{
        "name": "DiveFace", "photos": len({r["flickr_photo_id"] for r in rows}), "faces": len(rows),
        "labels": ["ethnic-group", "gender"]}]}  # fmt: skip
    photo = rows[0]["flickr_photo_id"]
    text = _cli(ledger, tmp_path, "datasets", "lookup", "--owner", OWNER, "--photo", photo).output
    assert "DiveFace: 1 photos" in text and "opt out: https://github.com/BiDAlab/DiveFace" in text
    listed = json.loads(_cli(ledger, tmp_path, "datasets", "list", "--json").output)["datasets"]
    assert [d["name"] for d in listed] == ["DiveFace"] and listed[0]["faces"] == 1195
    refused = _cli(ledger, tmp_path, "datasets", "lookup", "--json")
    assert refused.exit_code == 2 and "--owner" in refused.output
    for command in (["datasets", "import"], ["datasets", "lookup"], ["datasets", "list"]):
        assert "Example:" in CliRunner().invoke(main, [*command, "--help"]).output
