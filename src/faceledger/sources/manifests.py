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
from faceledger.sources.rows import Batch, PathRules, RowError, map_columns, normalise_row

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


def read_manifest(
    path: Path, *, batch_size: int = 50_000, roots: tuple[Path, ...] = ()
) -> Iterator[Batch]:
    """Yield batches of normalised rows and rejected lines from any supported manifest.

    Photo paths must resolve inside the manifest's folder or one of ``roots`` (the
    ``manifest_path_roots`` setting); a row pointing elsewhere is rejected with its line.
    """
    kind = manifest_format(path)
    base_dir = PathRules(path.parent, roots)
    if kind == "parquet":
        yield from _read_parquet(path, base_dir, batch_size)
    elif kind == "jsonl":
        yield from _read_jsonl(path, base_dir, batch_size)
    else:
        yield from _read_delimited(path, base_dir, kind, batch_size)


class _LineGuard:
    """A binary stream that passes a text file through, but replaces each line longer than
    :data:`MAX_LINE_BYTES` by one short placeholder line and notes its number in ``overlong``.

    Arrow's CSV reader fails the whole file on a line longer than its block; with this
    guard a 1 GB line costs one rejected row (with its line number) and flat memory. Lines
    shorter than a read chunk are never touched; only a line spanning chunks is held back.
    """

    PLACEHOLDER = b"\x01"

    def __init__(self, raw: Any, limit: int) -> None:
        self.raw, self.limit = raw, limit
        self.overlong: set[int] = set()
        self._line = 1  # physical line number of the pending (incomplete) line
        self._pending = bytearray()
        self._dropping = False
        self._out = bytearray()
        self._eof = False
        self.closed = False

    def _end_pending(self, tail: bytes) -> None:
        """The pending line ends with ``tail`` (which holds its newline)."""
        if self._dropping or len(self._pending) + len(tail) > self.limit + 2:
            self.overlong.add(self._line)
            self._out += self.PLACEHOLDER + b"\n"
        else:
            self._out += self._pending + tail
        self._pending.clear()
        self._dropping = False
        self._line += 1

    def _fill(self) -> None:
        chunk = self.raw.read(_CHUNK_BYTES)
        if not chunk:
            self._eof = True
            if self._pending or self._dropping:
                self._end_pending(b"")
            return
        first = chunk.find(b"\n")
        if first < 0:
            if not self._dropping:
                self._pending += chunk
                if len(self._pending) > self.limit:
                    self._pending.clear()
                    self._dropping = True
            return
        self._end_pending(chunk[: first + 1])
        last = chunk.rfind(b"\n")
        middle = chunk[first + 1 : last + 1]  # whole lines, each shorter than a chunk
        self._out += middle
        self._line += middle.count(b"\n")
        self._pending += chunk[last + 1 :]

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._out) < size):
            self._fill()
        if size < 0 or size >= len(self._out):
            data, self._out = bytes(self._out), bytearray()
        else:
            data, self._out = bytes(self._out[:size]), self._out[size:]
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
        self.raw.close()


MAX_LINE_BYTES = 1 << 20  # a manifest row is a few hundred bytes; a longer line is refused
_CHUNK_BYTES = 1 << 20  # must not exceed MAX_LINE_BYTES (see _LineGuard)


def _overlong(line: int) -> str:
    return f"line longer than {MAX_LINE_BYTES:,} bytes: skipped unread"


def _read_delimited(path: Path, base_dir: PathRules, kind: str, batch_size: int) -> Iterator[Batch]:
    yfcc = kind == "yfcc"
    if yfcc:
        names, header_lines = YFCC_COLUMNS, 0
        mapping = {name: _YFCC_TO_FIELD[name] for name in names if name in _YFCC_TO_FIELD}
        mapping["marker"] = "marker"
    else:
        delimiter = "," if kind == "csv" else "\t"
        try:
            names = next(csv.reader(io.StringIO(_first_line(path)), delimiter=delimiter), [])
        except csv.Error as exc:
            raise ManifestError(f"{path}:1: the header line cannot be parsed: {exc}") from None
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
        line = row.number if row.number is not None else -1  # Arrow counts the header too
        if line > 0:
            bisect.insort(skipped, line)
        if line in guard.overlong:
            rejected.append((line, _overlong(line)))
        else:
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
        guard = _LineGuard(pa.input_stream(str(path), compression="detect"), MAX_LINE_BYTES)
        stream = guard
        reader = pacsv.open_csv(guard, read_options, parse_options, convert_options)
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
                if line in guard.overlong:  # a one-column manifest parses the placeholder
                    batch.rejects.append((line, _overlong(line)))
                    continue
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


def _bounded_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """The stream's lines; ``None`` for a line longer than :data:`MAX_LINE_BYTES` (skipped
    without being held in memory)."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 2)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES + 1 or (len(line) > MAX_LINE_BYTES and not line.endswith(b"\n")):
            while line and not line.endswith(b"\n"):
                line = stream.readline(_CHUNK_BYTES)
            yield None
            continue
        yield line


def _read_jsonl(path: Path, base_dir: PathRules, batch_size: int) -> Iterator[Batch]:
    batch = Batch()
    with _open_binary(path) as stream:
        for line_number, raw_line in enumerate(_bounded_lines(stream), start=1):
            if raw_line is None:
                batch.rejects.append((line_number, _overlong(line_number)))
                continue
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
            except RecursionError:
                batch.rejects.append((line_number, "invalid JSON: nested too deeply"))
            except RowError as exc:
                batch.rejects.append((line_number, str(exc)))
            if len(batch.rows) >= batch_size:
                yield batch
                batch = Batch()
    if batch.rows or batch.rejects:
        yield batch


def _read_parquet(path: Path, base_dir: PathRules, batch_size: int) -> Iterator[Batch]:
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
