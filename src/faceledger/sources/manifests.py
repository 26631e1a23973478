"""Streaming manifest readers: YFCC100M TSV, CSV, TSV, JSON Lines and Parquet.

Example::

    with open_manifest(Path("photos.csv")) as manifest:
        manifest.format, manifest.total       # "csv", rows (header excluded; an estimate
                                              # for big text files, exact for Parquet)
        for batch in manifest.batches(batch_size=50_000):
            batch.table                       # an Arrow table of photo fields + "line"
            batch.rejects                     # [(line, reason), ...]
        manifest.sha256                       # of the file's bytes, read in the same pass

A manifest is opened once: its first MiB is read to detect the format, parse the header
and estimate the row count, and the parser then continues from the same stream, which
also feeds the file's sha256. CSV, TSV and YFCC files are parsed by Arrow's streaming CSV
reader in blocks (memory stays flat at any file size; ``.gz``/``.bz2`` are decompressed on
the fly); Parquet by row group; JSON Lines line by line (so one malformed line is rejected
on its own). Rows are normalised a batch at a time in Arrow
(:func:`faceledger.sources.normalise.normalise_columns`). Line numbers are 1-based
physical lines of the file (for Parquet: row numbers).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from faceledger.errors import ManifestError, RowError
from faceledger.sources.normalise import empty_photos, normalise_columns
from faceledger.sources.rows import COLUMN_ALIASES, Batch, PathRules, map_columns

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
HEAD_BYTES = 1 << 20  # read first: format, header and the row-count estimate come from it
DEFAULT_BATCH = 50_000
_NORMALISE_ROWS = 50_000  # rows normalised per kernel pass


def _kind_from_name(path: Path) -> tuple[str, str | None]:
    """(format or ``text``, compression) from the file name alone."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = None
    if suffixes and suffixes[-1] in COMPRESSED:
        compression = suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".parquet":
        return "parquet", compression
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl", compression
    if suffix not in (".csv", ".tsv", ".txt"):
        raise ManifestError(f"{path}: unknown manifest type {suffix or '(no suffix)'}")
    return ("csv" if suffix == ".csv" else "tsv"), compression


def _detect_text(first_line: str, named: str) -> str:
    fields = first_line.split("\t")
    if len(fields) == len(YFCC_COLUMNS) and "flickr.com/photos/" in fields[15]:
        return "yfcc"
    return named


def manifest_format(path: Path) -> str:
    """``yfcc``, ``csv``, ``tsv``, ``jsonl`` or ``parquet``, from the name and first line."""
    with open_manifest(path) as manifest:
        return manifest.format


def open_manifest(path: Path, *, roots: tuple[Path, ...] = ()) -> Manifest:
    """Open ``path`` once, detect its format and read its header; raises
    :class:`ManifestError` (before any row is read) for what is not a photo manifest."""
    return Manifest(path, roots=roots)


def read_manifest(
    path: Path, *, batch_size: int = DEFAULT_BATCH, roots: tuple[Path, ...] = ()
) -> Iterator[Batch]:
    """Yield batches of normalised rows and rejected lines from any supported manifest.

    Photo paths must resolve inside the manifest's folder or one of ``roots`` (the
    ``manifest_path_roots`` setting); a row pointing elsewhere is rejected with its line.
    """
    with open_manifest(path, roots=roots) as manifest:
        yield from manifest.batches(batch_size)


class _Hashing:
    """The raw file, hashing every byte as it is read (so the sha256 costs no extra pass)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.consumed = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.consumed += len(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return self.digest.hexdigest()

    def close(self) -> None:
        self.closed = True
        self.handle.close()


class _Prefixed(io.RawIOBase):
    """``head`` (already read to look at the file), then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: Any) -> None:
        self.head, self.stream = memoryview(head), stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head.nbytes:
            n = min(len(buffer), self.head.nbytes)
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _estimate_total(head: bytes, at_eof: bool, raw_read: int, size: int, header: int) -> int | None:
    """Data rows (header excluded): exact when the head is the whole file, else from the
    head's mean line length and (compressed files) its compression ratio so far."""
    lines = head.count(b"\n")
    if at_eof:
        lines += 1 if head and not head.endswith(b"\n") else 0
        return max(lines - header, 0)
    if not lines or not raw_read:
        return None
    expanded = len(head) * size / raw_read  # the whole file's bytes, decompressed
    return max(int(expanded * lines / len(head)) - header, 0)


class Manifest:
    """One open manifest (see the module docs). Use as a context manager."""

    def __init__(self, path: Path, *, roots: tuple[Path, ...] = ()) -> None:
        self.path = path
        self.rules = PathRules(path.parent, roots)
        kind, compression = _kind_from_name(path)
        self.total: int | None = None
        self._invalid: list[tuple[int, str]] = []  # rows Arrow refused (wrong field count)
        self._skipped: list[int] = []
        try:
            self._raw = _Hashing(path.open("rb"))
        except OSError as exc:
            raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            if kind == "parquet":
                self.format = "parquet"
                self._open_parquet()
                return
            self._stream = self._decompress(compression)
            try:
                head = self._stream.read(HEAD_BYTES)
            except (OSError, EOFError, ValueError) as exc:
                raise ManifestError(f"{path}: cannot read: {exc}") from None
            first = head.decode("utf-8", errors="replace").split("\n", 1)[0].rstrip("\r")
            self.format = kind if kind == "jsonl" else _detect_text(first, kind)
            header = 1 if self.format in ("csv", "tsv") else 0
            self.total = _estimate_total(
                head, len(head) < HEAD_BYTES, self._raw.consumed, path.stat().st_size, header
            )
            self._body = _Prefixed(head, self._stream)
            if self.format != "jsonl":
                self._open_delimited(first)
        except BaseException:
            self.close()
            raise

    # --- plumbing --------------------------------------------------------------------------

    def _decompress(self, compression: str | None) -> Any:
        if compression == ".gz":
            return gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[call-overload]
        if compression == ".bz2":
            return bz2.BZ2File(self._raw, "rb")  # type: ignore[call-overload]
        return self._raw

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        if not self._raw.closed:
            self._raw.close()

    @property
    def sha256(self) -> str:
        """The sha256 of the file's bytes (reads whatever the parser has not read yet)."""
        if self.format == "parquet":
            self._raw.handle.seek(0)
            self._raw.digest = hashlib.sha256()
        return self._raw.drain()

    def batches(self, batch_size: int = DEFAULT_BATCH) -> Iterator[Batch]:
        """Normalised rows and rejected lines, about ``batch_size`` rows a batch."""
        if self.format == "parquet":
            yield from self._parquet_batches(batch_size)
        elif self.format == "jsonl":
            yield from self._jsonl_batches(batch_size)
        else:
            yield from self._delimited_batches(batch_size)

    # --- CSV, TSV, YFCC --------------------------------------------------------------------

    def _open_delimited(self, first: str) -> None:
        path, kind = self.path, self.format
        self._yfcc = kind == "yfcc"
        if self._yfcc:
            names, header_lines = YFCC_COLUMNS, 0
            mapping = {name: _YFCC_TO_FIELD[name] for name in names if name in _YFCC_TO_FIELD}
            mapping["marker"] = "marker"
        else:
            delimiter = "," if kind == "csv" else "\t"
            try:
                names = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
            except csv.Error as exc:
                raise ManifestError(f"{path}:1: the header line cannot be parsed: {exc}") from None
            header_lines = 1
            mapping = map_columns(names)
            if not {"path", "download_url", "page_url"} & set(mapping.values()):
                raise ManifestError(
                    f"{path}:1: not a photo manifest: no path, url or page_url column "
                    f"(columns: {', '.join(names)})"
                )
        self._mapping = mapping
        self._next_line = header_lines + 1

        def on_invalid(row: Any) -> str:
            line = row.number if row.number is not None else -1  # Arrow counts the header too
            if line > 0:
                self._skipped.append(line)
            if line in self._guard.overlong:
                self._invalid.append((line, _overlong(line)))
            else:
                reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
                self._invalid.append((line, reason))
            return "skip"

        read_options = pacsv.ReadOptions(
            column_names=names, skip_rows=header_lines, block_size=1 << 22, use_threads=False,
            encoding="utf8",
        )  # fmt: skip
        parse_options = pacsv.ParseOptions(
            delimiter="\t" if kind != "csv" else ",",
            quote_char='"' if kind == "csv" else False,
            newlines_in_values=False,
            invalid_row_handler=on_invalid,
        )
        convert_options = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            include_columns=list(mapping),  # unmapped columns are parsed, never converted
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,  # a row with bad bytes is rejected alone, not the whole file
        )
        self._guard = _LineGuard(self._body, MAX_LINE_BYTES)
        try:
            self._reader = pacsv.open_csv(self._guard, read_options, parse_options, convert_options)
        except (OSError, EOFError, pa.ArrowInvalid) as exc:
            raise ManifestError(f"{path}: cannot parse as {kind}: {exc}") from None

    def _lines_for(self, n: int) -> np.ndarray:
        """Physical line numbers of the next ``n`` parsed rows (skipping refused lines)."""
        start = self._next_line
        skipped = sorted(s for s in self._skipped if s >= start)
        candidates = np.arange(start, start + n + len(skipped), dtype=np.int64)
        if skipped:
            candidates = candidates[~np.isin(candidates, skipped)]
        lines = candidates[:n]
        if n:
            self._next_line = int(lines[-1]) + 1
        self._skipped = [s for s in skipped if s >= self._next_line]
        return lines

    def _delimited_batches(self, batch_size: int) -> Iterator[Batch]:
        pending = _Pending(batch_size)
        blocks: list[pa.RecordBatch] = []  # parsed, not yet normalised (one kernel pass
        numbers: list[np.ndarray] = []  # per column for many blocks at once)

        def normalise() -> None:
            lines = np.concatenate(numbers) if numbers else np.empty(0, dtype=np.int64)
            table = pa.Table.from_batches(blocks) if blocks else None
            blocks.clear()
            numbers.clear()
            if table is None:
                return
            columns = {self._mapping[n]: table.column(n).combine_chunks() for n in self._mapping}
            columns, lines = self._screen(columns, lines, pending.rejects)
            pending.add(
                *normalise_columns(columns, lines, rules=self.rules, decode_text=self._yfcc)
            )

        try:
            for record_batch in self._reader:
                pending.rejects.extend(self._invalid)
                self._invalid.clear()
                numbers.append(self._lines_for(record_batch.num_rows))
                blocks.append(record_batch)
                if sum(len(n) for n in numbers) >= min(batch_size, _NORMALISE_ROWS):
                    normalise()
                    yield from pending.full()
        except (pa.ArrowInvalid, OSError, EOFError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{self.path}: near line {self._next_line}: {exc}") from None
        normalise()
        pending.rejects.extend(self._invalid)
        yield from pending.rest()

    def _screen(
        self, columns: dict[str, Any], lines: np.ndarray, rejects: list[tuple[int, str]]
    ) -> tuple[dict[str, Any], np.ndarray]:
        """Drop (and reject) overlong lines, cells that are not UTF-8 and YFCC videos."""
        keep = np.ones(len(lines), dtype=bool)
        if self._guard.overlong:  # a one-column manifest parses the placeholder as a row
            long = np.isin(lines, list(self._guard.overlong))
            rejects.extend((int(line), _overlong(int(line))) for line in lines[long])
            keep &= ~long
        bad_fields: dict[int, list[str]] = {}
        for field, column in columns.items():
            for i in _not_utf8(column):
                bad_fields.setdefault(i, []).append(field)
        for i, fields in sorted(bad_fields.items()):
            if keep[i]:
                rejects.append((int(lines[i]), f"{', '.join(fields)}: not valid UTF-8 text"))
                keep[i] = False
        if self._yfcc:
            video = pc.fill_null(pc.equal(columns["marker"], "1"), False).to_numpy(
                zero_copy_only=False
            )
            video &= keep
            rejects.extend(
                (int(line), "a video (YFCC marker 1), not a photo") for line in lines[video]
            )
            keep &= ~video
        if keep.all():
            return columns, lines
        mask = pa.array(keep)
        return {field: pc.filter(column, mask) for field, column in columns.items()}, lines[keep]

    # --- Parquet ---------------------------------------------------------------------------

    def _open_parquet(self) -> None:
        try:
            self._parquet = pq.ParquetFile(self._raw.handle)
        except (OSError, pa.ArrowInvalid) as exc:
            raise ManifestError(f"{self.path}: not a readable Parquet file: {exc}") from None
        self._mapping = map_columns(self._parquet.schema_arrow.names)
        if not {"path", "download_url", "page_url"} & set(self._mapping.values()):
            raise ManifestError(
                f"{self.path}: not a photo manifest: no path, url or page_url column"
            )
        self.total = self._parquet.metadata.num_rows  # exact, from the footer

    def _parquet_batches(self, batch_size: int) -> Iterator[Batch]:
        row_number = 0
        try:
            for record_batch in self._parquet.iter_batches(
                batch_size=batch_size, columns=list(self._mapping)
            ):
                n = record_batch.num_rows
                lines = np.arange(row_number + 1, row_number + n + 1, dtype=np.int64)
                row_number += n
                columns = {self._mapping[name]: record_batch.column(name) for name in self._mapping}
                table, rejects = normalise_columns(columns, lines, rules=self.rules)
                yield Batch(table=table, rejects=rejects)
        except (OSError, pa.ArrowInvalid) as exc:
            raise ManifestError(f"{self.path}: near row {row_number + 1}: {exc}") from None

    # --- JSON Lines ------------------------------------------------------------------------

    def _jsonl_batches(self, batch_size: int) -> Iterator[Batch]:
        pending = _Pending(batch_size)
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        stream = io.BufferedReader(self._body, buffer_size=1 << 20)
        try:
            for line_number, raw_line in enumerate(_bounded_lines(stream), start=1):
                if raw_line is None:
                    pending.rejects.append((line_number, _overlong(line_number)))
                    continue
                if not raw_line.strip():
                    continue
                try:
                    record = json.loads(raw_line)
                    if not isinstance(record, dict):
                        raise RowError("line is not a JSON object")
                    mapping = map_columns(list(record))
                    records.append({field: record[name] for name, field in mapping.items()})
                    lines.append(line_number)
                except UnicodeDecodeError:
                    pending.rejects.append((line_number, "not valid UTF-8 text"))
                except json.JSONDecodeError as exc:
                    pending.rejects.append(
                        (line_number, f"invalid JSON: {exc.msg} (column {exc.colno})")
                    )
                except RecursionError:
                    pending.rejects.append((line_number, "invalid JSON: nested too deeply"))
                except RowError as exc:
                    pending.rejects.append((line_number, str(exc)))
                if len(records) >= min(batch_size, 10_000):
                    pending.add(*self._json_columns(records, lines, pending.rejects))
                    records, lines = [], []
                    yield from pending.full()
        except (OSError, EOFError) as exc:
            raise ManifestError(f"{self.path}: cannot read: {exc}") from None
        if records:
            pending.add(*self._json_columns(records, lines, pending.rejects))
        yield from pending.rest()

    def _json_columns(
        self, records: list[dict[str, Any]], lines: list[int], rejects: list[tuple[int, str]]
    ) -> tuple[pa.Table, list[tuple[int, str]]]:
        """Normalise JSON records: every value as the text ``str()`` gives (the row rule)."""
        keep = []
        for record, line in zip(records, lines, strict=True):
            if all(_encodable(v) for v in record.values()):
                keep.append((record, line))
            else:  # a lone surrogate escape ("\ud800") is no text either
                rejects.append((line, "not valid UTF-8 text"))
        columns = {
            field: pa.array([_json_text(r.get(field)) for r, _ in keep], pa.string())
            for field in COLUMN_ALIASES
        }
        numbers = np.array([line for _, line in keep], dtype=np.int64)
        return normalise_columns(columns, numbers, rules=self.rules)


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


MAX_LINE_BYTES = 1 << 20  # a manifest row is a few hundred bytes; a longer line is refused
_CHUNK_BYTES = 1 << 20  # must not exceed MAX_LINE_BYTES (see _LineGuard)


def _overlong(line: int) -> str:
    return f"line longer than {MAX_LINE_BYTES:,} bytes: skipped unread"


class _Pending:
    """Normalised tables and rejects gathered until a batch is full (rows or rejects)."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.tables: list[pa.Table] = []
        self.rows = 0
        self.rejects: list[tuple[int, str]] = []

    def add(self, table: pa.Table, rejects: list[tuple[int, str]]) -> None:
        if table.num_rows:
            self.tables.append(table)
            self.rows += table.num_rows
        self.rejects.extend(rejects)

    def _take(self) -> Batch:
        """The first ``batch_size`` rows (all, if fewer) with the rejects up to their last line."""
        table = pa.concat_tables(self.tables) if self.tables else empty_photos()
        rest = None
        if table.num_rows > self.batch_size:
            table, rest = table.slice(0, self.batch_size), table.slice(self.batch_size)
            last = table.column("line")[-1].as_py()
            rejects = [r for r in self.rejects if r[0] <= last]
            self.rejects = [r for r in self.rejects if r[0] > last]
        else:
            rejects, self.rejects = self.rejects, []
        self.tables = [rest] if rest is not None else []
        self.rows = 0 if rest is None else rest.num_rows
        return Batch(table=table, rejects=sorted(rejects))

    def full(self) -> Iterator[Batch]:
        while self.rows >= self.batch_size or len(self.rejects) >= self.batch_size:
            yield self._take()

    def rest(self) -> Iterator[Batch]:
        yield from self.full()
        if self.rows or self.rejects:
            yield self._take()


def _encodable(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def _not_utf8(column: pa.Array | pa.ChunkedArray) -> list[int]:
    """Indices of the cells that are not valid UTF-8 (one full validation when all are)."""
    try:
        column.validate(full=True)
        return []
    except pa.ArrowInvalid:
        pass
    bad = []
    for i, raw in enumerate(column.cast(pa.binary()).to_pylist()):
        if raw is not None:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(i)
    return bad


def _bounded_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """The stream's lines; ``None`` for a line longer than :data:`MAX_LINE_BYTES` (skipped
    without being held in memory)."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 2)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES + 1 or (
            len(line) > MAX_LINE_BYTES and not line.endswith(b"\n")
        ):
            while line and not line.endswith(b"\n"):
                line = stream.readline(_CHUNK_BYTES)
            yield None
            continue
        yield line
