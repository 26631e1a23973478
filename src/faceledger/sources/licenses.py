"""Licence names and URLs -> Flickr licence ids (0-16), from the bundled Flickr list.

Example::

    flickr_license_id("Attribution-NonCommercial-ShareAlike License")  # 1
    flickr_license_id("https://creativecommons.org/licenses/by/2.0/")  # 4
    flickr_license_id("CC BY 4.0")                                    # 11
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources


def _norm(text: str) -> str:
    text = text.strip().lower()
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.rstrip("/")


@cache
def _table() -> tuple[dict[str, int], dict[int, str]]:
    lookup: dict[str, int] = {}
    names: dict[int, str] = {}
    with resources.files("faceledger.sources").joinpath("data/flickr_licenses.csv").open(
        encoding="utf-8"
    ) as handle:
        for row in csv.DictReader(handle):
            license_id = int(row["flickr_license_id"])
            names[license_id] = row["flickr_api_name"]
            for key in ("flickr_api_name", "flickr_api_url", "yfcc100m_license_name", "yfcc100m_license_url"):
                if row[key]:
                    lookup[_norm(row[key])] = license_id
    return lookup, names


def flickr_license_id(text: str | int | None) -> int | None:
    """The Flickr licence id for a name, URL or id; ``None`` when unknown."""
    if text is None:
        return None
    lookup, names = _table()
    if isinstance(text, int):
        return text if text in names else None
    stripped = text.strip()
    if stripped.isdigit():
        value = int(stripped)
        return value if value in names else None
    return lookup.get(_norm(stripped))


def license_name(license_id: int) -> str:
    """Flickr's short name for a licence id (``CC BY-NC 2.0``)."""
    return _table()[1][license_id]
