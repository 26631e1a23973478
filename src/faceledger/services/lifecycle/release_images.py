"""The image files of a release version (``release create --images original|redacted``).

Example::

    part, faces = plan_redacted(conn, by_photo, allowed, purpose=purpose)
    version = _write_version(..., table=_table(name, 0, faces, None), images=part)
    # <data_dir>/releases/NAME/vN/images/<photo_id>.jpg, images.parquet, images.csv

``none`` (the default) ships no image: the manifest points at each photo's download URL.
``original`` copies the image file of every released photo (a photo is released only when
all of its faces are, as without images). ``redacted`` also releases photos with blocked
faces: every face not allowed for the purpose (no allowing decision, the law engine does not
allow its release, or a request removed it) is pixelated by :mod:`faceledger.services.lifecycle.redaction`
and the allowed faces are left as they are; the file is a new JPEG without metadata.

Licences: an unmodified copy needs a licence that lets copies be shared (any Creative Commons
licence, CC0, a public-domain mark, a government work); a photo under All Rights Reserved or an
unknown licence is released without an image (its download URL only), with that reason. A
redacted copy is a derivative: a photo whose licence forbids derivatives (``-ND``) or grants
none is left out of a ``redacted`` version, with that reason.

The images manifest (``images.parquet`` / ``images.csv``) has one row per face of every
released photo: the image file, its sha256 and the sha256 of its source, whether the face was
redacted, why, and the redacted rectangle. Redacted faces are recorded as release items too,
so that an erasure of such a face or its photo finds (and cuts) the version. The images travel
into a version cut by an erasure (:func:`carry_forward`), checked against their sha256.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from faceledger.core.faces import BBox
from faceledger.errors import ReleaseImageError
from faceledger.services.lifecycle.redaction import may_redact, redact_file
from faceledger.sources.licenses import spdx_id
from faceledger.store.tables import DECISION_OUTCOMES, DECISIONS, OUTCOMES, PHOTOS, chunks

IMAGE_MODES = ("none", "original", "redacted")
IMAGES_DIR = "images"
IMAGE_FILES = ("images.parquet", "images.csv")
_SHARE = ("LicenseRef-Flickr-No-Known-Copyright-Restrictions", "LicenseRef-United-States-Government-Work",
          "LicenseRef-Public-Domain-Mark-1.0")  # fmt: skip

IMAGE_SCHEMA = pa.schema([
    ("photo_id", pa.int64()), ("photo_external_id", pa.string()), ("image", pa.string()),
    ("image_sha256", pa.string()), ("source_sha256", pa.string()), ("face_id", pa.int64()),
    ("face_index", pa.int32()), ("x1", pa.float64()), ("y1", pa.float64()), ("x2", pa.float64()),
    ("y2", pa.float64()), ("redacted", pa.bool_()), ("redaction_reason", pa.string()),
    ("region", pa.string()), ("license_name", pa.string()), ("note", pa.string()),
])  # fmt: skip


@dataclass
class _Job:
    photo_id: int
    external_id: str | None
    license_name: str | None
    source: Path | None  # None: no image shipped (licence), see note
    expected_sha256: str | None
    faces: list[dict[str, Any]]  # face_id, face_index, box, redact reason or None
    note: str | None = None


@dataclass
class ImagePart:
    """What a version's images will be; :meth:`write` puts them into the staging folder."""

    mode: str
    jobs: list[_Job] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)  # photos not released, by reason
    max_pixels: int = 0
    table: pa.Table | None = None  # filled by write()

    def write(self, staging: Path, files: dict[str, str]) -> list[tuple[int, int]]:
        """Write the images and the images manifest under ``staging``; add their sha256 to
        ``files``; return the (face_id, photo_id) of the redacted faces (release items too)."""
        (staging / IMAGES_DIR).mkdir()
        columns: dict[str, list[Any]] = {f.name: [] for f in IMAGE_SCHEMA}
        redacted_items = []
        for job in self.jobs:
            image, digest, source_digest = self._place(job, staging)
            if image is not None and digest is not None:
                files[image] = digest
            for face in job.faces:
                reason = face.get("reason")
                region = face.get("region")
                row = {
                    "photo_id": job.photo_id, "photo_external_id": job.external_id, "image": image,
                    "image_sha256": digest, "source_sha256": source_digest, "face_id": face["face_id"],
                    "face_index": face["face_index"], "x1": face["box"][0], "y1": face["box"][1],
                    "x2": face["box"][2], "y2": face["box"][3], "redacted": reason is not None,
                    "redaction_reason": reason, "region": region, "license_name": job.license_name,
                    "note": job.note,
                }  # fmt: skip
                for key, value in row.items():
                    columns[key].append(value)
                if reason is not None:
                    redacted_items.append((int(face["face_id"]), job.photo_id))
        self.table = pa.Table.from_pydict(columns, schema=IMAGE_SCHEMA)
        pq.write_table(self.table, staging / "images.parquet")
        pacsv.write_csv(self.table, staging / "images.csv")
        for name in IMAGE_FILES:
            files[name] = _sha256_file(staging / name)
        return redacted_items

    def _place(self, job: _Job, staging: Path) -> tuple[str | None, str | None, str | None]:
        if job.source is None:
            return None, None, job.expected_sha256
        redact = [
            BBox(*f["box"])
            for f in job.faces
            if f.get("reason") is not None and not f.get("region")
        ]
        if redact:
            out = staging / IMAGES_DIR / f"{job.photo_id}.jpg"
            made = redact_file(job.source, redact, out, max_pixels=self.max_pixels)
            if job.expected_sha256 is not None and made.source_sha256 != job.expected_sha256:
                raise ReleaseImageError(
                    f"photo {job.photo_id}: its image file changed since it was fetched"
                )
            targets = iter(made.regions)
            for face in job.faces:
                if face.get("reason") is not None and not face.get("region"):
                    face["region"] = ",".join(str(v) for v in next(targets))
            return f"{IMAGES_DIR}/{out.name}", made.sha256, made.source_sha256
        suffix = (
            job.source.suffix.lower()
            if job.source.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
            else ""
        )
        out = staging / IMAGES_DIR / f"{job.photo_id}{suffix or '.jpg'}"
        _copy(job.source, out)
        digest = _sha256_file(out)
        if job.expected_sha256 is not None and digest != job.expected_sha256:
            raise ReleaseImageError(
                f"photo {job.photo_id}: its image file does not match its recorded sha256"
            )
        source_digest = job.faces[0].get("source_sha256") if job.faces else None
        return f"{IMAGES_DIR}/{out.name}", digest, source_digest or digest

    def card(self, card: dict[str, Any]) -> dict[str, Any]:
        """The Croissant card with the images: a file set, an ``images`` record set, and which
        faces were redacted and why (``fl:images``)."""
        assert self.table is not None, "write() first"
        rows = self.table.to_pylist()
        reasons = Counter(r["redaction_reason"] for r in rows if r["redacted"])
        notes = Counter(r["note"] for r in {r["photo_id"]: r for r in rows}.values() if r["note"])
        card["distribution"].append({
            "@type": "cr:FileSet", "@id": "images", "name": "images",
            "description": "The released photos" + (", every face not allowed for the purpose pixelated "
                           "(see the images record set)" if self.mode == "redacted" else ", unmodified"),
            "includes": f"{IMAGES_DIR}/*", "encodingFormat": "image/jpeg",
        })  # fmt: skip
        card["recordSet"].append({
            "@type": "cr:RecordSet", "@id": "images", "name": "images",
            "description": "One record per face of each released photo: its image file, the image's "
            "sha256 and its source's sha256, and whether (and why) the face was redacted.",
            "field": [
                {"@type": "cr:Field", "@id": f"images/{f.name}", "name": f.name,
                 "dataType": {"string": "sc:Text", "int64": "sc:Integer", "int32": "sc:Integer",
                              "double": "sc:Float", "bool": "sc:Boolean"}[str(f.type)],
                 "source": {"fileObject": {"@id": "images.parquet"}, "extract": {"column": f.name}}}
                for f in IMAGE_SCHEMA
            ],
        })  # fmt: skip
        card["fl:images"] = {
            "fl:mode": self.mode,
            "fl:photos": len({r["photo_id"] for r in rows if r["image"]}),
            "fl:redactedFaces": sum(reasons.values()),
            "fl:redactedBecause": [{"fl:value": k, "fl:faces": n} for k, n in sorted(reasons.items())],
            "fl:withoutImage": [{"fl:value": k, "fl:photos": n} for k, n in sorted(notes.items())],
            "fl:leftOut": [{"fl:value": k, "fl:photos": n} for k, n in sorted(self.left_out.items())],
            "fl:method": "Pixelated to 4 cells across the face box grown by 25 % on each side, then "
            "blurred; allowed faces untouched; JPEG without metadata." if self.mode == "redacted" else None,
        }  # fmt: skip
        if self.mode == "redacted":
            card["rai:personalSensitiveInformation"] += (" Faces not allowed for the purpose are "
                                                         "pixelated in the released images.")  # fmt: skip
        return card

    def summary(self) -> dict[str, Any]:
        """Counts for the audit event and ``release create --json`` (no personal identifier)."""
        rows = self.table.to_pylist() if self.table is not None else []
        return {
            "mode": self.mode,
            "images": len({r["photo_id"] for r in rows if r["image"]}),
            "redacted_faces": sum(1 for r in rows if r["redacted"]),
            "without_image": len({r["photo_id"] for r in rows if not r["image"]}),
            "left_out": dict(sorted(self.left_out.items())),
        }


def _copy(source: Path, out: Path) -> None:
    try:
        os.link(source, out)  # same file system: no second copy of the bytes
    except OSError:
        shutil.copyfile(source, out)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def may_share(license_name: str | None, license_url: str | None = None) -> tuple[bool, str]:
    """Whether an unmodified copy may be shared, and why (ND licences allow that)."""
    licence = spdx_id(license_url) or spdx_id(license_name)
    if licence is not None and (licence.startswith(("CC-", "CC0-")) or licence in _SHARE):
        return True, f"{licence} permits sharing copies"
    what = "unknown licence" if licence is None else licence
    return False, f"{what}: no permission to share a copy (download URL only)"


def _photo_files(conn: Connection, photo_ids: list[int]) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for chunk in chunks(photo_ids):
        for row in conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.path, PHOTOS.c.content_hash, PHOTOS.c.license_url)
            .where(PHOTOS.c.id.in_(chunk))
        ):  # fmt: skip
            found[int(row.id)] = row
    return found


def _block_reasons(conn: Connection, face_ids: list[int], purpose: str) -> dict[int, str]:
    """The sections of the latest blocking decision of each face for ``purpose``."""
    found: dict[int, str] = {}
    for chunk in chunks(face_ids):
        rows = conn.execute(
            select(DECISIONS.c.face_id, DECISIONS.c.action, OUTCOMES.c.result)
            .select_from(DECISION_OUTCOMES)
            .where(DECISIONS.c.face_id.in_(chunk), DECISIONS.c.purpose == purpose,
                   DECISIONS.c.decision == "block")
            .order_by(DECISIONS.c.id)
        ).all()  # fmt: skip
        for row in rows:
            sections = sorted({f"{law['id']} {v['section']}" for law in (row.result or {}).get("laws", [])
                               for v in law.get("violations") or []})  # fmt: skip
            why = f"blocked for {purpose} ({row.action})" + (
                f": {', '.join(sections)}" if sections else ""
            )
            if int(row.face_id) not in found or row.action != "release":
                found[int(row.face_id)] = why
    return found


def _face(row: Any, reason: str | None = None) -> dict[str, Any]:
    return {"face_id": int(row.face_id), "face_index": int(row.face_index),
            "box": [float(row.x1), float(row.y1), float(row.x2), float(row.y2)], "reason": reason}  # fmt: skip


def _source(files: dict[int, Any], photo_id: int) -> Path | None:
    row = files.get(photo_id)
    path = Path(row.path) if row is not None and row.path else None
    return path if path is not None and path.is_file() else None


def plan_original(
    conn: Connection, faces: list[Any], *, max_pixels: int
) -> tuple[ImagePart, list[Any]]:
    """Images of the photos whose every face is released (``faces``: as without images)."""
    by_photo: dict[int, list[Any]] = {}
    for face in faces:
        by_photo.setdefault(int(face.photo_id), []).append(face)
    part = ImagePart("original", max_pixels=max_pixels)
    files = _photo_files(conn, sorted(by_photo))
    kept: list[Any] = []
    for photo_id, rows in by_photo.items():
        first = rows[0]
        if not _add_job(part, files, photo_id, first, [_face(r) for r in rows]):
            continue
        kept.extend(rows)
    return part, kept


def _add_job(part: ImagePart, files: dict[int, Any], photo_id: int, first: Any,
             faces: list[dict[str, Any]]) -> bool:  # fmt: skip
    """One unredacted photo: copied when its licence lets copies be shared; URL only when it
    does not; left out when its file is gone. Whether it is released."""
    row = files.get(photo_id)
    shareable, why = may_share(
        first.license_name, row.license_url if row is not None else first.license_url
    )
    expected = row.content_hash if row is not None else None
    if not shareable:
        part.jobs.append(
            _Job(photo_id, first.external_id, first.license_name, None, expected, faces, note=why)
        )
        return True
    source = _source(files, photo_id)
    if source is None:
        part.left_out["image file missing"] += 1
        return False
    part.jobs.append(_Job(photo_id, first.external_id, first.license_name, source, expected, faces))
    return True


def plan_redacted(
    conn: Connection, by_photo: dict[int, list[Any]], allowed: set[int], *, purpose: str, max_pixels: int,
) -> tuple[ImagePart, list[Any]]:  # fmt: skip
    """Every candidate photo, its faces not in ``allowed`` (the faces whose extract and
    release decisions allow them and no request removed) redacted. Returns the part and the
    allowed faces that go in the faces manifest."""
    part = ImagePart("redacted", max_pixels=max_pixels)
    files = _photo_files(conn, sorted(by_photo))
    blocked_ids = [
        int(f.face_id) for rows in by_photo.values() for f in rows if int(f.face_id) not in allowed
    ]
    reasons = _block_reasons(conn, blocked_ids, purpose)
    released: list[Any] = []
    for photo_id, rows in by_photo.items():
        first = rows[0]
        keep = [r for r in rows if int(r.face_id) in allowed and r.excluded_request_id is None]
        if len(keep) == len(rows):  # nothing to redact: as --images original
            if _add_job(part, files, photo_id, first, [_face(r) for r in rows]):
                released.extend(rows)
            continue
        row = files.get(photo_id)
        check = may_redact(
            first.license_name, row.license_url if row is not None else first.license_url
        )
        if not check.allowed:
            part.left_out[check.reason] += 1
            continue
        source = _source(files, photo_id)
        if source is None:
            part.left_out["image file missing"] += 1
            continue
        faces = []
        for r in rows:
            if r.excluded_request_id is not None:
                faces.append(_face(r, "removed by a request"))
            elif int(r.face_id) in allowed:
                faces.append(_face(r))
            else:
                faces.append(_face(r, reasons.get(int(r.face_id), f"not allowed for {purpose}")))
        part.jobs.append(_Job(photo_id, first.external_id, first.license_name, source,
                              row.content_hash if row is not None else None, faces))  # fmt: skip
        released.extend(keep)
    return part, released


def carry_forward(
    parent: Path, *, keep: Callable[[int, int], bool], max_pixels: int
) -> ImagePart | None:
    """The images of a parent version for a version cut from it: the photos whose every
    face ``keep(face_id, photo_id)`` keeps (an erased redacted face takes its photo out),
    copied from the parent's files and checked against the recorded sha256."""
    manifest = parent / "images.parquet"
    if not manifest.is_file():
        return None
    rows = pq.read_table(manifest).to_pylist()
    by_photo: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_photo.setdefault(int(row["photo_id"]), []).append(row)
    mode = "redacted" if any(r["redacted"] for r in rows) else "original"
    part = ImagePart(mode, max_pixels=max_pixels)
    for photo_id, faces in by_photo.items():
        if not all(keep(int(f["face_id"]), photo_id) for f in faces):
            continue
        first = faces[0]
        source = parent / first["image"] if first["image"] else None
        if source is not None and not source.is_file():
            raise ReleaseImageError(
                f"{source} is missing: the parent version's images are incomplete"
            )
        part.jobs.append(_Job(
            photo_id, first["photo_external_id"], first["license_name"], source,
            first["image_sha256"] if source is not None else first["source_sha256"],
            [{"face_id": f["face_id"], "face_index": f["face_index"], "box": [f["x1"], f["y1"], f["x2"], f["y2"]],
              "reason": f["redaction_reason"], "region": f["region"], "source_sha256": f["source_sha256"]}
             for f in faces],
            note=first["note"],
        ))  # fmt: skip
    return part


def photos_holding(parent: Path, face_ids: set[int]) -> set[int]:
    """Photos of a version whose images manifest lists any of these faces (redacted ones
    included: an erasure of a redacted face takes its whole photo out of the next version)."""
    manifest = parent / "images.parquet"
    if not manifest.is_file() or not face_ids:
        return set()
    table = pq.read_table(manifest, columns=["photo_id", "face_id"])
    return {int(p) for f, p in zip(table.column("face_id").to_pylist(), table.column("photo_id").to_pylist(),
                                   strict=True) if int(f) in face_ids}  # fmt: skip
