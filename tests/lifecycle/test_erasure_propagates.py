"""Requests from people and erasure that propagates: tombstones, shredded keys, new release
versions without the person, notices to consumers; nothing else touched. Both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from tests.lifecycle.conftest import ALAN, SELFIE, owner_proof

from faceledger.errors import IdentityError, RequestError, RequestStateError
from faceledger.services.biometrics.extract import extract_templates
from faceledger.services.biometrics.matching import search_by_selfie
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import count_pending
from faceledger.services.decisions.assess import assess_faces
from faceledger.services.lifecycle.release_consumers import add_consumer, list_consumers
from faceledger.services.lifecycle.release_versions import diff_releases
from faceledger.services.lifecycle.releases import create_release
from faceledger.services.lifecycle.requests import (
    confirm_request,
    decide_face,
    execute_request,
    get_request,
    list_requests,
    new_request,
    reject_request,
    review_faces,
    verify_request,
)
from faceledger.store.audit import verify_chain
from faceledger.store.schema import AuditEvent
from faceledger.store.tables import FACES, PHOTOS, SUBJECTS, TEMPLATES

pytestmark = pytest.mark.integration


def _snapshot(ledger, photos: set[str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Faces, templates and subjects of the photos in ``photos`` (by external id)."""
    with ledger.read() as conn:
        faces = conn.execute(
            select(FACES.c.id, FACES.c.excluded_request_id).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(PHOTOS.c.external_id.in_(sorted(photos))).order_by(FACES.c.id)
        ).all()  # fmt: skip
        ids = [f.id for f in faces]
        templates = conn.execute(
            select(TEMPLATES.c.id, TEMPLATES.c.ciphertext)
            .where(TEMPLATES.c.face_id.in_(ids))
            .order_by(TEMPLATES.c.id)
        ).all()
        subjects = conn.execute(
            select(SUBJECTS.c.id, SUBJECTS.c.status, SUBJECTS.c.key_ref)
            .where(
                SUBJECTS.c.id.in_(
                    select(TEMPLATES.c.subject_id).where(TEMPLATES.c.face_id.in_(ids))
                )
            )
            .order_by(SUBJECTS.c.id)
        ).all()
    return {"faces": [tuple(f) for f in faces], "templates": [tuple(t) for t in templates],
            "subjects": [tuple(s) for s in subjects]}  # fmt: skip


def test_erasure_by_selfie_propagates_to_releases_consumers_keys_and_search(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault, settings = world.ledger, world.vault, world.settings
    v1 = create_release(ledger, vault, settings, name="faces", purpose=settings.purpose)
    add_consumer(ledger, name="partner-lab", ref="faces@v1")
    others = {"alan", "group", "afton"}
    before = _snapshot(ledger, others)

    with pytest.raises(RequestError, match="consent"):
        new_request(ledger, settings, vault, kind="erasure", key_type="face", selfie=SELFIE)
    request = new_request(ledger, settings, vault, kind="erasure", key_type="face", selfie=SELFIE,
                          consent_given=True, law="gdpr")  # fmt: skip
    assert (
        request.status == "received" and request.matched_faces >= 1
    )  # abel (the mirror joins via its subject)
    assert len(request.receipt) >= 32 and request.key_value is None
    with pytest.raises(RequestStateError, match="only a verified request can be executed"):
        execute_request(ledger, vault, settings, request.receipt)
    verify_request(ledger, request.id)
    # a selfie match never acts by itself: the matched face and the other face of its subject
    # (the mirror, offered as a cluster candidate) wait for a reviewer, face by face
    review = review_faces(ledger, request.id)
    assert [f["status"] for f in review] == ["pending", "pending"]
    assert (
        "selfie" in {f["basis"] for f in review} <= {"selfie", "cluster"}
    )  # the mirror: matched or its cluster
    with pytest.raises(IdentityError, match="pending"):
        execute_request(ledger, vault, settings, request.id)
    for face in review:  # the reviewer saw both photos: both are Abel
        decide_face(ledger, request.id, face["face_id"], confirm=True, actor="reviewer")
    with ledger.read() as conn:
        subject_id = conn.execute(
            select(TEMPLATES.c.subject_id).join(FACES, FACES.c.id == TEMPLATES.c.face_id).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(PHOTOS.c.external_id == "abel")
        ).scalars().first()  # fmt: skip
        key_ref = conn.execute(
            select(SUBJECTS.c.key_ref).where(SUBJECTS.c.id == subject_id)
        ).scalar_one()
    assert vault.has_key(key_ref)

    done = execute_request(ledger, vault, settings, request.id)
    assert done.status == "executed"
    result = done.result
    assert result is not None
    assert (result["faces_excluded"], result["keys_shredded"], result["new_versions"]) == (
        2,
        1,
        ["faces@v2"],
    )
    assert [(n["consumer"], n["release"], n["version"]) for n in result["notices"]] == [
        ("partner-lab", "faces", 1)
    ]
    assert [c["notices_due"] for c in list_consumers(ledger)] == [1]
    assert not vault.has_key(key_ref)
    assert len(result["certificates"]) == 2

    v2 = Path(v1.path).parent / "v2"
    photos = set(pq.read_table(v2 / "faces.parquet").column("photo_external_id").to_pylist())
    assert photos == {"alan", "group"}
    assert pq.read_table(Path(v1.path) / "faces.parquet").num_rows == 5  # v1 is never rewritten
    assert len(diff_releases(ledger, "faces@v1", "faces@v2")["faces"]["removed"]) == 2
    assert search_by_selfie(ledger, vault, settings, SELFIE, consent_given=True) == []
    assert [
        m["photo"] for m in search_by_selfie(ledger, vault, settings, ALAN, consent_given=True)
    ] == ["alan"]
    assert _snapshot(ledger, others) == before  # nothing else touched

    with ledger.read() as conn:
        assert (
            conn.execute(select(SUBJECTS.c.status).where(SUBJECTS.c.id == subject_id)).scalar_one()
            == "shredded"
        )
        tombstones = conn.execute(
            select(PHOTOS.c.external_id, FACES.c.excluded_request_id).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(FACES.c.excluded_request_id.is_not(None))
        ).all()  # fmt: skip
        assert sorted(tombstones) == [("abel", request.id), ("abel_mirror", request.id)]
        names = conn.execute(
            select(AuditEvent.name, AuditEvent.payload).order_by(AuditEvent.id)
        ).all()
        assert verify_chain(conn) is None
    steps = [name for name, _ in names if name.startswith("request.")]
    assert steps == [
        "request.received",
        "request.verified",
        "request.face",
        "request.face",
        "request.executed",
    ]
    for _, payload in names:  # no personal identifiers in the append-only log
        assert "owner-a@N01" not in str(payload) and request.receipt not in str(payload)

    assert confirm_request(ledger, request.id).status == "confirmed"
    with pytest.raises(RequestStateError, match="is confirmed"):
        reject_request(ledger, request.id, reason="too late")


def test_reingest_after_erasure_does_not_bring_the_photo_back(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault, settings = world.ledger, world.vault, world.settings
    request = new_request(ledger, settings, kind="optout", key_type="url",
                          value="https://photos.example/p/alan")  # fmt: skip
    verify_request(ledger, request.id, evidence=owner_proof("owner-b@N01"))
    result = execute_request(ledger, vault, settings, request.id).result
    assert result is not None and result["photos_excluded"] == 1 and result["keys_shredded"] == 1

    ingest_paths(ledger, [world.corpus])  # the same source again
    assert count_pending(ledger) == 0
    assess_faces(ledger, settings, purpose=settings.purpose)
    report = extract_templates(ledger, vault, settings, purpose=settings.purpose)
    assert report.extracted == 0
    with ledger.read() as conn:
        rows = conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.excluded_request_id).where(PHOTOS.c.external_id == "alan")
        ).all()
    assert rows == [(rows[0].id, request.id)]  # one row, still a tombstone
    v1 = create_release(ledger, vault, settings, name="after", purpose=settings.purpose)
    assert v1.photos == 3 and v1.faces == 4  # abel, abel_mirror, group


def test_request_lifecycle_refuses_bad_steps_and_shows_the_deadline(world) -> None:  # type: ignore[no-untyped-def]
    ledger, settings = world.ledger, world.settings
    received = datetime(2025, 1, 31, 12, tzinfo=UTC)
    gdpr = new_request(ledger, settings, kind="access", key_type="owner", value="owner-a@N01",
                       law="gdpr", received=received)  # fmt: skip
    cpra = new_request(ledger, settings, kind="erasure", key_type="photo", value="alan",
                       law="cpra", received=received)  # fmt: skip
    default = new_request(ledger, settings, kind="optout", key_type="tag", value="Portrait",
                          owner="owner-b@N01", received=received)  # fmt: skip
    assert gdpr.deadline == date(2025, 2, 28) and cpra.deadline == date(2025, 3, 17)
    assert (default.law, default.deadline) == ("gdpr", date(2025, 2, 28))  # the earliest
    assert gdpr.to_dict(on=date(2025, 3, 1))["overdue"] is True
    with pytest.raises(RequestError, match="owner"):
        new_request(ledger, settings, kind="optout", key_type="tag", value="portrait")
    with pytest.raises(RequestError, match="law"):
        new_request(ledger, settings, kind="optout", key_type="photo", value="x", law="pipeda")
    with pytest.raises(RequestStateError, match="received: only a executed request"):
        confirm_request(ledger, gdpr.id)
    rejected = reject_request(ledger, cpra.receipt, reason="could not verify identity")
    assert (rejected.status, rejected.reject_reason) == ("rejected", "could not verify identity")
    with pytest.raises(RequestStateError):
        verify_request(ledger, cpra.id)

    verify_request(ledger, gdpr.id, evidence=owner_proof("owner-a@N01"))
    access = execute_request(ledger, world.vault, settings, gdpr.id).result
    assert access is not None
    assert sorted(p["external_id"] for p in access["photos"]) == ["abel", "abel_mirror"]
    verify_request(ledger, default.id, evidence=owner_proof("owner-b@N01"))
    optout = execute_request(ledger, world.vault, settings, default.id).result
    assert optout is not None and optout["photos_excluded"] == 1  # alan: owner-b's "portrait"
    assert [r.status for r in list_requests(ledger)] == ["executed", "rejected", "executed"]
    assert get_request(ledger, default.receipt).id == default.id
