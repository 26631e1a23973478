"""Requests know who is asking: ownership evidence before an account-wide request is verified,
a selfie match acted on only once a reviewer confirms the face (a mother's selfie that also
matches her daughter erases the mother only), deadline extensions, overdue requests, the
encrypted contact, and what a selfie search says it searched. Both backends."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from tests.lifecycle.conftest import ALAN, SELFIE, owner_proof

from faceledger.errors import ExtensionStateError, FaceReviewError, IdentityError
from faceledger.services.biometrics.matching import MATCH_PURPOSE, search_selfie
from faceledger.services.biometrics.templates import read_template
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.services.decisions.assess import assess_faces
from faceledger.services.lifecycle.requests import (
    decide_face,
    execute_request,
    extend_deadline,
    get_request,
    list_requests,
    new_face_request,
    new_request,
    read_contact,
    review_faces,
    verify_request,
)
from faceledger.services.people.verification import IdentityEvidence
from faceledger.store.schema import AuditEvent, Request
from faceledger.store.tables import FACES, PHOTOS, SUBJECTS, TEMPLATES

pytestmark = pytest.mark.integration


def _faces_of(ledger: Any, photo: str) -> list[int]:
    with ledger.read() as conn:
        return list(conn.execute(
            select(FACES.c.id).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id).where(PHOTOS.c.external_id == photo).order_by(FACES.c.id)
        ).scalars())  # fmt: skip


def _subject_of(ledger: Any, face_id: int) -> Any:
    with ledger.read() as conn:
        return conn.execute(
            select(SUBJECTS.c.id, SUBJECTS.c.status, SUBJECTS.c.key_ref).join(TEMPLATES, TEMPLATES.c.subject_id == SUBJECTS.c.id).where(TEMPLATES.c.face_id == face_id)
        ).first()  # fmt: skip


def _audit_payloads(ledger: Any) -> list[tuple[str, str]]:
    with ledger.read() as conn:
        return [(name, json.dumps(payload)) for name, payload in conn.execute(
            select(AuditEvent.name, AuditEvent.payload).order_by(AuditEvent.id))]  # fmt: skip


def test_a_mothers_selfie_that_also_matches_her_daughter_erases_only_the_mother(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault, settings = world.ledger, world.vault, world.settings
    (mother,) = _faces_of(ledger, "alan")
    daughter = _faces_of(ledger, "group")[0]
    daughter_subject = _subject_of(ledger, daughter)
    request = new_face_request(
        ledger, settings, vault, kind="erasure", consent_given=True, contact="mum@example.org",
        matches=[{"face_id": mother, "subject_id": None, "distance": 0.31},
                 {"face_id": daughter, "subject_id": None, "distance": 0.52}],
    )  # fmt: skip
    assert request.faces == {"pending": 2}
    verify_request(ledger, request.id)
    with pytest.raises(IdentityError, match="2 matched face"):
        execute_request(ledger, vault, settings, request.id)
    with pytest.raises(FaceReviewError, match="reason"):
        decide_face(ledger, request.id, daughter, confirm=False, actor="reviewer")
    decide_face(ledger, request.id, mother, confirm=True, actor="reviewer")
    rejected = decide_face(
        ledger, request.id, daughter, confirm=False, reason="not me: my daughter", actor="reviewer"
    )
    assert (rejected["status"], rejected["distance"], rejected["reason"]) == (
        "rejected",
        0.52,
        "not me: my daughter",
    )

    result = execute_request(ledger, vault, settings, request.id).result
    assert result is not None
    assert (result["faces_excluded"], result["faces_destroyed"], result["keys_shredded"]) == (
        1,
        1,
        1,
    )
    with ledger.read() as conn:
        excluded = dict(
            conn.execute(
                select(FACES.c.id, FACES.c.excluded_request_id).where(
                    FACES.c.id.in_([mother, daughter])
                )
            ).all()
        )
    assert excluded == {mother: request.id, daughter: None}
    # the daughter's template, subject and key are untouched and still readable
    assert _subject_of(ledger, daughter) == daughter_subject and daughter_subject.status == "active"
    assert vault.has_key(daughter_subject.key_ref)
    assert read_template(
        ledger, vault, face_id=daughter, kind="embedding", actor="test", reason="test"
    )
    with pytest.raises(FaceReviewError, match="executed"):
        decide_face(ledger, request.id, daughter, confirm=True, actor="reviewer")


def test_a_look_alike_in_the_same_cluster_keeps_its_template_and_the_shared_key(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault, settings = world.ledger, world.vault, world.settings
    (abel,), (mirror,) = _faces_of(ledger, "abel"), _faces_of(ledger, "abel_mirror")
    shared = _subject_of(ledger, abel)
    assert _subject_of(ledger, mirror).id == shared.id  # one cluster
    request = new_request(
        ledger, settings, vault, kind="erasure", key_type="face", selfie=SELFIE, consent_given=True
    )
    faces = {f["face_id"]: f for f in review_faces(ledger, request.id)}
    assert faces[abel]["basis"] == "selfie" and faces[mirror]["basis"] in ("selfie", "cluster")
    assert all(f["status"] == "pending" for f in faces.values())
    verify_request(ledger, request.id)
    decide_face(ledger, request.id, abel, confirm=True, actor="reviewer")
    decide_face(ledger, request.id, mirror, confirm=False, reason="a look-alike", actor="reviewer")
    result = execute_request(ledger, vault, settings, request.id).result
    assert result is not None and (result["faces_excluded"], result["keys_shredded"]) == (1, 0)
    assert vault.has_key(shared.key_ref)
    assert read_template(
        ledger, vault, face_id=mirror, kind="embedding", actor="test", reason="test"
    )
    with ledger.read() as conn:
        assert (
            conn.execute(select(TEMPLATES.c.id).where(TEMPLATES.c.face_id == abel)).first() is None
        )


def test_an_account_erasure_without_verified_ownership_is_refused_at_verify(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault, settings = world.ledger, world.vault, world.settings
    request = new_request(ledger, settings, kind="erasure", key_type="owner", value="owner-a@N01")
    assert request.covers == "account"
    with pytest.raises(IdentityError, match="verified ownership"):
        verify_request(ledger, request.id)
    with pytest.raises(IdentityError, match="verified ownership"):  # a statement is not a proof
        verify_request(
            ledger,
            request.id,
            evidence=IdentityEvidence("attestation", False, {"statement": "mine"}),
        )
    with pytest.raises(IdentityError, match="verified ownership"):  # someone else's account
        verify_request(ledger, request.id, evidence=owner_proof("owner-b@N01"))
    tag = new_request(
        ledger, settings, kind="optout", key_type="tag", value="portrait", owner="owner-a@N01"
    )
    with pytest.raises(IdentityError, match="verified ownership"):
        verify_request(ledger, tag.id)
    assert get_request(ledger, request.id).status == "received"
    verified = verify_request(ledger, request.id, evidence=owner_proof("owner-a@N01"))
    assert (
        verified.status == "verified"
        and [e["kind"] for e in verified.evidence][-1] == "owner-profile-code"
    )
    result = execute_request(ledger, vault, settings, request.id).result
    assert result is not None and result["photos_excluded"] == 2


def test_a_deadline_is_extended_once_within_the_law_with_a_reason(world) -> None:  # type: ignore[no-untyped-def]
    ledger, settings = world.ledger, world.settings
    received = datetime(2025, 1, 31, 12, tzinfo=UTC)
    gdpr = new_request(
        ledger,
        settings,
        kind="optout",
        key_type="photo",
        value="alan",
        law="gdpr",
        received=received,
    )
    cpra = new_request(
        ledger,
        settings,
        kind="optout",
        key_type="photo",
        value="alan",
        law="cpra",
        received=received,
    )
    assert gdpr.deadline == date(2025, 2, 28)
    with pytest.raises(ExtensionStateError, match="reason"):
        extend_deadline(ledger, settings, gdpr.id, reason=" ", on=date(2025, 2, 10), actor="rev")
    with pytest.raises(ExtensionStateError, match="at most"):
        extend_deadline(
            ledger,
            settings,
            gdpr.id,
            reason="x",
            until=date(2025, 4, 29),
            on=date(2025, 2, 10),
            actor="rev",
        )
    new = extend_deadline(
        ledger,
        settings,
        gdpr.id,
        reason="800 photos in 3 releases",
        on=date(2025, 2, 10),
        actor="rev",
    )
    assert new == date(2025, 4, 28)  # two further months
    record = get_request(ledger, gdpr.id)
    assert (record.deadline, record.deadline_original, record.extension_reason) == (
        date(2025, 4, 28),
        date(2025, 2, 28),
        "800 photos in 3 releases",
    )
    assert record.to_dict(on=date(2025, 3, 15))["overdue"] is False
    with pytest.raises(ExtensionStateError, match="later"):
        extend_deadline(
            ledger, settings, gdpr.id, reason="again", on=date(2025, 2, 11), actor="rev"
        )
    with pytest.raises(ExtensionStateError, match="original term"):
        extend_deadline(ledger, settings, cpra.id, reason="late", on=date(2025, 3, 18), actor="rev")
    assert extend_deadline(
        ledger, settings, cpra.id, reason="busy", on=date(2025, 3, 1), actor="rev"
    ) == date(2025, 5, 1)
    (payload,) = [
        p
        for name, p in _audit_payloads(ledger)
        if name == "request.extended" and '"law": "gdpr"' in p
    ]
    assert "2025-04-28" in payload and "800 photos" not in payload


def test_overdue_requests_are_listed_by_the_service_and_the_cli(world, ledger_url: str) -> None:  # type: ignore[no-untyped-def]
    ledger, settings = world.ledger, world.settings
    late = new_request(ledger, settings, kind="optout", key_type="photo", value="alan", law="gdpr",
                       received=datetime(2020, 1, 1, tzinfo=UTC))  # fmt: skip
    new_request(ledger, settings, kind="optout", key_type="photo", value="abel", law="gdpr")
    assert [r.id for r in list_requests(ledger, overdue=True)] == [late.id]
    assert list_requests(ledger, overdue=True, on=date(2020, 1, 15)) == []
    if ledger_url.startswith("sqlite"):
        from faceledger.cli import main

        base = ["--database-url", ledger_url, "--data-dir", str(settings.data_dir)]
        out = CliRunner().invoke(
            main, [*base, "request", "list", "--overdue", "--json"], catch_exceptions=False
        )
        assert out.exit_code == 0, out.output
        assert [r["id"] for r in json.loads(out.output)["requests"]] == [late.id]
        text = CliRunner().invoke(main, [*base, "request", "list"], catch_exceptions=False).output
        assert text.count("OVERDUE") == 1


def test_the_contact_is_encrypted_shown_to_reviewers_and_never_audited(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault, settings = world.ledger, world.vault, world.settings
    contact = "ada.lovelace@example.org"
    request = new_request(ledger, settings, vault, kind="optout", key_type="owner", value="owner-a@N01",
                          contact=contact, evidence=owner_proof("owner-a@N01"))  # fmt: skip
    with ledger.read() as conn:
        stored = conn.execute(select(Request.__table__.c.contact_ciphertext)).scalar_one()
    assert contact.encode() not in stored
    assert request.has_contact and contact not in json.dumps(request.to_dict())
    assert read_contact(ledger, vault, request.id, actor="web:rev") == contact
    verify_request(ledger, request.id)
    execute_request(ledger, vault, settings, request.id)
    events = _audit_payloads(ledger)
    assert ("request.contact", json.dumps({"request": request.id})) in events
    assert all(contact not in payload and "owner-a@N01" not in payload for _, payload in events)


def test_a_selfie_search_says_what_it_compared_and_computes_allowed_templates_in_memory_only(
    world, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ledger, vault, settings = world.ledger, world.vault, world.settings
    before = search_selfie(ledger, vault, settings, ALAN, consent_given=True)
    # 5 photos, 7+ faces: all but Chicago's afton have templates; afton has no match-optout decision yet
    assert before.compared == before.compared_stored and before.compared_transient == 0
    assert before.not_compared == {"not-assessed": before.faces - before.compared}
    assert before.not_compared["not-assessed"] >= 1
    assert [m["photo"] for m in before.matches] == ["alan"]

    extra = tmp_path / "extra"  # a new Florida photo of Alan: scanned, never extracted
    extra.mkdir()
    shutil.copy(ALAN, extra / "alan_again.jpg")
    (extra / "photos.csv").write_text(
        "photo_id,path,owner_id,owner_location,latitude,longitude,license_name\n"
        'alan_again,alan_again.jpg,owner-e@N01,"Miami, FL",25.7617,-80.1918,CC BY 2.0\n'
    )
    ingest_paths(ledger, [extra])
    scan_pending(ledger, settings)
    assess_faces(ledger, settings, purpose=MATCH_PURPOSE, action=MATCH_PURPOSE)
    after = search_selfie(ledger, vault, settings, ALAN, consent_given=True)
    assert after.faces == before.faces + 1
    assert after.compared_transient == 1 and after.compared == after.compared_stored + 1
    assert after.not_compared.get("blocked-by-law", 0) >= 1  # BIPA: Chicago's afton, no consent
    assert "not-assessed" not in after.not_compared
    assert sorted(m["photo"] for m in after.matches) == ["alan", "alan_again"]
    (new_face,) = _faces_of(ledger, "alan_again")
    with ledger.read() as conn:
        assert (
            conn.execute(select(TEMPLATES.c.id).where(TEMPLATES.c.face_id == new_face)).first()
            is None
        )  # never stored
    (transient,) = [p for name, p in _audit_payloads(ledger) if name == "match.transient"]
    assert json.loads(transient)["computed"] == 1 and json.loads(transient)["stored"] is False
    document = after.to_dict()
    assert (
        document["not_compared"] == sum(after.not_compared.values())
        and "identifier" in document["identifier_search"]
    )
