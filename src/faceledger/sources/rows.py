"""Turning one raw manifest row into the ledger's photo fields, or a reason to reject it.

Pure functions over strings. :func:`normalise_row` is the row-level specification; the
readers apply the same rules a whole batch at a time with
:func:`faceledger.sources.normalise.normalise_columns` (a test holds the two equal), so a
CSV and a Parquet file with the same content give the same photos.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pyarrow as pa

from faceledger.errors import RowError
from faceledger.sources.licenses import flickr_license_id

# Manifest column name -> ledger field. Names are matched case-insensitively.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("photo_id", "id", "flickr_id", "photoid", "external_id"),
    "path": ("path", "file", "filename", "local_path", "image", "image_path"),
    "download_url": ("download_url", "url", "image_url", "photo_url"),
    "page_url": ("page_url", "photo_page_url", "page"),
    "owner_id": ("owner_id", "owner", "nsid", "user_nsid", "user_id"),
    "owner_nickname": ("owner_nickname", "nickname", "username", "owner_name", "user_nickname"),
    "owner_location": ("owner_location", "location", "user_location"),
    "license": ("license", "licence", "license_id", "license_name", "license_url"),
    "date_taken": ("date_taken", "taken", "datetaken"),
    "date_uploaded": ("date_uploaded", "uploaded", "dateupload", "upload_date"),
    # when the dataset owner acquired the photo (e.g. downloaded it); retention clocks start there
    "acquired_at": ("acquired", "acquired_at", "date_acquired", "acquisition_date"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "lng", "long"),
    "geo_accuracy": ("geo_accuracy", "accuracy"),
    "tags": ("tags", "user_tags"),
    "title": ("title",),
    "provider_hash": ("photo_hash", "provider_hash"),
}

LOCATOR_FIELDS = ("path", "download_url", "page_url")


@dataclass(frozen=True)
class PathRules:
    """Where a manifest's photo paths may point: relative paths resolve against ``base``,
    and every path, after following symlinks, must lie inside ``base`` or one of ``roots``
    (``../../etc/passwd``, ``/etc/passwd`` and a symlink out are rejected)."""

    base: Path
    roots: tuple[Path, ...] = ()

    def resolve(self, text: str) -> Path:
        if "\x00" in text:
            raise RowError("a text field contains a NUL character")
        path = Path(text).expanduser()
        path = (path if path.is_absolute() else self.base / path).resolve()
        allowed = (self.base.resolve(), *(Path(r).expanduser().resolve() for r in self.roots))
        if not any(path.is_relative_to(root) for root in allowed):
            raise RowError(
                f"file {text!r} is outside the manifest's folder {self.base} (allow more "
                "folders with the manifest_path_roots setting)"
            )
        return path


@dataclass
class Batch:
    """Normalised rows as an Arrow table (photo fields plus ``line``, see
    :data:`faceledger.sources.normalise.PHOTO_SCHEMA`), and the lines rejected with a reason."""

    table: pa.Table | None = None
    rejects: list[tuple[int, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Rows in the batch, valid or rejected (what a progress bar counts)."""
        return (0 if self.table is None else self.table.num_rows) + len(self.rejects)

    @property
    def rows(self) -> list[tuple[int, dict[str, Any]]]:
        """The valid rows as ``(line, fields)`` in Python (for tests and small callers; the
        ingest writes the table without this)."""
        if self.table is None:
            return []
        out = []
        for row in self.table.to_pylist():
            line = row.pop("line")
            out.append((int(line), row))
        return out


def map_columns(names: list[str]) -> dict[str, str]:
    """Manifest column -> ledger field, for the columns that have one."""
    lowered = {name.strip().lower(): name for name in names}
    mapping: dict[str, str] = {}
    for target, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in lowered and lowered[alias] not in mapping:
                mapping[lowered[alias]] = target
                break
    return mapping


def _text(value: Any, *, decode: bool = False) -> str | None:
    if value is None or value == "":
        return None
    if type(value) is not str:
        if isinstance(value, float) and math.isnan(value):
            return None
        value = str(value)
    text: str = value.strip()
    if not text:
        return None
    if decode and ("%" in text or "+" in text):
        return str(unquote_plus(text))
    return text


def _float(value: Any, name: str, low: float, high: float) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise RowError(f"{name} {text!r} is not a number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise RowError(f"{name} {text!r} is outside [{low:g}, {high:g}]")
    return number


def parse_when(value: Any, name: str) -> datetime | None:
    """ISO dates, ``YYYY-MM-DD hh:mm:ss.0`` (YFCC) and unix epochs; naive times taken as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = _text(value)
    if text is None:
        return None
    if text.isdigit():
        try:
            return datetime.fromtimestamp(int(text), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise RowError(f"{name} {text!r} is not a valid unix time") from None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(f"{name} {text!r} is not a date (use YYYY-MM-DD[ hh:mm:ss])") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalise_row(
    raw: Mapping[str, Any], *, base_dir: Path | PathRules, decode_text: bool = False
) -> dict[str, Any]:
    """Ledger photo fields from a row keyed by ledger field name; raises RowError.

    ``base_dir`` resolves relative paths and confines every path (:class:`PathRules`; a bare
    folder allows only itself); ``decode_text`` URL-decodes free text (YFCC).
    """
    rules = base_dir if isinstance(base_dir, PathRules) else PathRules(base_dir)
    row: dict[str, Any] = {}
    for name in ("external_id", "download_url", "page_url", "owner_id", "provider_hash"):
        row[name] = _text(raw.get(name))
    for name in ("owner_nickname", "owner_location", "tags", "title"):
        row[name] = _text(raw.get(name), decode=decode_text)
    latitude = _float(raw.get("latitude"), "latitude", -90.0, 90.0)
    longitude = _float(raw.get("longitude"), "longitude", -180.0, 180.0)
    if (latitude is None) != (longitude is None):
        raise RowError("latitude and longitude must be given together")
    row["latitude"], row["longitude"] = latitude, longitude
    accuracy = _float(raw.get("geo_accuracy"), "accuracy", 0, 16)
    row["geo_accuracy"] = None if accuracy is None else int(accuracy)
    row["date_taken"] = parse_when(raw.get("date_taken"), "date_taken")
    row["date_uploaded"] = parse_when(raw.get("date_uploaded"), "date_uploaded")
    row["acquired_at"] = parse_when(raw.get("acquired_at"), "acquired")

    license_text = _text(raw.get("license"))
    row["license_id"] = flickr_license_id(license_text)
    row["license_name"] = license_text
    row["license_url"] = _text(raw.get("license_url"))

    path_text = _text(raw.get("path"))
    row["path"] = None
    if path_text is not None:
        path = rules.resolve(path_text)
        if not path.is_file():
            raise RowError(f"file {path_text!r} does not exist")
        row["path"] = str(path)
    if not any(row[name] for name in LOCATOR_FIELDS):
        raise RowError("row has no path, url or page_url")
    if any("\x00" in value for value in row.values() if isinstance(value, str)):
        raise RowError("a text field contains a NUL character")  # PostgreSQL cannot store it
    row["source_key"] = row["external_id"] or path_text or row["download_url"] or row["page_url"]
    return row
