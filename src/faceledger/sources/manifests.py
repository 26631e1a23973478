"""Streaming manifest readers: YFCC100M TSV, CSV, TSV, JSON Lines and Parquet.

Example::

    for batch in read_manifest(Path("photos.csv"), batch_size=50_000):
        for line, row in batch.rows: ...
        for line, reason in batch.rejects: ...

CSV, TSV and YFCC files are parsed by Arrow's streaming CSV reader in blocks (memory stays
flat at any file size; ``.gz``/``.bz2`` are decompressed on the fly); Parquet by row group;
JSON Lines line by line (so one malformed line is rejected on its own). Every row passes
through :func:`faceledger.sources.rows.normalise_row`. Line numbers are 1-based physical
lines of the file (for Parquet: row numbers).
"""

from __future__ import annotations

import bisect
import bz2
import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from faceledger.errors import ManifestError
from faceledger.sources.rows import Batch, RowError, map_columns, normalise_row

MANIFEST_SUFFIXES = {".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".parquet"}
COMPRESSED = {".gz", ".bz2"}

# YFCC100M's 25 columns, in file order (the dataset ships without a header).
YFCC_COLUMNS = [
    "line_number", "photo_id", "photo_hash", "user_nsid", "user_nickname", "date_taken",
    "date_uploaded", "capture_device", "title", "description", "user_tags", "machine_tags",
    "longitude", "latitude", "accuracy", "page_url", "download_url", "license_name",
    "license_url", "server_id", "farm_id", "secret", "original_secret", "extension", "marker",
]  # fmt: skip
_YFCC_TO_FIELD = {
    "photo_id": "external_id", "photo_hash": "provider_hash", "user_nsid": "owner_id",
    "user_nickname": "owner_nickname", "date_taken": "date_taken",
    "date_uploaded": "date_uploaded", "title": "title", "user_tags": "tags",
    "longitude": "longitude", "latitude": "latitude", "accuracy": "geo_accuracy",
    "page_url": "page_url", "download_url": "download_url", "license_name": "license",
    "license_url": "license_url",
}  # fmt: skip


def manifest_format(path: Path) -> str:
    """``yfcc``, ``csv``, ``tsv``, ``jsonl`` or ``parquet``, from the name and first line."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix not in (".csv", ".tsv", ".txt"):
        raise ManifestError(f"{path}: unknown manifest type {suffix or '(no suffix)'}")
    first = _first_line(path)
    fields = first.split("\t")
    if len(fields) == len(YFCC_COLUMNS) and "flickr.com/photos/" in fields[15]:
        return "yfcc"
    return "csv" if suffix == ".csv" else "tsv"


def _first_line(path: Path) -> str:
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(1 << 16)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from None
    return head.decode("utf-8", errors="replace").split("\n", 1)[0].rstrip("\r")


def read_manifest(path: Path, *, batch_size: int = 50_000) -> Iterator[Batch]:
    """Yield batches of normalised rows and rejected lines from any supported manifest."""
    kind = manifest_format(path)
    base_dir = path.parent
    if kind == "parquet":
        yield from _read_parquet(path, base_dir, batch_size)
    elif kind == "jsonl":
        yield from _read_jsonl(path, base_dir, batch_size)
    else:
        yield from _read_delimited(path, base_dir, kind, batch_size)


def _read_delimited(path: Path, base_dir: Path, kind: str, batch_size: int) -> Iterator[Batch]:
    yfcc = kind == "yfcc"
    if yfcc:
        names, header_lines = YFCC_COLUMNS, 0
        mapping = {name: _YFCC_TO_FIELD[name] for name in names if name in _YFCC_TO_FIELD}
        mapping["marker"] = "marker"
    else:
        delimiter = "," if kind == "csv" else "\t"
        names = next(csv.reader(io.StringIO(_first_line(path)), delimiter=delimiter))
        header_lines = 1
        mapping = map_columns(names)
        if not {"path", "download_url", "page_url"} & set(mapping.values()):
            raise ManifestError(
                f"{path}:1: not a photo manifest: no path, url or page_url column "
                f"(columns: {', '.join(names)})"
            )
    skipped: list[int] = []  # physical lines Arrow rejected (wrong field count)
    rejected: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        line = (row.number or 0) + header_lines if row.number is not None else -1
        if line > 0:
            bisect.insort(skipped, line)
        rejected.append(
            (line, f"expected {row.expected_columns} fields, found {row.actual_columns}")
        )
        return "skip"

    read_options = pacsv.ReadOptions(
        column_names=names,
        skip_rows=header_lines,
        block_size=1 << 22,
        use_threads=False,
        encoding="utf8",
    )
    parse_options = pacsv.ParseOptions(
        delimiter="\t" if kind != "csv" else ",",
        quote_char='"' if kind == "csv" else False,
        newlines_in_values=False,
        invalid_row_handler=on_invalid,
    )
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=False,  # a row with bad bytes is rejected alone, not the whole file
    )
    try:
        stream = pa.input_stream(str(path), compression="detect")
        reader = pacsv.open_csv(stream, read_options, parse_options, convert_options)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ManifestError(f"{path}: cannot parse as {kind}: {exc}") from None

    next_line = header_lines + 1
    batch = Batch()
    try:
        for record_batch in reader:
            columns = {mapping[n]: _text_values(record_batch.column(n)) for n in mapping}
            batch.rejects.extend(rejected)
            rejected.clear()
            for i in range(record_batch.num_rows):
                while skipped and skipped[0] <= next_line:
                    if skipped[0] == next_line:
                        next_line += 1
                    skipped.pop(0)
                line = next_line
                next_line += 1
                raw = {field: values[i] for field, values in columns.items()}
                bad = [field for field, value in raw.items() if value is _NOT_UTF8]
                if bad:
                    batch.rejects.append((line, f"{', '.join(bad)}: not valid UTF-8 text"))
                    continue
                if yfcc and raw.get("marker") == "1":
                    batch.rejects.append((line, "a video (YFCC marker 1), not a photo"))
                    continue
                try:
                    batch.rows.append((line, normalise_row(raw, base_dir=base_dir, decode_text=yfcc)))
                except RowError as exc:
                    batch.rejects.append((line, str(exc)))
                if len(batch.rows) >= batch_size:
                    yield batch
                    batch = Batch()
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: near line {next_line}: {exc}") from None
    finally:
        stream.close()
    batch.rejects.extend(rejected)
    if batch.rows or batch.rejects:
        yield batch


_NOT_UTF8 = object()


def _text_values(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """A string column as Python values; cells that are not UTF-8 become ``_NOT_UTF8``."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:
        values: list[Any] = []
        for raw in column.cast(pa.binary()).to_pylist():
            try:
                values.append(None if raw is None else raw.decode("utf-8"))
            except UnicodeDecodeError:
                values.append(_NOT_UTF8)
        return values


def _open_binary(path: Path) -> IO[bytes]:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    return path.open("rb")


def _read_jsonl(path: Path, base_dir: Path, batch_size: int) -> Iterator[Batch]:
    batch = Batch()
    with _open_binary(path) as stream:
        for line_number, raw_line in enumerate(stream, start=1):
            if not raw_line.strip():
                continue
            try:
                record = json.loads(raw_line)
                if not isinstance(record, dict):
                    raise RowError("line is not a JSON object")
                mapping = map_columns(list(record))
                raw = {field: record[name] for name, field in mapping.items()}
                batch.rows.append((line_number, normalise_row(raw, base_dir=base_dir)))
            except UnicodeDecodeError:
                batch.rejects.append((line_number, "not valid UTF-8 text"))
            except json.JSONDecodeError as exc:
                batch.rejects.append((line_number, f"invalid JSON: {exc.msg} (column {exc.colno})"))
            except RowError as exc:
                batch.rejects.append((line_number, str(exc)))
            if len(batch.rows) >= batch_size:
                yield batch
                batch = Batch()
    if batch.rows or batch.rejects:
        yield batch


def _read_parquet(path: Path, base_dir: Path, batch_size: int) -> Iterator[Batch]:
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ManifestError(f"{path}: not a readable Parquet file: {exc}") from None
    mapping = map_columns(parquet.schema_arrow.names)
    if not {"path", "download_url", "page_url"} & set(mapping.values()):
        raise ManifestError(f"{path}: not a photo manifest: no path, url or page_url column")
    row_number = 0
    for record_batch in parquet.iter_batches(batch_size=batch_size, columns=list(mapping)):
        batch = Batch()
        columns = {mapping[n]: record_batch.column(n).to_pylist() for n in mapping}
        for i in range(record_batch.num_rows):
            row_number += 1
            raw = {field: values[i] for field, values in columns.items()}
            try:
                batch.rows.append((row_number, normalise_row(raw, base_dir=base_dir)))
            except RowError as exc:
                batch.rejects.append((row_number, str(exc)))
        yield batch
