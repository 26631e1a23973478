"""Consent-gated extraction, encrypted templates, subjects, selfie search and shredding,
with the real detector and embedder, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from faceledger.config import Settings, load_settings
from faceledger.core.law import load_policies
from faceledger.errors import ConsentRequired, KeyShredded, TemplateRefused
from faceledger.services.biometrics.extract import NO_CLOCK, extract_templates
from faceledger.services.biometrics.matching import search_by_selfie
from faceledger.services.biometrics.subjects import list_subjects
from faceledger.services.biometrics.templates import (
    EMBEDDING,
    create_subject,
    read_template,
    store_face_templates,
)
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.services.decisions.assess import assess_faces
from faceledger.store import Ledger
from faceledger.store.schema import AuditEvent, Face, FaceDecision, Photo, Subject, Template
from faceledger.store.vault import KeyVault
from faceledger.vision.dlib_models import DlibModels, thresholds_for

pytestmark = pytest.mark.integration

PHOTOS_DIR = Path(__file__).resolve().parents[2] / "examples" / "photos"
SELFIE = PHOTOS_DIR / "Abel_Pacheco_0004.jpg"  # not in the corpus; same person as abel.jpg
MIAMI = ("Miami, FL", "25.7617", "-80.1918")
CHICAGO = ("Chicago, IL", "41.8781", "-87.6298")
CORPUS = [  # file, source image, owner, place
    ("abel.jpg", "Abel_Pacheco_0001.jpg", "owner-a@N01", MIAMI),
    ("abel_mirror.jpg", "Abel_Pacheco_0001.jpg", "owner-a@N01", MIAMI),
    ("alan.jpg", "Alan_Dershowitz_0001.jpg", "owner-b@N01", MIAMI),
    ("afton.jpg", "Afton_Smith_0001.jpg", "owner-c@N01", CHICAGO),
    ("group.jpg", "2008_001009.jpg", "owner-d@N01", MIAMI),
]
T = Template.__table__


def _corpus(root: Path) -> Path:
    root.mkdir()
    with (root / "photos.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "path", "owner_id", "owner_location", "latitude", "longitude"])
        for name, source, owner, (place, lat, lon) in CORPUS:
            with Image.open(PHOTOS_DIR / source) as image:
                picture = (
                    image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                    if "mirror" in name
                    else image.copy()
                )
            picture.save(root / name, quality=95)
            writer.writerow([name.removesuffix(".jpg"), name, owner, place, lat, lon])
    return root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Florida faces get no legal destroy-by date: the organisation keeps them 3 years
    return load_settings(
        workers=1, processor_location="US-FL", data_dir=tmp_path / "data", retention_limit_days=1095
    )


@pytest.fixture
def prepared(ledger: Ledger, tmp_path: Path, settings: Settings, publish_schedule) -> Ledger:  # type: ignore[no-untyped-def]
    """The corpus ingested, scanned and assessed for the default purpose (processing in FL),
    with a published retention schedule (BIPA 15(a))."""
    publish_schedule(ledger)
    ingest_paths(ledger, [_corpus(tmp_path / "corpus")])
    scan_pending(ledger, settings)
    assess_faces(ledger, settings, purpose=settings.purpose)
    return ledger


def _templates_by_photo(ledger: Ledger) -> dict[str, int]:
    faces, photos = Face.__table__, Photo.__table__
    with ledger.read() as conn:
        rows = conn.execute(
            select(photos.c.external_id, func.count(T.c.id))
            .join(faces, faces.c.photo_id == photos.c.id)
            .join(T, (T.c.face_id == faces.c.id) & (T.c.kind == EMBEDDING))
            .group_by(photos.c.external_id)
        ).all()
    return dict(rows)


def test_no_template_without_a_clock_no_law_and_no_organisation_limit_gives(
    prepared: Ledger, settings: Settings
) -> None:
    """Issue 13 item 2: a template no law gives a destruction deadline is computed only when
    the organisation set its own retention limit; otherwise it is refused, with the reason."""
    with prepared.read() as conn:
        allowed = conn.execute(
            select(FaceDecision.face_id, FaceDecision.destroy_by).where(
                FaceDecision.action == "extract-template", FaceDecision.decision == "allow"
            )
        ).all()
    clockless = [face for face, due in allowed if due is None]
    assert clockless, "the Florida corpus should hold faces no law gives a deadline"
    unlimited = settings.model_copy(update={"retention_limit_days": None})
    vault = KeyVault.open(settings)
    report = extract_templates(prepared, vault, unlimited, purpose=settings.purpose)
    assert report.refused[NO_CLOCK] == len(clockless)
    assert report.extracted == len(allowed) - len(clockless)
    with prepared.read() as conn:
        held = set(conn.execute(select(T.c.face_id)).scalars())
    assert held.isdisjoint(clockless)
    later = extract_templates(prepared, vault, settings, purpose=settings.purpose)  # limit set
    assert later.extracted == len(clockless) and NO_CLOCK not in later.refused


def test_only_allowed_faces_get_templates_others_are_counted_by_reason(
    prepared: Ledger, settings: Settings
) -> None:
    vault = KeyVault.open(settings)
    report = extract_templates(prepared, vault, settings, purpose=settings.purpose)
    assert _templates_by_photo(prepared) == {"abel": 1, "abel_mirror": 1, "alan": 1, "group": 2}
    assert report.extracted == 5
    assert report.refused == {"blocked: us-il-bipa 15(b)": 1}
    assert report.refused_faces == 1
    with prepared.read() as conn:
        rows = (
            conn.execute(
                select(T, FaceDecision.decision).join(
                    FaceDecision, FaceDecision.id == T.c.decision_id
                )
            )
            .mappings()
            .all()
        )
        writes = conn.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.name == "template.write")
        ).scalar_one()
    assert {row["decision"] for row in rows} == {"allow"}
    assert {row["kind"] for row in rows} == {"embedding", "geometry"}
    assert writes == 5
    embedding = read_template(prepared, vault, face_id=rows[0]["face_id"], kind=EMBEDDING,
                              actor="test", reason="test")  # fmt: skip
    vector = np.frombuffer(embedding, dtype=np.float32)
    assert vector.shape == (128,)
    assert vector.tobytes() not in rows[0]["ciphertext"]  # stored encrypted, not in the clear

    again = extract_templates(prepared, vault, settings, purpose=settings.purpose)
    assert (again.extracted, again.already) == (0, 5)


def test_subjects_cluster_people_and_link_owners_on_evidence(
    prepared: Ledger, settings: Settings
) -> None:
    extract_templates(prepared, KeyVault.open(settings), settings, purpose=settings.purpose)
    subjects = list_subjects(prepared)
    assert sorted(s["faces"] for s in subjects) == [1, 1, 1, 2]  # abel twice, then 3 others
    abel = next(s for s in subjects if s["faces"] == 2)
    assert abel["owner_id"] == "owner-a@N01" and "2 photos" in abel["owner_link"]
    assert all(s["owner_id"] is None for s in subjects if s is not abel)


def test_no_template_is_stored_without_an_allowing_decision(
    prepared: Ledger, settings: Settings
) -> None:
    vault = KeyVault.open(settings)
    with prepared.read() as conn:
        blocked = conn.execute(
            select(FaceDecision.id, FaceDecision.face_id).where(FaceDecision.decision == "block")
        ).first()
    assert blocked is not None
    info = DlibModels.shared().embedder_info
    with pytest.raises(TemplateRefused, match="no decision allows"), prepared.begin() as conn:
        subject = create_subject(conn, model_version=info.version)
        store_face_templates(
            conn, vault, face_id=blocked.face_id, subject=subject, decision_id=blocked.id,
            payloads={EMBEDDING: (info, b"\0" * 512)}, distance=None, actor="test",
        )  # fmt: skip
    with prepared.read() as conn:
        assert conn.execute(select(func.count()).select_from(T)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(Subject)).scalar_one() == 0


def test_selfie_search_finds_the_person_until_their_key_is_shredded(
    prepared: Ledger, settings: Settings
) -> None:
    vault = KeyVault.open(settings)
    extract_templates(prepared, vault, settings, purpose=settings.purpose)
    with pytest.raises(ConsentRequired):
        search_by_selfie(prepared, vault, settings, SELFIE, consent_given=False)
    matches = search_by_selfie(prepared, vault, settings, SELFIE, consent_given=True)
    assert "abel" in {m["photo"] for m in matches} <= {"abel", "abel_mirror"}
    assert all(m["distance"] <= thresholds_for(settings).match for m in matches)
    subject_id = matches[0]["subject_id"]
    with prepared.read() as conn:
        key_ref = conn.execute(select(Subject.key_ref).where(Subject.id == subject_id)).scalar_one()
        names = conn.execute(select(AuditEvent.name).order_by(AuditEvent.id)).scalars().all()
    assert names[-4:] == [
        "template.transient",
        "template.read",
        "template.transient",
        "match.search",
    ]

    vault.shred(key_ref)
    assert search_by_selfie(prepared, vault, settings, SELFIE, consent_given=True) == []
    with pytest.raises(KeyShredded):
        read_template(prepared, vault, face_id=matches[0]["face_id"], kind=EMBEDDING,
                      actor="test", reason="test")  # fmt: skip
    others = search_by_selfie(prepared, vault, settings, PHOTOS_DIR / "Alan_Dershowitz_0001.jpg",
                              consent_given=True)  # fmt: skip
    assert [m["photo"] for m in others] == ["alan"]  # other subjects are untouched


def _face_ids_of(ledger: Ledger, photo: str) -> list[int]:
    faces, photos = Face.__table__, Photo.__table__
    with ledger.read() as conn:
        return [int(f) for (f,) in conn.execute(
            select(faces.c.id).join(photos, photos.c.id == faces.c.photo_id)
            .where(photos.c.external_id == photo).order_by(faces.c.id)
        )]  # fmt: skip


def test_a_photo_owners_consent_alone_unlocks_no_template(
    prepared: Ledger, settings: Settings
) -> None:
    from faceledger.services.people.consent import add_consent

    vault = KeyVault.open(settings)
    add_consent(
        prepared, owner_id="owner-c@N01", form="written", purposes=[settings.purpose],
        informed=True, granted=date(2025, 1, 10), policies=load_policies(),
    )  # fmt: skip
    extract_templates(prepared, vault, settings, purpose=settings.purpose)
    assert "afton" not in _templates_by_photo(prepared)


def test_a_valid_consent_turns_a_blocked_face_into_a_template(
    prepared: Ledger, settings: Settings, subject_consent
) -> None:  # type: ignore[no-untyped-def]
    vault = KeyVault.open(settings)
    extract_templates(prepared, vault, settings, purpose=settings.purpose)
    assert "afton" not in _templates_by_photo(prepared)
    subject_consent(prepared, _face_ids_of(prepared, "afton"), settings.purpose)
    report = extract_templates(prepared, vault, settings, purpose=settings.purpose)
    assert report.extracted == 1 and report.refused_faces == 0
    assert _templates_by_photo(prepared)["afton"] == 1
