"""Switching the embedder (setting ``embedder``) on a ledger that holds templates already.

Here a ledger of dlib templates (``dlib-resnet-v1``, the default until issue 14) switches to
the default SFace (``sface-2021dec``), the upgrade every existing deployment makes. A subject is
a person, not a model: a face clustered under the first embedder keeps its one
subject (``face_subjects`` is one row per face) and its templates of the second embedder go
under the same subject's key; only a face new to clustering is clustered, and only against
the second embedder's embeddings. A search with one embedder never returns a template of the
other, and an erasure of a face reaches its templates of every model. On SQLite and
PostgreSQL, with the real detector and embedders.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, inspect, select, text

from faceledger.config import Settings, load_settings
from faceledger.services.biometrics.extract import extract_templates
from faceledger.services.biometrics.matching import search_selfie
from faceledger.services.biometrics.template_index import shared_index
from faceledger.services.biometrics.templates import (
    EMBEDDING,
    GEOMETRY,
    destroy_templates,
    shred_keys,
)
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.services.decisions.assess import assess_faces
from faceledger.services.lifecycle.request_identity import wholly_covered_subjects
from faceledger.store import Ledger
from faceledger.store.schema import FaceSubject, Photo, Subject, Template
from faceledger.store.vault import KeyVault
from faceledger.vision.dlib_models import embedder_for

pytestmark = pytest.mark.integration

PHOTOS_DIR = Path(__file__).resolve().parents[2] / "examples" / "photos"
SELFIE = PHOTOS_DIR / "Abel_Pacheco_0004.jpg"  # not in the corpus; the person of abel*.jpg
T, FS, S = Template.__table__, FaceSubject.__table__, Subject.__table__
FIRST = [("abel.jpg", "Abel_Pacheco_0001.jpg"), ("alan.jpg", "Alan_Dershowitz_0001.jpg")]
LATER = [("abel_mirror.jpg", "Abel_Pacheco_0001.jpg")]  # arrives after the switch


def _corpus(root: Path, photos: list[tuple[str, str]]) -> Path:
    root.mkdir()
    with (root / "photos.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "path", "owner_id", "owner_location", "latitude", "longitude"])
        for name, source in photos:
            with Image.open(PHOTOS_DIR / source) as image:
                picture = (
                    image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                    if "mirror" in name
                    else image.copy()
                )
            picture.save(root / name, quality=95)
            writer.writerow(
                [name.removesuffix(".jpg"), name, "owner-a@N01", "Miami, FL", "25.76", "-80.19"]
            )
    return root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        workers=1,
        processor_location="US-FL",
        data_dir=tmp_path / "data",
        retention_limit_days=1095,
        embedder="dlib-resnet-v1",
    )


def _add(ledger: Ledger, settings: Settings, root: Path, photos: list[tuple[str, str]]) -> None:
    ingest_paths(ledger, [_corpus(root, photos)])
    scan_pending(ledger, settings)
    assess_faces(ledger, settings, purpose=settings.purpose)


def _faces_by_photo(ledger: Ledger) -> dict[str, int]:
    from faceledger.store.schema import Face

    with ledger.read() as conn:
        rows = conn.execute(
            select(Photo.external_id, Face.id).join(Face, Face.photo_id == Photo.id)
        ).all()
    assert len(rows) == len({r.external_id for r in rows}), "one face per corpus photo"
    return {str(r.external_id): int(r.id) for r in rows}


def test_a_second_embedder_keeps_each_face_one_subject_and_never_meets_the_first(
    ledger: Ledger,
    settings: Settings,
    tmp_path: Path,
    publish_schedule,  # type: ignore[no-untyped-def]
) -> None:
    publish_schedule(ledger)
    vault = KeyVault.open(settings)
    _add(ledger, settings, tmp_path / "first", FIRST)
    first = extract_templates(ledger, vault, settings, purpose=settings.purpose)
    default = embedder_for(settings).info
    assert first.extracted == 2 and first.embedder["setting"] == "dlib-resnet-v1"

    switched = settings.model_copy(update={"embedder": "sface-2021dec"})  # thresholds follow it
    other = embedder_for(switched).info
    assert other.version != default.version
    with ledger.read() as conn:
        before = {
            int(r.face_id): (int(r.subject_id), r.distance, r.model_version)
            for r in conn.execute(select(FS))
        }
    _add(ledger, settings, tmp_path / "later", LATER)
    second = extract_templates(ledger, vault, switched, purpose=settings.purpose)
    faces = _faces_by_photo(ledger)
    assert second.extracted == 3 and second.already == 0  # every allowed face, in the new version
    assert second.embedder == {
        "setting": "sface-2021dec",
        "name": other.name,
        "version": other.version,
    }

    with ledger.read() as conn:
        templates = conn.execute(
            select(T.c.face_id, T.c.kind, T.c.model_version, T.c.subject_id)
        ).all()
        assignments = {
            int(r.face_id): (int(r.subject_id), r.distance, r.model_version)
            for r in conn.execute(select(FS))
        }
        subjects = {
            int(r.id): r.model_version for r in conn.execute(select(S.c.id, S.c.model_version))
        }
    embeddings = {(int(r.face_id), r.model_version) for r in templates if r.kind == EMBEDDING}
    assert embeddings == {
        (faces["abel"], default.version),
        (faces["alan"], default.version),
        (faces["abel"], other.version),
        (faces["alan"], other.version),
        (faces["abel_mirror"], other.version),
    }  # both versions exist; the late face has only the second
    geometry = [int(r.face_id) for r in templates if r.kind == GEOMETRY]
    assert sorted(geometry) == sorted(
        faces.values()
    )  # the landmark model's template: once per face
    # one subject per face, whatever the model: the first embedder's assignments are untouched ...
    assert set(assignments) == set(faces.values())
    assert {f: assignments[f] for f in before} == before
    assert {v for _, _, v in before.values()} == {default.version}
    # ... the late face was clustered on the second embedder, and every template of a face
    # (either model) is under the face's one subject, so its key reaches them all
    assert assignments[faces["abel_mirror"]][2] == other.version
    assert all(int(r.subject_id) == assignments[int(r.face_id)][0] for r in templates)
    late_subject = assignments[faces["abel_mirror"]][0]
    if assignments[faces["abel_mirror"]][1] is None:  # founded a subject: of the second version
        assert subjects[late_subject] == other.version and second.new_subjects == 1
    else:  # joined abel's subject by a second-version distance
        assert late_subject == assignments[faces["abel"]][0] and second.new_subjects == 0

    # each index holds its own version's faces only
    assert (
        shared_index(ledger, vault, model_version=default.version).faces() == set()
    )  # not built yet
    by_default = search_selfie(ledger, vault, settings, SELFIE, consent_given=True, k=10)
    by_other = search_selfie(ledger, vault, switched, SELFIE, consent_given=True, k=10)
    assert shared_index(ledger, vault, model_version=default.version).faces() == {
        faces["abel"],
        faces["alan"],
    }
    assert shared_index(ledger, vault, model_version=other.version).faces() == set(faces.values())
    assert (by_default.compared_stored, by_other.compared_stored) == (2, 3)
    assert by_default.to_dict()["embedder"]["version"] == default.version
    assert by_other.to_dict()["embedder"]["version"] == other.version
    found_default = {m["face_id"] for m in by_default.matches}
    found_other = {m["face_id"] for m in by_other.matches}
    assert faces["abel"] in found_default and faces["abel"] in found_other
    # the late face has only a second-version template: the first embedder never returns it
    # (it is not assessed for match-optout, so it is not embedded in memory either)
    assert faces["abel_mirror"] not in found_default
    assert by_default.not_compared == {"not-assessed": 1}
    assert faces["abel_mirror"] in found_other  # the same person, within the threshold

    # erasing abel's faces reaches their templates of both models, and both indexes drop them
    abel = {faces["abel"], faces["abel_mirror"]}
    with ledger.begin() as conn:
        whole = wholly_covered_subjects(conn, abel)
        done = destroy_templates(
            conn, face_ids=abel, reason="erasure", actor="test", shred_subjects=whole
        )
        shred_keys(vault, done.key_refs)
    assert done.templates == 5  # abel: 2 embeddings + geometry; abel_mirror: 1 embedding + geometry
    with ledger.read() as conn:
        left = conn.execute(
            select(func.count()).select_from(T).where(T.c.face_id.in_(sorted(abel)))
        ).scalar_one()
    assert left == 0
    after_default = search_selfie(ledger, vault, settings, SELFIE, consent_given=True, k=10)
    after_other = search_selfie(ledger, vault, switched, SELFIE, consent_given=True, k=10)
    assert abel.isdisjoint({m["face_id"] for m in after_default.matches + after_other.matches})


def _insert(conn: Any, table: str, values: dict[str, Any], now: str) -> None:
    """A row of ``table`` as the schema at 0016 has it: ``values``, and a plain value for every
    other column it requires."""
    row = dict(values)
    for column in inspect(conn).get_columns(table):
        if column["nullable"] or column.get("default") is not None or column["name"] in row:
            continue
        kind = str(column["type"]).upper()
        numeric = any(
            word in kind for word in ("INT", "FLOAT", "DOUBLE", "REAL", "NUMERIC", "BOOL")
        )
        row[column["name"]] = 0 if numeric else now if ("TIME" in kind or "DATE" in kind) else "x"
    names = ", ".join(row)
    conn.execute(
        text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in row)})"), row
    )  # noqa: S608


def test_migration_0017_records_the_version_each_face_was_clustered_on(ledger: Ledger) -> None:
    """Downgrade to 0016, store a subject and its face as before, upgrade: the assignment
    is backfilled with its subject's version (the only version it could be clustered on)."""
    from alembic import command

    from faceledger.store.db import _alembic_config, head_revision

    def run(step: str, target: str) -> None:
        with ledger.engine.begin() as conn:
            config = _alembic_config()
            config.attributes["connection"] = conn
            getattr(command, step)(config, target)

    run("downgrade", "0016")
    with ledger.engine.connect() as conn:
        assert "model_version" not in {
            c["name"] for c in inspect(conn).get_columns("face_subjects")
        }
    now = "2026-01-01 00:00:00+00:00"
    with ledger.engine.begin() as conn:
        _insert(conn, "sources", {"id": 1, "uri": "file:///c"}, now)
        _insert(conn, "scan_runs", {"id": 1}, now)
        _insert(conn, "photos", {"id": 1, "source_id": 1}, now)
        _insert(conn, "faces", {"id": 1, "photo_id": 1, "scan_run_id": 1, "landmarks": "[]"}, now)
        _insert(
            conn, "subjects", {"id": 1, "key_ref": "subj-x", "model_version": "abc+align5"}, now
        )
        _insert(conn, "face_subjects", {"face_id": 1, "subject_id": 1}, now)
    run("upgrade", "head")
    with ledger.engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT model_version FROM face_subjects WHERE face_id = 1")
            ).scalar_one()
            == "abc+align5"
        )
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            == head_revision()
        )
