"""Normalising a whole batch of manifest rows at once, in Arrow.

Example::

    table, rejects = normalise_columns({"external_id": ids, "download_url": urls, ...},
                                       lines, rules=PathRules(folder))
    table.num_rows, rejects[:3]          # photo fields (+ "line"), [(line, reason), ...]

The same rules as :func:`faceledger.sources.rows.normalise_row` (the row-level
specification; a test holds the two equal on every edge case), but column by column:
trimming, empty-to-null, number and date parsing, range checks and licence lookup run
as Arrow compute kernels. Python touches only what Arrow cannot do: URL-decoding the
cells that hold a ``%`` (YFCC free text), resolving local paths, and any column a
kernel refuses as a whole (then that column, in that batch only, is parsed cell by cell
so each bad cell gets its own reason).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from faceledger.errors import RowError
from faceledger.sources.licenses import flickr_license_id
from faceledger.sources.rows import PathRules, _float, _text, parse_when

UTC_US = pa.timestamp("us", tz="UTC")
TEXT_FIELDS = ("external_id", "download_url", "page_url", "owner_id", "provider_hash")
DECODED_FIELDS = ("owner_nickname", "owner_location", "tags", "title")
PHOTO_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("source_key", pa.string()),
        *((name, pa.string()) for name in TEXT_FIELDS + DECODED_FIELDS),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("geo_accuracy", pa.int64()),
        ("date_taken", UTC_US),
        ("date_uploaded", UTC_US),
        ("acquired_at", UTC_US),
        ("license_id", pa.int64()),
        ("license_name", pa.string()),
        ("license_url", pa.string()),
        ("path", pa.string()),
    ]
)
_MAX_EPOCH = 253_402_300_799  # 9999-12-31 23:59:59, the last second Python's datetime holds
_DATE_HINT = "is not a date (use YYYY-MM-DD[ hh:mm:ss])"


def empty_photos() -> pa.Table:
    return PHOTO_SCHEMA.empty_table()


def normalise_columns(
    raw: Mapping[str, pa.Array | pa.ChunkedArray],
    lines: np.ndarray,
    *,
    rules: PathRules,
    decode_text: bool = False,
) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Photo fields (:data:`PHOTO_SCHEMA`) for the valid rows, and ``(line, reason)`` for
    the others. ``raw`` maps ledger field names to columns of ``len(lines)`` values (text,
    or Parquet's own types); missing fields are null."""
    n = len(lines)
    columns: dict[str, Any] = {}
    errors: list[pa.Array] = []  # per check, the reason or null; the first non-null wins

    def get(name: str) -> pa.Array:
        column = raw.get(name)
        if column is None:
            return pa.nulls(n, pa.string())
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column

    for name in TEXT_FIELDS:
        columns[name] = _clean(get(name))
    for name in DECODED_FIELDS:
        text = _clean(get(name))
        columns[name] = _url_decode(text) if decode_text else text

    latitude, lat_error = _floats(get("latitude"), "latitude", -90.0, 90.0)
    longitude, lon_error = _floats(get("longitude"), "longitude", -180.0, 180.0)
    unpaired = pc.not_equal(pc.is_null(latitude), pc.is_null(longitude))
    accuracy, acc_error = _floats(get("geo_accuracy"), "accuracy", 0, 16)
    columns["latitude"], columns["longitude"] = latitude, longitude
    columns["geo_accuracy"] = pc.cast(pc.trunc(accuracy), pa.int64())
    errors += [
        lat_error,
        lon_error,
        _where(unpaired, "latitude and longitude must be given together"),
    ]
    errors.append(acc_error)
    for field, name in (("date_taken", "date_taken"), ("date_uploaded", "date_uploaded"),
                        ("acquired_at", "acquired")):  # fmt: skip
        columns[field], error = _dates(get(field), name)
        errors.append(error)

    license_text = _clean(get("license"))
    columns["license_id"] = _licence_ids(license_text)
    columns["license_name"] = license_text
    columns["license_url"] = _clean(get("license_url"))

    path_text = _clean(get("path"))
    columns["path"], path_error = _paths(path_text, rules)
    errors.append(path_error)
    located = pc.or_(pc.is_valid(columns["path"]), pc.is_valid(columns["download_url"]))
    located = pc.or_(located, pc.is_valid(columns["page_url"]))
    errors.append(_where(pc.invert(located), "row has no path, url or page_url"))
    errors.append(_nul_error(columns, n))
    columns["source_key"] = pc.coalesce(
        columns["external_id"], path_text, columns["download_url"], columns["page_url"]
    )
    columns["line"] = pa.array(lines, pa.int64())

    reason = pc.coalesce(*errors) if errors else pa.nulls(n, pa.string())
    bad = pc.is_valid(reason)
    table = pa.table(
        {f.name: _as(columns[f.name], f.type) for f in PHOTO_SCHEMA}, schema=PHOTO_SCHEMA
    )
    if not pc.any(bad).as_py():
        return table, []
    rejects = list(
        zip(
            pc.filter(columns["line"], bad).to_pylist(),
            pc.filter(reason, bad).to_pylist(),
            strict=True,
        )
    )
    return table.filter(pc.invert(bad)), rejects


def _as(values: Any, type_: pa.DataType) -> pa.Array:
    return values if values.type == type_ else pc.cast(values, type_)


def _where(mask: pa.Array, message: str) -> pa.Array:
    return pc.if_else(mask, pa.scalar(message), pa.scalar(None, pa.string()))


def _as_text(values: pa.Array) -> pa.Array:
    """Any column as text the way ``str()`` would write each value (``_text``'s rule)."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.cast(values, pa.string())
    if pa.types.is_integer(kind) or pa.types.is_null(kind):
        return pc.cast(values, pa.string())
    return pa.array([_text(v) for v in values.to_pylist()], pa.string())  # float, bool, ...


def _clean(values: pa.Array) -> pa.Array:
    """Trimmed text; empty cells become null (``_text``)."""
    text = pc.utf8_trim_whitespace(_as_text(values))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _url_decode(text: pa.Array) -> pa.Array:
    """``unquote_plus`` of every cell: ``+`` is a kernel; the cells with a ``%`` are decoded
    together by :func:`unquote_many`."""
    text = pc.replace_substring(text, "+", " ")
    has_escape = pc.fill_null(pc.match_substring(text, "%"), False)
    if not pc.any(has_escape).as_py():
        return text
    decoded = unquote_many(pc.filter(text, has_escape).to_pylist())
    return pc.replace_with_mask(text, has_escape, pa.array(decoded, pa.string()))


_HEX = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF", start=10):
    _HEX[_c] = _i


def unquote_many(cells: list[str]) -> list[str]:
    """``[urllib.parse.unquote(c) for c in cells]``, vectorised: the cells are joined by
    newlines, every ``%XX`` becomes its byte in one numpy pass, and the bytes are decoded
    as UTF-8 (invalid bytes replaced) in one call. That equals decoding each cell alone,
    because UTF-8 decoding restarts at every ASCII byte and literal text is valid UTF-8;
    a cell that decodes to a newline changes the count, and then each cell is decoded
    alone."""
    if not cells:
        return []
    raw = np.frombuffer("\n".join(cells).encode("utf-8"), dtype=np.uint8)
    percent = np.flatnonzero(raw[:-2] == ord("%"))
    high, low = _HEX[raw[percent + 1]], _HEX[raw[percent + 2]]
    escapes = percent[(high >= 0) & (low >= 0)]  # "%XX" never overlap: "%" is no hex digit
    out = raw.copy()
    out[escapes] = (_HEX[raw[escapes + 1]] * 16 + _HEX[raw[escapes + 2]]).astype(np.uint8)
    keep = np.ones(len(raw), dtype=bool)
    keep[escapes + 1] = False
    keep[escapes + 2] = False
    decoded = out[keep].tobytes().decode("utf-8", errors="replace").split("\n")
    if len(decoded) != len(cells):
        decoded = [unquote(cell) for cell in cells]
    return decoded


def _floats(values: pa.Array, name: str, low: float, high: float) -> tuple[pa.Array, pa.Array]:
    """Numbers in ``[low, high]`` (null where absent or bad) and the reason per bad cell."""
    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        values = _as_text(values)  # str(41.9) == "41.9": the same text the row rule sees
    text = _clean(values)
    try:
        numbers = pc.cast(text, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _cell_by_cell(text, lambda v: _float(v, name, low, high), pa.float64())
    inside = pc.and_(
        pc.is_finite(numbers), pc.and_(pc.greater_equal(numbers, low), pc.less_equal(numbers, high))
    )
    outside = pc.fill_null(pc.invert(inside), False)
    if not pc.any(outside).as_py():
        return numbers, pa.nulls(len(text), pa.string())
    messages = [
        f"{name} {v!r} is outside [{low:g}, {high:g}]" for v in pc.filter(text, outside).to_pylist()
    ]
    reason = pc.replace_with_mask(
        pa.nulls(len(text), pa.string()), outside, pa.array(messages, pa.string())
    )
    return pc.if_else(outside, pa.scalar(None, pa.float64()), numbers), reason


def _cell_by_cell(
    text: pa.Array, parse: Callable[[Any], Any], type_: pa.DataType
) -> tuple[pa.Array, pa.Array]:
    """The row rule, one cell at a time (a column a kernel refused as a whole)."""
    values: list[Any] = []
    reasons: list[str | None] = []
    for value in text.to_pylist():
        try:
            values.append(parse(value))
            reasons.append(None)
        except RowError as exc:
            values.append(None)
            reasons.append(str(exc))
    return pa.array(values, type_), pa.array(reasons, pa.string())


def _dates(values: pa.Array, name: str) -> tuple[pa.Array, pa.Array]:
    """Timestamps in UTC: ISO text (naive = UTC), unix epochs, or Parquet dates/times."""
    n = len(values)
    no_error = pa.nulls(n, pa.string())
    kind = values.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            values = pc.assume_timezone(values, "UTC")
        return pc.cast(values, UTC_US, safe=False), no_error
    if pa.types.is_date(kind):
        return pc.assume_timezone(pc.cast(values, pa.timestamp("us")), "UTC"), no_error
    text = _clean(values)
    digits = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]+$"), False)
    others = pc.and_(pc.is_valid(text), pc.invert(digits))
    try:
        epochs = pc.cast(pc.if_else(digits, text, pa.scalar(None, pa.string())), pa.int64())
        if pc.any(pc.greater(epochs, _MAX_EPOCH)).as_py():
            raise pa.ArrowInvalid("outside datetime's range")
        from_epoch = pc.cast(pc.multiply(epochs, 1_000_000), pa.timestamp("us"))
        parsed = _iso(pc.if_else(others, text, pa.scalar(None, pa.string())))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _cell_by_cell(text, lambda v: parse_when(v, name), UTC_US)
    stamps = pc.coalesce(pc.assume_timezone(from_epoch, "UTC"), parsed)
    years = pc.year(stamps)
    bad_year = pc.fill_null(pc.or_(pc.less(years, 1), pc.greater(years, 9999)), False)
    if not pc.any(bad_year).as_py():
        return stamps, no_error
    messages = [f"{name} {v!r} {_DATE_HINT}" for v in pc.filter(text, bad_year).to_pylist()]
    return (
        pc.if_else(bad_year, pa.scalar(None, UTC_US), stamps),
        pc.replace_with_mask(no_error, bad_year, pa.array(messages, pa.string())),
    )


def _iso(text: pa.Array) -> pa.Array:
    """ISO 8601 text to UTC: all naive (taken as UTC), or all with a zone (``Z``, ``+02:00``)."""
    try:
        return pc.assume_timezone(pc.cast(text, pa.timestamp("us")), "UTC")
    except pa.ArrowInvalid:
        return pc.cast(text, UTC_US)  # raises ArrowInvalid again for a mix: cell by cell


def _licence_ids(text: pa.Array) -> pa.Array:
    """Flickr licence ids, looked up once per distinct licence text in the batch."""
    distinct = pc.unique(text)
    ids = pa.array([flickr_license_id(v) for v in distinct.to_pylist()], pa.int64())
    return pc.take(ids, pc.index_in(text, value_set=distinct))


def _paths(text: pa.Array, rules: PathRules) -> tuple[pa.Array, pa.Array]:
    """Resolved local paths (inside the allowed folders, existing) and the reason per bad cell."""
    if text.null_count == len(text):
        return text, pa.nulls(len(text), pa.string())

    def resolve(value: str | None) -> str | None:
        if value is None:
            return None
        path = rules.resolve(value)
        if not path.is_file():
            raise RowError(f"file {value!r} does not exist")
        return str(path)

    return _cell_by_cell(text, resolve, pa.string())


def _nul_error(columns: Mapping[str, pa.Array], n: int) -> pa.Array:
    """Text with a NUL character, which PostgreSQL cannot store: the row is rejected on
    every backend alike. One scan of each column's data buffer finds the (rare) columns
    that need a per-cell look."""
    found = None
    for name in TEXT_FIELDS + DECODED_FIELDS + ("license_name", "license_url", "path"):
        column = columns[name]
        data = column.buffers()[2] if column.type == pa.string() else None
        if data is None or np.frombuffer(data, dtype=np.uint8).all():
            continue  # no data, or no zero byte anywhere in it
        hit = pc.fill_null(pc.match_substring(column, "\x00"), False)
        found = hit if found is None else pc.or_(found, hit)
    if found is None:
        return pa.nulls(n, pa.string())
    return _where(found, "a text field contains a NUL character")
