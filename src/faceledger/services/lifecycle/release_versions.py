"""Release versions as they exist: references (``NAME@v2``), listing, diffs, and which
versions hold given faces or photos (what an erasure must cut and whose consumers it must
tell). Creating versions: :mod:`faceledger.services.lifecycle.releases`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from faceledger.errors import ReleaseError
from faceledger.services.lifecycle.release_withheld import Withheld
from faceledger.store import Ledger
from faceledger.store.tables import (
    ITEMS,
    RELEASES,
    VERSIONS,
    chunks,
)

_REF = re.compile(r"^(?P<name>[^@]+?)(?:@v?(?P<version>\d+))?$")


@dataclass(frozen=True)
class VersionInfo:
    """One release version as listed and returned (``release list --json`` entries)."""

    id: int
    release: str
    version: int
    parent: int | None
    purpose: str
    reason: str
    with_features: bool
    photos: int
    faces: int
    manifest_sha256: str
    path: str
    files: dict[str, str]
    created_at: datetime
    images: dict[str, Any] | None = None  # --images original|redacted: counts (set when written)
    disclosure_basis: str | None = None  # --disclosure-basis, recorded on the version
    withheld: Withheld | None = None  # release create: what was left out and why (not stored)

    @property
    def ref(self) -> str:
        return f"{self.release}@v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref, "release": self.release, "version": self.version,
            "parent": self.parent, "purpose": self.purpose, "reason": self.reason,
            "with_features": self.with_features, "photos": self.photos, "faces": self.faces,
            "manifest_sha256": self.manifest_sha256, "path": self.path, "files": self.files,
            "created_at": self.created_at.isoformat(),
            **({"images": self.images} if self.images is not None else {}),
            "disclosure_basis": self.disclosure_basis,
            **({"withheld": self.withheld.to_dict()} if self.withheld is not None else {}),
        }  # fmt: skip


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"NAME@v2"`` or ``"NAME@2"`` -> ``("NAME", 2)``; ``"NAME"`` -> ``("NAME", None)`` (latest)."""
    match = _REF.match(ref.strip())
    if not match:
        raise ReleaseError(f"{ref!r} is not a release reference like NAME@v1")
    version = match.group("version")
    return match.group("name"), int(version) if version else None


def _version_select() -> Any:
    parent = VERSIONS.alias("parent")
    return (
        select(
            VERSIONS,
            RELEASES.c.name.label("release_name"),
            parent.c.version.label("parent_version"),
        )
        .join(RELEASES, RELEASES.c.id == VERSIONS.c.release_id)
        .outerjoin(parent, parent.c.id == VERSIONS.c.parent_id)
    )


def _info(row: Any) -> VersionInfo:
    return VersionInfo(
        id=int(row.id), release=row.release_name, version=int(row.version),
        parent=row.parent_version, purpose=row.purpose, reason=row.reason,
        with_features=bool(row.with_features), photos=int(row.photo_count),
        faces=int(row.face_count), manifest_sha256=row.manifest_sha256, path=row.path,
        files=dict(row.files), created_at=row.created_at, disclosure_basis=row.disclosure_basis,
    )  # fmt: skip


def get_version(conn: Connection, ref: str) -> VersionInfo:
    """The version ``ref`` names (the latest when it names no number)."""
    name, number = parse_ref(ref)
    query = _version_select().where(RELEASES.c.name == name)
    query = (
        query.where(VERSIONS.c.version == number)
        if number
        else query.order_by(VERSIONS.c.version.desc())
    )
    row = conn.execute(query.limit(1)).first()
    if row is None:
        raise ReleaseError(f"no release version {ref!r} (see faceledger release list)")
    return _info(row)


def list_releases(ledger: Ledger) -> list[VersionInfo]:
    """Every version of every release, by name then version."""
    with ledger.read() as conn:
        rows = conn.execute(_version_select().order_by(RELEASES.c.name, VERSIONS.c.version)).all()
    return [_info(row) for row in rows]


def diff_releases(ledger: Ledger, a: str, b: str) -> dict[str, Any]:
    """Faces and photos added and removed from version ``a`` to version ``b``."""
    with ledger.read() as conn:
        first, second = get_version(conn, a), get_version(conn, b)
        sets = []
        for version in (first, second):
            rows = conn.execute(
                select(ITEMS.c.face_id, ITEMS.c.photo_id).where(ITEMS.c.version_id == version.id)
            ).all()
            sets.append(({int(f) for f, _ in rows}, {int(p) for _, p in rows}))
    (faces_a, photos_a), (faces_b, photos_b) = sets
    return {
        "a": first.ref, "b": second.ref,
        "faces": {"added": sorted(faces_b - faces_a), "removed": sorted(faces_a - faces_b),
                  "kept": len(faces_a & faces_b)},
        "photos": {"added": sorted(photos_b - photos_a), "removed": sorted(photos_a - photos_b),
                   "kept": len(photos_a & photos_b)},
        "manifest_sha256": {"a": first.manifest_sha256, "b": second.manifest_sha256},
    }  # fmt: skip


def versions_holding(conn: Connection, face_ids: set[int], photo_ids: set[int]) -> set[int]:
    """Ids of every release version that holds any of these faces or photos."""
    found: set[int] = set()
    for column, ids in ((ITEMS.c.face_id, sorted(face_ids)), (ITEMS.c.photo_id, sorted(photo_ids))):
        for chunk in chunks(ids):
            found.update(
                int(v) for (v,) in conn.execute(
                    select(ITEMS.c.version_id).where(column.in_(chunk)).distinct()
                )
            )  # fmt: skip
    return found


def releases_holding(conn: Connection, *, face_ids: set[int], photo_ids: set[int]) -> list[str]:
    """``NAME@vN`` of every release version that held any of these faces or photos."""
    ids = versions_holding(conn, face_ids, photo_ids)
    if not ids:
        return []
    rows = conn.execute(
        select(RELEASES.c.name, VERSIONS.c.version)
        .join(RELEASES, RELEASES.c.id == VERSIONS.c.release_id)
        .where(VERSIONS.c.id.in_(sorted(ids)))
        .order_by(RELEASES.c.name, VERSIONS.c.version)
    ).all()
    return [f"{name}@v{version}" for name, version in rows]
