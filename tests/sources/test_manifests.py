from __future__ import annotations

import bz2
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from faceledger.errors import ManifestError
from faceledger.sources.licenses import flickr_license_id, license_name
from faceledger.sources.manifests import manifest_format, read_manifest


@dataclass
class _Collected:
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)


def _collect(path: Path) -> _Collected:
    out = _Collected()
    for batch in read_manifest(path, batch_size=7):
        out.rows.extend(batch.rows)
        out.rejects.extend(batch.rejects)
    return out


def test_yfcc_tsv_is_read_as_is(yfcc_tsv: Path) -> None:
    assert manifest_format(yfcc_tsv) == "yfcc"
    result = _collect(yfcc_tsv)
    assert len(result.rows) == 500 and not result.rejects
    line, first = result.rows[0]
    assert line == 1
    assert first["external_id"] == "6985418911"
    assert first["owner_id"] == "39089491@N00"
    assert first["license_id"] == 3  # Attribution-NonCommercial-NoDerivs -> CC BY-NC-ND 2.0
    assert first["latitude"] == pytest.approx(24.550558)
    assert first["date_taken"] == datetime(2012, 2, 16, 9, 56, 37, tzinfo=UTC)
    assert first["date_uploaded"] == datetime.fromtimestamp(1331840483, tz=UTC)
    assert "key west florida" in first["tags"]  # '+' decoded to spaces
    assert first["path"] is None and first["download_url"].startswith("http://farm8")
    titles = {row["external_id"]: row["title"] for _, row in result.rows}
    assert titles["10201275523"].startswith(
        "Images from the intersection of Parliament and Queen, 2013"
    )
    assert [line for line, _ in result.rows] == list(range(1, 501))
    licenses = {row["license_id"] for _, row in result.rows}
    assert licenses == {1, 2, 3, 4, 5, 6}


def test_yfcc_bad_lines_are_reported_with_line_numbers(yfcc_tsv: Path, tmp_path: Path) -> None:
    lines = yfcc_tsv.read_text(encoding="utf-8").splitlines()[:10]
    lines[2] = "\t".join(lines[2].split("\t")[:20])  # truncated row: 20 fields
    fields = lines[5].split("\t")
    fields[13] = "123.0"  # latitude out of range
    lines[5] = "\t".join(fields)
    fields = lines[7].split("\t")
    fields[24] = "1"  # a video
    lines[7] = "\t".join(fields)
    path = tmp_path / "broken.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _collect(path)
    rejects = dict(result.rejects)
    assert set(rejects) == {3, 6, 8}
    assert "expected 25 fields, found 20" in rejects[3]
    assert "latitude" in rejects[6]
    assert "video" in rejects[8]
    assert [line for line, _ in result.rows] == [1, 2, 4, 5, 7, 9, 10]


def test_compressed_yfcc_is_streamed(yfcc_tsv: Path, tmp_path: Path) -> None:
    path = tmp_path / "yfcc.tsv.bz2"
    path.write_bytes(bz2.compress(yfcc_tsv.read_bytes()))
    assert manifest_format(path) == "yfcc"
    assert len(_collect(path).rows) == 500


ROWS = [
    {"photo_id": "1", "url": "https://example.org/1.jpg", "owner_id": "a@N01",
     "license": "CC BY 2.0", "latitude": "41.9", "longitude": "-87.6", "date_taken": "2020-01-02"},
    {"photo_id": "2", "url": "https://example.org/2.jpg", "owner_id": "b@N01",
     "license": "4", "latitude": "", "longitude": "", "date_taken": ""},
    {"photo_id": "3", "url": "", "owner_id": "c@N01",
     "license": "", "latitude": "", "longitude": "", "date_taken": ""},
    {"photo_id": "4", "url": "https://example.org/4.jpg", "owner_id": "d@N01",
     "license": "", "latitude": "95", "longitude": "10", "date_taken": ""},
    {"photo_id": "5", "url": "https://example.org/5.jpg", "owner_id": "e@N01",
     "license": "", "latitude": "", "longitude": "", "date_taken": "yesterday"},
]  # fmt: skip


def _write(kind: str, tmp_path: Path) -> Path:
    names = list(ROWS[0])
    if kind in ("csv", "tsv"):
        sep = "," if kind == "csv" else "\t"
        path = tmp_path / f"m.{kind}"
        text = "\n".join([sep.join(names)] + [sep.join(r[n] for n in names) for r in ROWS])
        path.write_text(text + "\n")
    elif kind == "jsonl":
        path = tmp_path / "m.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    else:
        path = tmp_path / "m.parquet"
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "parquet"])
def test_every_format_gives_the_same_rows_and_rejects(kind: str, tmp_path: Path) -> None:
    result = _collect(_write(kind, tmp_path))
    assert [row["external_id"] for _, row in result.rows] == ["1", "2"]
    first = result.rows[0][1]
    assert first["license_id"] == 4 and result.rows[1][1]["license_id"] == 4
    assert first["latitude"] == pytest.approx(41.9)
    offset = 1 if kind in ("csv", "tsv") else 0  # header line
    rejects = dict(result.rejects)
    assert set(rejects) == {3 + offset, 4 + offset, 5 + offset}
    assert "no path, url or page_url" in rejects[3 + offset]
    assert "latitude" in rejects[4 + offset]
    assert "date_taken" in rejects[5 + offset]


def test_jsonl_bad_json_is_one_rejected_line(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"url": "https://e.org/1.jpg", "id": "1"}\n{"url": broken\n[1, 2]\n\n{"id": "9", "url": "u"}\n'
    )
    result = _collect(path)
    assert [line for line, _ in result.rows] == [1, 5]
    rejects = dict(result.rejects)
    assert "invalid JSON" in rejects[2]
    assert "not a JSON object" in rejects[3]


def test_local_paths_are_resolved_against_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(b"x")
    path = tmp_path / "m.csv"
    path.write_text("path,owner\nimg/a.jpg,o1\nimg/missing.jpg,o2\n")
    result = _collect(path)
    assert result.rows[0][1]["path"] == str((tmp_path / "img" / "a.jpg").resolve())
    assert result.rows[0][1]["source_key"] == "img/a.jpg"
    assert "does not exist" in dict(result.rejects)[3]


def test_a_csv_without_photo_columns_is_not_a_manifest(tmp_path: Path) -> None:
    path = tmp_path / "boxes.csv"
    path.write_text("x,y,w,h\n1,2,3,4\n")
    with pytest.raises(ManifestError, match=r"boxes.csv:1: not a photo manifest"):
        list(read_manifest(path))


def test_unknown_manifest_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photos.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ManifestError, match="unknown manifest type"):
        list(read_manifest(path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Attribution-NonCommercial-ShareAlike License", 1),
        ("http://creativecommons.org/licenses/by/2.0/", 4),
        ("https://creativecommons.org/licenses/by/2.0", 4),
        ("CC BY 4.0", 11),
        ("0", 0),
        ("17", None),
        ("some licence", None),
        (None, None),
    ],
)
def test_license_mapping(text: str | None, expected: int | None) -> None:
    assert flickr_license_id(text) == expected


def test_license_names_round_trip() -> None:
    for license_id in range(17):
        assert flickr_license_id(license_name(license_id)) == license_id


def test_a_row_with_invalid_utf8_is_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"photo_id,url,title\n1,https://e.org/1.jpg,ok\n2,https://e.org/2.jpg,caf\xe9\n"
        b"3,https://e.org/3.jpg,fine\n"
    )
    result = _collect(path)
    assert [row["external_id"] for _, row in result.rows] == ["1", "3"]
    assert result.rejects == [(3, "title: not valid UTF-8 text")]


def test_jsonl_invalid_utf8_and_gzip(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "m.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(
            b'{"id": "1", "url": "u1"}\n{"id": "2", "url": "caf\xe9"}\n{"id": "3", "url": "u3"}\n'
        )
    result = _collect(path)
    assert [row["external_id"] for _, row in result.rows] == ["1", "3"]
    assert result.rejects == [(2, "not valid UTF-8 text")]
