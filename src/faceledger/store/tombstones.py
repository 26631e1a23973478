"""Tombstones: an erased or opted-out photo must not come back from another source.

Example::

    request_ids = tombstone_matches(conn, [{"content_hash": "ab12...", "external_id": "6985418911",
                                            "owner_id": "7000@N01"}])
    request_ids[0]   # the request whose tombstone covers that photo, or None

An executed request leaves its photos in the ledger with ``excluded_request_id`` set (the
rows are never deleted): those rows *are* the tombstones. A photo that arrives again, from
another manifest, another folder or a re-fetch, is covered when it shares with an excluded
photo

- its content hash (sha256 of the bytes) or the provider's own hash (YFCC ``photo_hash``),
- its provider photo id (``external_id``, e.g. the Flickr id),

or when an executed owner-level request (``key_type = owner``, opt-out or erasure) names its
owner id or nickname. Ingest applies this to every new row and scan to every photo before it
is scanned and again with the hash of the bytes it actually read, so nothing is detected in
a photo that an executed request removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from faceledger.store.tables import PHOTOS, REQUESTS, chunks

PHOTO_KEYS = ("content_hash", "provider_hash", "external_id")  # matched against excluded photos
OWNER_KEYS = ("owner_id", "owner_nickname")  # matched against executed owner requests
DONE = ("executed", "confirmed")


def _chunks(values: Iterable[str]) -> Iterable[Sequence[str]]:
    """The distinct non-empty ``values``, sorted, in ``IN (...)``-sized slices."""
    return chunks(sorted({v for v in values if v}))


def _excluded_by(conn: Connection, column: str, values: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    col = PHOTOS.c[column]
    for chunk in _chunks(values):
        for value, request_id in conn.execute(
            select(col, PHOTOS.c.excluded_request_id)
            .where(col.in_(chunk), PHOTOS.c.excluded_request_id.is_not(None))
            .order_by(PHOTOS.c.excluded_request_id)
        ):
            found.setdefault(str(value), int(request_id))
    return found


def _owner_requests(conn: Connection, values: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(values):
        for value, request_id in conn.execute(
            select(REQUESTS.c.key_value, REQUESTS.c.id)
            .where(
                REQUESTS.c.key_type == "owner",
                REQUESTS.c.kind.in_(("optout", "erasure")),
                REQUESTS.c.status.in_(DONE),
                REQUESTS.c.key_value.in_(chunk),
            )  # fmt: skip
            .order_by(REQUESTS.c.id)
        ):
            found.setdefault(str(value), int(request_id))
    return found


def tombstone_matches(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int | None]:
    """For each photo (a mapping with any of :data:`PHOTO_KEYS` and :data:`OWNER_KEYS`), the
    id of the request whose tombstone covers it, else ``None``. A few indexed queries per
    call, whatever the number of rows."""
    by_key = {
        key: _excluded_by(conn, key, (str(r[key]) for r in rows if r.get(key)))
        for key in PHOTO_KEYS
    }
    owners = _owner_requests(conn, (str(r[k]) for r in rows for k in OWNER_KEYS if r.get(k)))
    matches: list[int | None] = []
    for row in rows:
        hit = next(
            (by_key[k][str(row[k])] for k in PHOTO_KEYS if row.get(k) and str(row[k]) in by_key[k]),
            None,
        )
        if hit is None:
            hit = next(
                (owners[str(row[k])] for k in OWNER_KEYS if row.get(k) and str(row[k]) in owners),
                None,
            )
        matches.append(hit)
    return matches
