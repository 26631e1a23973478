"""The batch normaliser (Arrow kernels) gives exactly what the row rule gives, row by row."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from faceledger.errors import RowError
from faceledger.sources.manifests import read_manifest
from faceledger.sources.normalise import normalise_columns, unquote_many
from faceledger.sources.rows import PathRules, normalise_row

CHOICES: dict[str, list[Any]] = {
    "external_id": [None, "", "  ", "6985418911", " 42 ", "id\x00nul"],
    "download_url": [None, "", "https://e.org/1.jpg", " http://farm8/x.jpg "],
    "page_url": [None, "https://flickr.com/photos/a/1"],
    "owner_id": [None, "39089491@N00", "  "],
    "owner_nickname": [None, "nino%2B63004", "a+b", "caf%C3%A9", "bad%FF", "new%0Aline", "%zz"],
    "tags": [None, "key+west+florida,canon", "%E2%82%AC+%E2%82", "100%25"],
    "title": [
        None,
        "IMG_0520",
        "Images+from+the+intersection+of+Parliament+and+Queen%2C+2013",
        "\u00e9t\u00e9",
    ],
    "latitude": [None, "", "41.9", " -87.6 ", "abc", "95", "nan", "inf", "1e1", "-90"],
    "longitude": [None, "", "-87.6", "181", "1_0", "10"],
    "geo_accuracy": [None, "", "16", "16.7", "17", "-1", "x", "3.99"],
    "date_taken": [
        None,
        "",
        "2012-02-16 09:56:37.0",
        "2012-02-16",
        "2012-02-16T09:56:37Z",
        "2012-02-16 09:56:37+02:00",
        "1331840483",
        "99999999999999",
        "yesterday",
        "0000-01-01",
        "2012-13-01",
        "20120216",
    ],  # fmt: skip
    "date_uploaded": [None, "1331840483", "2020-01-02"],
    "acquired_at": [None, "2024-05-01", "not a date"],
    "license": [
        None,
        "",
        "Attribution License",
        "CC BY 2.0",
        "4",
        "17",
        "some licence",
        "http://creativecommons.org/licenses/by-nc/2.0/",
    ],  # fmt: skip
    "license_url": [None, "http://creativecommons.org/licenses/by/2.0/"],
    "path": [None, "img/a.jpg", "img/missing.jpg", "../outside.jpg", "/etc/passwd"],
}

KERNEL_FRIENDLY = {  # values Arrow's casts accept as a whole column
    "latitude": [None, "", "41.9", "95", "-90", "inf"],
    "longitude": [None, "10", "-181"],
    "geo_accuracy": [None, "16", "16.7", "17", "-1"],
    "date_taken": [None, "2012-02-16 09:56:37.0", "2012-02-16", "1331840483", "99999999999"],
    "date_uploaded": [None, "1331840483", "253402300800"],
}


def _reference(raw: dict[str, Any], rules: PathRules, decode: bool) -> dict[str, Any] | str:
    try:
        return normalise_row(raw, base_dir=rules, decode_text=decode)
    except RowError as exc:
        return str(exc)


@pytest.mark.parametrize("decode", [False, True])
def test_batches_equal_the_row_rule_on_every_edge_case(tmp_path: Path, decode: bool) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(b"x")
    (tmp_path / "outside.jpg").write_bytes(b"x")
    rules = PathRules(tmp_path / "img")
    rng = random.Random(15)
    for size in (
        1,
        7,
        200,
        200,
        200,
        200,
        200,
        200,
    ):  # small batches keep some columns clean (kernel path)
        rows = [{f: rng.choice(CHOICES[f]) for f in CHOICES} for _ in range(size)]
        if size == 200:  # and some batches parseable by a kernel in a column (range errors
            for name, values in KERNEL_FRIENDLY.items():  # and all: kernel, not cell by cell)
                if rng.random() < 0.5:
                    for row in rows:
                        row[name] = rng.choice(values)
        lines = np.arange(10, 10 + size, dtype=np.int64)
        columns = {f: pa.array([r[f] for r in rows], pa.string()) for f in CHOICES}
        table, rejects = normalise_columns(columns, lines, rules=rules, decode_text=decode)
        got: dict[int, Any] = dict(rejects)
        for line, row in zip(
            table.column("line").to_pylist(), table.drop_columns(["line"]).to_pylist(), strict=True
        ):
            got[line] = row
        for line, raw in zip(lines.tolist(), rows, strict=True):
            assert got[line] == _reference(raw, rules, decode), (line, raw)


def test_unquote_many_equals_unquote_cell_by_cell() -> None:
    pieces = ["%", "%2", "%41", "%C3%A9", "%E2%82", "%AC", "é", "€", "a", "%0A", "%%41", "%zz",
              "%F0%9F%98%80", "%FF", "%C3", " "]  # fmt: skip
    rng = random.Random(13)
    for _ in range(3000):
        cells = [
            "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
            for _ in range(rng.randint(1, 5))
        ]
        assert unquote_many(cells) == [unquote(cell) for cell in cells]


def test_typed_parquet_columns_give_the_same_photos_as_text(tmp_path: Path) -> None:
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    typed = pa.table({
        "photo_id": pa.array([1, 2], pa.int64()),
        "url": ["https://e.org/1.jpg", "https://e.org/2.jpg"],
        "latitude": pa.array([41.9, None], pa.float64()),
        "longitude": pa.array([-87.6, None], pa.float64()),
        "date_taken": pa.array([when, None], pa.timestamp("ms", tz="UTC")),
        "accuracy": pa.array([16.0, float("nan")], pa.float64()),
    })  # fmt: skip
    pq.write_table(typed, tmp_path / "typed.parquet")
    (tmp_path / "text.csv").write_text(
        "photo_id,url,latitude,longitude,date_taken,accuracy\n"
        "1,https://e.org/1.jpg,41.9,-87.6,2020-01-02T03:04:05Z,16\n2,https://e.org/2.jpg,,,,\n"
    )
    parquet = [row for batch in read_manifest(tmp_path / "typed.parquet") for _, row in batch.rows]
    text = [row for batch in read_manifest(tmp_path / "text.csv") for _, row in batch.rows]
    assert parquet == text
    assert parquet[0]["date_taken"] == when and parquet[0]["geo_accuracy"] == 16
