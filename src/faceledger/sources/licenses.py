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
    with (
        resources.files("faceledger.sources")
        .joinpath("data/flickr_licenses.csv")
        .open(encoding="utf-8") as handle
    ):
        for row in csv.DictReader(handle):
            license_id = int(row["flickr_license_id"])
            names[license_id] = row["flickr_api_name"]
            for key in (
                "flickr_api_name",
                "flickr_api_url",
                "yfcc100m_license_name",
                "yfcc100m_license_url",
            ):
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


#: SPDX has no identifier for these Flickr licences: ``LicenseRef-`` ids (SPDX's own way to
#: name a licence outside its list).
_LICENSE_REFS = {
    0: "LicenseRef-All-Rights-Reserved",
    7: "LicenseRef-Flickr-No-Known-Copyright-Restrictions",
    8: "LicenseRef-United-States-Government-Work",
    10: "LicenseRef-Public-Domain-Mark-1.0",
}


@cache
def _spdx_by_id() -> dict[int, str]:
    """Flickr licence id -> SPDX id, from the Creative Commons URL in the bundled list
    (``.../licenses/by-nc-sa/2.0/`` -> ``CC-BY-NC-SA-2.0``, ``.../publicdomain/zero/1.0/`` ->
    ``CC0-1.0``)."""
    found = dict(_LICENSE_REFS)
    with (
        resources.files("faceledger.sources")
        .joinpath("data/flickr_licenses.csv")
        .open(encoding="utf-8") as handle
    ):
        for row in csv.DictReader(handle):
            parts = _norm(row["flickr_api_url"]).split("/")
            license_id = int(row["flickr_license_id"])
            if parts[:2] == ["creativecommons.org", "licenses"] and len(parts) == 4:
                found[license_id] = f"CC-{parts[2].upper()}-{parts[3]}"
            elif parts[:3] == ["creativecommons.org", "publicdomain", "zero"] and len(parts) == 4:
                found[license_id] = f"CC0-{parts[3]}"
    return found


def spdx_id(text: str | int | None) -> str | None:
    """The SPDX licence id for a Flickr licence id, name or URL (``"Attribution License"``,
    ``"CC BY 2.0"`` and ``4`` all give ``CC-BY-2.0``); ``None`` when unknown.

    Example::

        spdx_id("Attribution-NonCommercial-ShareAlike License")   # 'CC-BY-NC-SA-2.0'
        spdx_id(9)                                                # 'CC0-1.0'
    """
    license_id = flickr_license_id(text)
    return None if license_id is None else _spdx_by_id().get(license_id)
