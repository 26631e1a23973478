"""Releases: writing immutable, versioned manifests of the photos and faces a purpose allows.

The rooms around it: :mod:`~faceledger.services.lifecycle.release_selection` (what a purpose may
release), :mod:`~faceledger.services.lifecycle.release_versions` (references, listing, diffs, which
versions hold a face), :mod:`~faceledger.services.lifecycle.release_consumers` (who received what, and
the notices an erasure makes due), :mod:`~faceledger.services.lifecycle.release_images` (image files)
and :mod:`~faceledger.services.lifecycle.release_withheld` (why faces were left out).

Example::

    v1 = create_release(ledger, vault, settings, name="faces-2025", purpose="fairness-audit")
    v1.path          # <data_dir>/releases/faces-2025/v1/ : faces.parquet, faces.csv, croissant.json
    add_consumer(ledger, name="partner-lab", ref="faces-2025@v1")
    diff_releases(ledger, "faces-2025@v1", "faces-2025@v2")

What goes in: a face is released when its recorded decision for ``(purpose,
extract-template)`` is ``allow`` *and* the law engine, asked now through
:func:`~faceledger.services.decisions.assess.assess_face_ids` for action ``release`` (a disclosure),
allows it too; neither the face nor its photo is excluded by a request. A photo goes in only
when *every* face detected in it goes in (the image shows them all), and only with its faces.
Features (the DiF measures of each face's geometry template) are added only with
``with_features``, decrypted through :func:`~faceledger.services.biometrics.templates.read_face_templates`
(audited); a face without a readable template gets none.

A version is never rewritten: its files' sha256 are recorded with the version and a new
``create`` (or an erasure, :func:`cut_without`) makes the next number. Every version and every
consumer registration appends its audit event in the same transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import secrets
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection, func, select

from faceledger.config import Settings
from faceledger.core.law.model import DISCLOSURE_BASES
from faceledger.errors import ReleaseEmpty, ReleaseError, ReleaseUnchanged
from faceledger.services.biometrics.templates import EXTRACT, GEOMETRY, read_face_templates
from faceledger.services.decisions.policy import laws_for
from faceledger.services.lifecycle.croissant import croissant_card
from faceledger.services.lifecycle.release_images import (
    IMAGE_FILES,
    IMAGE_MODES,
    IMAGES_DIR,
    ImagePart,
    carry_forward,
    photos_holding,
    plan_original,
    plan_redacted,
)
from faceledger.services.lifecycle.release_selection import (
    RELEASE_ACTION,
    candidates,
    face_facts,
    release_allowed,
    whole_photos,
)
from faceledger.services.lifecycle.release_versions import (
    VersionInfo,
    versions_holding,
)
from faceledger.services.lifecycle.release_withheld import content_sha256, explain_withheld
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.db import ensure_private_dir
from faceledger.store.ledger import utcnow
from faceledger.store.tables import (
    ITEMS,
    RELEASES,
    VERSIONS,
    chunks,
)
from faceledger.store.vault import KeyVault

logger = logging.getLogger(__name__)
FILES = ("faces.parquet", "faces.csv", "croissant.json")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

SCHEMA = pa.schema([
    ("release", pa.string()), ("version", pa.int32()), ("photo_id", pa.int64()),
    ("photo_external_id", pa.string()), ("face_id", pa.int64()), ("face_index", pa.int32()),
    ("x1", pa.float64()), ("y1", pa.float64()), ("x2", pa.float64()), ("y2", pa.float64()),
    ("score", pa.float64()), ("download_url", pa.string()), ("page_url", pa.string()),
    ("license_name", pa.string()), ("license_url", pa.string()), ("jurisdictions", pa.string()),
    ("laws", pa.string()), ("consent_basis", pa.string()), ("destroy_by", pa.date32()),
    ("features", pa.string()),
])  # fmt: skip


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_sha256(files: dict[str, str]) -> str:
    """The version's identity: sha256 over its files' names and sha256, canonically."""
    return hashlib.sha256(
        json.dumps(files, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _table(
    name: str, version: int, faces: list[Any], features: dict[int, bytes] | None
) -> pa.Table:
    columns: dict[str, list[Any]] = {field.name: [] for field in SCHEMA}
    for face in faces:
        jurisdictions, laws, basis = face_facts(face.result, face.scenario)
        feature = None
        if features is not None and int(face.face_id) in features:
            feature = json.dumps(
                json.loads(features[int(face.face_id)])["measures"], sort_keys=True
            )
        values = {
            "release": name, "version": version, "photo_id": int(face.photo_id),
            "photo_external_id": face.external_id, "face_id": int(face.face_id),
            "face_index": int(face.face_index), "x1": face.x1, "y1": face.y1, "x2": face.x2,
            "y2": face.y2, "score": face.score, "download_url": face.download_url,
            "page_url": face.page_url, "license_name": face.license_name,
            "license_url": face.license_url, "jurisdictions": jurisdictions, "laws": laws,
            "consent_basis": basis, "destroy_by": face.destroy_by, "features": feature,
        }  # fmt: skip
        for key, value in values.items():
            columns[key].append(value)
    return pa.Table.from_pydict(columns, schema=SCHEMA)


# --- writing a version ---------------------------------------------------------------------


def _ensure_release(conn: Connection, name: str, purpose: str) -> int:
    if not _NAME.match(name):
        raise ReleaseError(
            f"release name {name!r}: use letters, digits, '.', '_' or '-' (at most 128), "
            "starting with a letter or digit"
        )
    row = conn.execute(
        select(RELEASES.c.id, RELEASES.c.purpose).where(RELEASES.c.name == name)
    ).first()
    if row is not None:
        if row.purpose != purpose:
            raise ReleaseError(
                f"release {name!r} is for purpose {row.purpose!r}, not {purpose!r}: "
                "a release keeps one purpose; choose another name"
            )
        return int(row.id)
    return int(
        conn.execute(
            RELEASES.insert()
            .values(name=name, purpose=purpose, created_at=utcnow())
            .returning(RELEASES.c.id)
        ).scalar_one()
    )


def _write_version(
    conn: Connection, settings: Settings, *, release_id: int, name: str, purpose: str,
    table: pa.Table, with_features: bool, reason: str, actor: str, images: ImagePart | None = None,
    disclosure_basis: str | None = None, refuse_identical: bool = False,
) -> VersionInfo:  # fmt: skip
    """Write the files of the next version of release ``name``, record it, audit it.
    ``images``: the version's image files (:mod:`faceledger.services.lifecycle.release_images`).
    ``refuse_identical``: raise :class:`ReleaseUnchanged` (nothing written) when the version
    would hold exactly what the latest holds (:func:`content_sha256`).

    The version folder is published (renamed into place) before the caller commits. A process
    killed between the two leaves a folder with no row: an *orphan*. The release's row is
    locked first (PostgreSQL; SQLite's write lock is already held), so while we hold it no
    live process is between publish and commit for this release: a folder for a number no
    committed row has, and any staging folder, are left by a dead process and are cleared.
    """
    conn.execute(select(RELEASES.c.id).where(RELEASES.c.id == release_id).with_for_update())
    latest = conn.execute(
        select(VERSIONS.c.id, VERSIONS.c.version, VERSIONS.c.content_sha256)
        .where(VERSIONS.c.release_id == release_id)
        .order_by(VERSIONS.c.version.desc())
        .limit(1)
    ).first()
    number = (int(latest.version) + 1) if latest else 1
    table = table.set_column(
        table.schema.get_field_index("version"), "version",
        pa.array([number] * table.num_rows, pa.int32()),
    )  # fmt: skip
    ensure_private_dir(settings.data_dir)
    folder = settings.data_dir / "releases" / name / f"v{number}"
    orphans = _clear_orphans(folder)
    staging = folder.with_name(f".v{number}.{secrets.token_hex(4)}.staging")
    staging.mkdir(parents=True)
    now = utcnow()
    try:
        pq.write_table(table, staging / "faces.parquet")
        pacsv.write_csv(table, staging / "faces.csv")
        files = {f: _sha256(staging / f) for f in ("faces.parquet", "faces.csv")}
        redacted = images.write(staging, files) if images is not None else []
        photos = len(set(table.column("photo_id").to_pylist()) | {p for _, p in redacted})
        card = croissant_card(
            name=name, version=number, purpose=purpose, created=now, table=table,
            files={k: v for k, v in files.items() if not k.startswith(f"{IMAGES_DIR}/")},
            with_features=with_features, reason=reason,
        )  # fmt: skip
        if images is not None:
            card = images.card(card)
        (staging / "croissant.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
        files["croissant.json"] = _sha256(staging / "croissant.json")
        digest = manifest_sha256(files)
        content = content_sha256(table, files, disclosure_basis=disclosure_basis)
        if refuse_identical and latest is not None and latest.content_sha256 == content:
            raise ReleaseUnchanged(
                f"release {name}: nothing changed since {name}@v{latest.version} (the same faces, "
                f"photos, files and disclosure basis; content sha256 {content[:16]}...): no new "
                "version cut. A new version follows a change in what the purpose allows (assess, "
                "consent, erasure) or other options (--with-features, --images, --disclosure-basis)"
            )  # fmt: skip
        version_id = conn.execute(
            VERSIONS.insert().values(
                release_id=release_id, version=number, parent_id=latest.id if latest else None,
                created_at=now, reason=reason, purpose=purpose, with_features=with_features,
                photo_count=photos, face_count=table.num_rows, manifest_sha256=digest,
                path=str(folder), files=files, disclosure_basis=disclosure_basis,
                content_sha256=content,
            ).returning(VERSIONS.c.id)
        ).scalar_one()  # fmt: skip
        items = [
            {"version_id": version_id, "face_id": face_id, "photo_id": photo_id}
            for face_id, photo_id in zip(
                table.column("face_id").to_pylist(),
                table.column("photo_id").to_pylist(),
                strict=True,
            )
        ]
        items += [{"version_id": version_id, "face_id": f, "photo_id": p} for f, p in redacted]
        for chunk in chunks(items):
            conn.execute(ITEMS.insert(), chunk)
        append(
            conn,
            AuditRecord(
                name="release.create",
                actor=actor,
                object_type="release",
                object_id=f"{name}@v{number}",
                payload={
                    "release": name,
                    "version": number,
                    "parent": int(latest.version) if latest else None,
                    "purpose": purpose,
                    "photos": photos,
                    "faces": table.num_rows,
                    "with_features": with_features,
                    "manifest_sha256": digest,
                    "reason": reason,
                    "disclosure_basis": disclosure_basis,
                    **({"orphans_cleared": orphans} if orphans else {}),
                    **({"images": images.summary()} if images is not None else {}),
                },
            ),  # fmt: skip
        )
        _publish(staging, folder)  # last step before commit; an orphan is cleared next time
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return VersionInfo(
        int(version_id), name, number, int(latest.version) if latest else None, purpose, reason,
        with_features, photos, table.num_rows, digest, str(folder), files, now,
        images.summary() if images is not None else None, disclosure_basis,
    )  # fmt: skip


def _clear_orphans(folder: Path) -> int:
    """Remove ``folder`` and stale staging folders of its release (see :func:`_write_version`;
    call only while holding the release's lock and after checking no row has this number)."""
    parent = folder.parent
    if not parent.is_dir():
        return 0
    stale = [p for p in parent.iterdir() if p.name.startswith(".v") and p.name.endswith(".staging")]
    if folder.exists():
        if not folder.is_dir() or not {p.name for p in folder.iterdir()} <= {
            *FILES,
            *IMAGE_FILES,
            IMAGES_DIR,
        }:
            raise ReleaseError(f"{folder} already exists and is not a faceledger version folder: "
                               "a release version is never overwritten; move it away")  # fmt: skip
        stale.append(folder)
        logger.warning(
            "%s has no release version row (a cut killed before commit): cleared", folder
        )
    for path in stale:
        shutil.rmtree(path)
    return len(stale)


def _publish(staging: Path, folder: Path) -> None:
    """Move the finished version folder into place (one rename)."""
    staging.rename(folder)


def create_release(
    ledger: Ledger,
    vault: KeyVault,
    settings: Settings,
    *,
    name: str,
    purpose: str,
    with_features: bool = False,
    images: str = "none",
    on: date | None = None,
    actor: str = "cli",
    disclosure_basis: str | None = None,
    allow_empty: bool = False,
) -> VersionInfo:
    """Freeze what ``purpose`` allows today into the next version of release ``name``.
    ``images``: ``none`` (download URLs only), ``original`` or ``redacted`` (see
    :mod:`faceledger.services.lifecycle.release_images`). ``disclosure_basis``: the basis the faces are
    disclosed on (one of the law engine's ``DISCLOSURE_BASES``: consent, required-by-law...),
    which laws such as MHMDA 19.373.030(1)(b) or BIPA 15(d) need; recorded on the version and
    in its audit event. The returned version's ``withheld`` says which faces were left out
    and why, per law and section.

    Refused, with nothing written: a version with no face and no photo unless
    ``allow_empty`` (:class:`ReleaseEmpty`, carrying the explanation), and a version identical
    to the latest (:class:`ReleaseUnchanged`).
    """
    if images not in IMAGE_MODES:
        raise ReleaseError(f"--images {images!r}: choose one of {', '.join(IMAGE_MODES)}")
    if disclosure_basis is not None and disclosure_basis not in DISCLOSURE_BASES:
        raise ReleaseError(
            f"--disclosure-basis {disclosure_basis!r}: choose one of {', '.join(DISCLOSURE_BASES)}"
        )
    purpose = purpose.strip()
    on = on or datetime.now(UTC).date()
    with ledger.begin() as conn:  # (release_id, version) is unique: a concurrent cut fails
        release_id = _ensure_release(conn, name, purpose)
        by_photo = candidates(conn, purpose)
        part: ImagePart | None = None
        if images == "redacted":  # every decided face is asked; the others are redacted
            asked = [int(f.face_id) for fs in by_photo.values() for f in fs
                     if f.decision_id is not None and f.excluded_request_id is None]  # fmt: skip
            allowed = release_allowed(
                ledger, conn, settings, purpose, asked, on, actor, disclosure_basis
            )
            part, faces = plan_redacted(conn, by_photo, allowed, purpose=purpose,
                                        max_pixels=settings.max_image_pixels)  # fmt: skip
        else:
            asked = [int(f.face_id) for f in whole_photos(by_photo)]
            allowed = release_allowed(
                ledger, conn, settings, purpose, asked, on, actor, disclosure_basis
            )
            faces = whole_photos(by_photo, allowed)
            if images == "original":
                part, faces = plan_original(conn, faces, max_pixels=settings.max_image_pixels)
        withheld = explain_withheld(
            conn, by_photo, purpose=purpose, released={int(f.face_id) for f in faces},
            redacted=_redacted(part), release_asked=asked,
            policies=laws_for(settings), extract_action=EXTRACT,
            release_action=RELEASE_ACTION,
        )  # fmt: skip
        if not faces and (part is None or not part.jobs) and not allow_empty:
            raise ReleaseEmpty(
                "\n".join([f"release {name}: no face and no photo may be released for {purpose!r}; "
                           "no version cut (--allow-empty cuts an empty one)", *withheld.lines()]),
                withheld,
            )  # fmt: skip
        features = None
        if with_features:
            features = read_face_templates(
                conn, vault, face_ids=[int(f.face_id) for f in faces], kind=GEOMETRY, actor=actor,
                reason=f"release {name}: features",
            )  # fmt: skip
        version = _write_version(
            conn, settings, release_id=release_id, name=name, purpose=purpose,
            table=_table(name, 0, faces, features), with_features=with_features,
            reason="created", actor=actor, images=part, disclosure_basis=disclosure_basis,
            refuse_identical=True,
        )  # fmt: skip
    return dataclasses.replace(version, withheld=withheld)


def _redacted(part: ImagePart | None) -> set[int]:
    """Faces an ``--images redacted`` version carries pixelated (not withheld: redacted)."""
    if part is None:
        return set()
    return {
        int(face["face_id"])
        for job in part.jobs
        for face in job.faces
        if face.get("reason") is not None
    }


def cut_without(
    conn: Connection, settings: Settings, *, face_ids: set[int], photo_ids: set[int],
    reason: str, actor: str,
) -> list[VersionInfo]:  # fmt: skip
    """A new version of every release whose latest version holds any of these faces or
    photos, without them (and without the other faces of those photos). Files are filtered
    from the parent's Parquet: nothing else changes, no template is read."""
    holding = versions_holding(conn, face_ids, photo_ids)
    latest = {
        int(row.release_id): row
        for row in conn.execute(
            select(
                VERSIONS.c.id,
                VERSIONS.c.release_id,
                VERSIONS.c.version,
                VERSIONS.c.path,
                VERSIONS.c.with_features,
                VERSIONS.c.disclosure_basis,
                RELEASES.c.name,
                RELEASES.c.purpose,
            )
            .join(RELEASES, RELEASES.c.id == VERSIONS.c.release_id)
            .where(VERSIONS.c.id.in_(holding))
            .order_by(VERSIONS.c.version)
        )  # fmt: skip
    }
    cut = []
    for release_id, row in sorted(latest.items()):
        newest = conn.execute(
            select(func.max(VERSIONS.c.version)).where(VERSIONS.c.release_id == release_id)
        ).scalar_one()
        if int(row.version) != int(newest):
            continue  # a later version already left them out
        table = pq.read_table(Path(row.path) / "faces.parquet")
        faces = pa.array(sorted(face_ids), pa.int64())
        gone_photos = set(photo_ids) | {
            p for f, p in zip(table.column("face_id").to_pylist(), table.column("photo_id").to_pylist(), strict=True)
            if f in face_ids
        } | photos_holding(Path(row.path), face_ids)  # fmt: skip
        keep = pc.and_(
            pc.invert(pc.is_in(table.column("face_id"), value_set=faces)),
            pc.invert(
                pc.is_in(
                    table.column("photo_id"), value_set=pa.array(sorted(gone_photos), pa.int64())
                )
            ),
        )

        def kept(face: int, photo: int, gone: set[int] = gone_photos) -> bool:
            return face not in face_ids and photo not in gone

        part = carry_forward(Path(row.path), max_pixels=settings.max_image_pixels, keep=kept)
        cut.append(
            _write_version(
                conn,
                settings,
                release_id=release_id,
                name=row.name,
                purpose=row.purpose,
                table=table.filter(keep),
                with_features=bool(row.with_features),
                reason=reason,
                actor=actor,
                images=part,
                disclosure_basis=row.disclosure_basis,
            )  # fmt: skip
        )
    return cut
