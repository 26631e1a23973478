"""Claims and person-keyed consent (`add_claim`, `revoke_claim`, `add_consent(claim_ids=...)`)
on a real ledger (SQLite and PostgreSQL).

Most tests give the example photos two fake faces each (the detector is not the point) and
process in Illinois, so BIPA reaches every face through processing. The extraction tests use
the real detector, embedder and extract path (as tests/services/test_extract.py does).
"""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from PIL import Image
from sqlalchemy import func, insert, select, text

from faceledger.config import Settings, load_settings
from faceledger.core.law import load_policies
from faceledger.errors import ClaimError, ClaimNotFound, ConsentError, EvidenceError
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.decisions.assess import assess_faces
from faceledger.services.people.claims import (
    add_claim,
    face_for,
    get_claim,
    list_claims,
    revoke_claim,
)
from faceledger.services.people.consent import add_consent, list_consents
from faceledger.services.people.verification import (
    IdentityEvidence,
    LocalProfileVerifier,
    LocalVerifier,
    new_challenge,
)
from faceledger.store import Ledger, open_ledger
from faceledger.store.audit import verify_chain
from faceledger.store.db import _alembic_config, create_ledger_engine
from faceledger.store.ledger import utcnow
from faceledger.store.schema import (
    AuditEvent,
    Consent,
    Face,
    FaceDecision,
    Photo,
    Template,
)
from faceledger.store.tables import OUTCOMES, decision_records

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FACES, PHOTOS, DECISIONS = Face.__table__, Photo.__table__, FaceDecision.__table__
AUDIT = AuditEvent.__table__
FRT = "train-face-recognition"
ON = date(2025, 9, 1)
SEATTLE = "70000003@N01"  # ex-0003 (2008_001009.jpg: an adult and a child)
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SECRET = b"s" * 32
IN_ILLINOIS = {"processor_location": "US-IL"}


def _verifier(tmp_path: Path, profiles: dict[str, str] | None = None) -> LocalVerifier:
    path = tmp_path / "profiles.json"
    import json

    path.write_text(json.dumps(profiles or {}))
    return LocalVerifier(SECRET, profiles=LocalProfileVerifier(path),
                         clock=lambda: datetime(2025, 8, 1, tzinfo=UTC))  # fmt: skip


def _form(verifier: LocalVerifier, signer: str = "Dana Example") -> IdentityEvidence:
    return verifier.signed_form(data=b"%PDF signed release", name="release.pdf", signer=signer,
                                signed=date(2025, 8, 1))  # fmt: skip


def _owner_proof(tmp_path: Path, owner_id: str) -> IdentityEvidence:
    nonce, code = new_challenge(SECRET, owner_id)
    return _verifier(tmp_path, {owner_id: f"my profile {code}"}).owner_profile_code(
        owner_id=owner_id, nonce=nonce
    )


def _signed(**more: Any) -> dict[str, Any]:
    return {"form": "written", "purposes": [FRT], "informed": True, "granted": date(2025, 8, 1),
            "signer": "Dana Example", "signed_on": date(2025, 8, 1), "evidence_sha256": SHA,
            "assess_on": ON, "policies": load_policies()} | more  # fmt: skip


@pytest.fixture
def assessed(ledger: Ledger, publish_schedule: Any, fake_scan: Any) -> Ledger:
    ingest_paths(ledger, [EXAMPLES / "photos.csv"])
    fake_scan(ledger)
    publish_schedule(ledger)
    assess_faces(ledger, load_settings(**IN_ILLINOIS), on=ON)
    return ledger


def _decision(ledger: Ledger, face_id: int) -> dict[str, Any]:
    with ledger.read() as conn:
        row = conn.execute(decision_records().where(DECISIONS.c.face_id == face_id,
                                                   DECISIONS.c.purpose == FRT)).mappings().one()  # fmt: skip
    return dict(row)


def _faces(ledger: Ledger, photo: str) -> list[int]:
    return [face_for(ledger, photo=photo, index=i) for i in range(2)]


def _bipa(row: dict[str, Any]) -> list[str]:
    law = next(law for law in row["result"]["laws"] if law["id"] == "us-il-bipa")
    return [v["section"] for v in law["violations"]]


# --- the photo owner's word covers only the owner's own face -------------------------------


def test_an_owner_consent_covers_no_face_of_the_photo(assessed: Ledger) -> None:
    change = add_consent(assessed, owner_id=SEATTLE, **_signed())
    assert change.consent.given_by == "photo-owner"
    assert change.reassessed.faces == 2 and change.reassessed.by_decision == {"block": 2}
    for face_id in _faces(assessed, "ex-0003"):
        row = _decision(assessed, face_id)
        assert row["decision"] == "block" and "15(b)" in _bipa(row)
        assert row["scenario"]["consents"] == []  # an owner's word is not this person's


def test_a_verified_self_portrait_claim_lets_the_owner_consent_count_for_that_face_only(
    assessed: Ledger, tmp_path: Path
) -> None:
    own, other = _faces(assessed, "ex-0003")
    add_consent(assessed, owner_id=SEATTLE, **_signed())
    claim = add_claim(assessed, face_id=own, by="subject", is_photo_owner=True,
                      evidence=_owner_proof(tmp_path, SEATTLE), actor="test", assess_on=ON, policies=load_policies())  # fmt: skip
    assert claim.owner_verified and claim.reassessed is not None
    assert claim.reassessed.by_decision == {"allow": 1}
    row = _decision(assessed, own)
    assert row["decision"] == "allow", row["result"]["reasons"]
    assert row["scenario"]["subject"]["is_photo_owner"] is True
    assert [c["given_by"] for c in row["scenario"]["consents"]] == ["photo-owner"]
    assert _decision(assessed, other)["decision"] == "block"  # same photo, other person


def test_an_unproven_owner_claim_is_recorded_but_does_not_make_the_face_the_owners(
    assessed: Ledger, tmp_path: Path
) -> None:
    own, _ = _faces(assessed, "ex-0003")
    add_consent(assessed, owner_id=SEATTLE, **_signed())
    nonce, _code = new_challenge(SECRET, SEATTLE)  # the code never reached the profile
    failed = _verifier(tmp_path).owner_profile_code(owner_id=SEATTLE, nonce=nonce)
    assert failed.verified is False
    claim = add_claim(assessed, face_id=own, by="subject", is_photo_owner=True, evidence=failed,
                      actor="test", assess_on=ON, policies=load_policies())  # fmt: skip
    assert claim.is_photo_owner and not claim.owner_verified
    # proof of another owner account does not count for this photo either
    other = add_claim(assessed, face_id=own, by="subject", is_photo_owner=True, actor="test",
                      evidence=_owner_proof(tmp_path, "70000001@N01"), assess_on=ON, policies=load_policies())  # fmt: skip
    assert not other.owner_verified
    row = _decision(assessed, own)
    assert row["decision"] == "block"
    assert row["scenario"]["subject"]["is_photo_owner"] is False


# --- the depicted person, or their representative, consents -------------------------------


def test_a_subject_consent_for_a_claimed_face_allows_that_face_and_no_other(
    assessed: Ledger, tmp_path: Path
) -> None:
    adult, child = _faces(assessed, "ex-0003")
    claim = add_claim(assessed, face_id=adult, by="subject", evidence=_form(_verifier(tmp_path)),
                      actor="test", assess_on=ON, policies=load_policies())  # fmt: skip
    assert claim.reassessed is not None and claim.reassessed.by_decision == {"block": 1}
    change = add_consent(assessed, given_by="subject", claim_ids=[claim.id], **_signed())
    assert change.consent.claim_ids == (claim.id,)
    assert change.reassessed.by_decision == {"allow": 1}
    row = _decision(assessed, adult)
    assert row["decision"] == "allow", row["result"]["reasons"]
    (consent,) = row["scenario"]["consents"]
    assert consent["given_by"] == "subject" and consent["signed"] is True
    assert consent["kind"] == "consent"
    assert _decision(assessed, child)["decision"] == "block"
    assert [c.id for c in list_consents(assessed, claim_id=claim.id)] == [change.consent.id]


def test_a_parent_consent_for_a_claimed_child_satisfies_bipa_and_a_revoked_claim_reblocks(
    assessed: Ledger, tmp_path: Path
) -> None:
    adult, child = _faces(assessed, "ex-0003")
    claim = add_claim(assessed, face_id=child, by="legal-representative", relationship="parent",
                      evidence=_form(_verifier(tmp_path)), actor="test", assess_on=ON, policies=load_policies())  # fmt: skip
    assert claim.minor is None and claim.relationship == "parent"
    add_consent(assessed, given_by="legal-representative", relationship="parent",
                claim_ids=[claim.id], **_signed())  # fmt: skip
    row = _decision(assessed, child)
    assert row["decision"] == "allow", row["result"]["reasons"]
    assert "15(b)" not in _bipa(row)
    assert row["scenario"]["subject"]["minor"] is True  # a parent's claim: a minor
    (consent,) = row["scenario"]["consents"]
    assert (consent["given_by"], consent["relationship"]) == ("legal-representative", "parent")
    assert _decision(assessed, adult)["decision"] == "block"

    revoked = revoke_claim(assessed, claim.receipt, actor="test", on=ON, policies=load_policies())
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    assert revoked.reassessed is not None and revoked.reassessed.by_decision == {"block": 1}
    row = _decision(assessed, child)
    assert row["decision"] == "block" and "15(b)" in _bipa(row)
    assert row["scenario"]["consents"] == [] and row["scenario"]["subject"]["minor"] is None
    again = revoke_claim(
        assessed, claim.id, actor="test", on=ON, policies=load_policies()
    )  # nothing more happens
    assert again.status == "revoked"
    with assessed.read() as conn:
        names = (
            conn.execute(select(AUDIT.c.name).where(AUDIT.c.name.like("claim.%"))).scalars().all()
        )
        assert verify_chain(conn) is None
    assert names == ["claim.add", "claim.revoke"]
    with pytest.raises(ConsentError, match="is revoked"):
        add_consent(assessed, given_by="legal-representative", relationship="parent",
                    claim_ids=[claim.id], **_signed())  # fmt: skip


def test_a_refusal_on_a_claimed_face_reads_as_an_opt_out(assessed: Ledger, tmp_path: Path) -> None:
    adult, _ = _faces(assessed, "ex-0003")
    claim = add_claim(assessed, face_id=adult, by="subject", actor="test", assess_on=ON,
                      evidence=_verifier(tmp_path).attestation(statement="this is me"), policies=load_policies())  # fmt: skip
    refused = add_consent(assessed, given_by="subject", claim_ids=[claim.id], purposes=[FRT],
                          refusal=True, granted=date(2025, 8, 1), assess_on=ON, policies=load_policies())  # fmt: skip
    assert refused.consent.form == "none" and refused.consent.revoked == date(2025, 8, 1)
    assert refused.consent.status_on(ON) == "refused"
    row = _decision(assessed, adult)
    assert row["decision"] == "block"
    assert row["scenario"]["consents"][0]["revoked"] == "2025-08-01"


def test_a_subject_consent_without_signer_and_evidence_is_refused_saying_why(
    assessed: Ledger, tmp_path: Path
) -> None:
    adult, _ = _faces(assessed, "ex-0003")
    claim = add_claim(assessed, face_id=adult, by="subject", evidence=_form(_verifier(tmp_path)),
                      actor="test", policies=load_policies())  # fmt: skip
    for missing in ("signer", "signed_on", "evidence_sha256"):
        with pytest.raises(ConsentError, match="must show who signed it"):
            add_consent(assessed, given_by="subject", claim_ids=[claim.id],
                        **_signed(**{missing: None}))  # fmt: skip
    with pytest.raises(ConsentError, match="no claim with id 999"):
        add_consent(assessed, given_by="subject", claim_ids=[999], **_signed())
    with pytest.raises(ConsentError, match="covers claims or a subject, never an owner"):
        add_consent(assessed, given_by="subject", owner_id=SEATTLE, **_signed())
    with pytest.raises(ConsentError, match="must name the purchaser"):
        add_consent(assessed, given_by="subject", claim_ids=[claim.id],
                    kind="sale-authorization", **_signed())  # fmt: skip
    with pytest.raises(ConsentError, match="only for a face they claimed"):
        add_consent(assessed, given_by="legal-representative", relationship="parent",
                    claim_ids=[claim.id], **_signed())  # fmt: skip
    assert list_consents(assessed) == []


def test_claim_values_are_checked_and_evidence_is_never_a_rubber_stamp(
    assessed: Ledger, tmp_path: Path
) -> None:
    adult, _ = _faces(assessed, "ex-0003")
    evidence = _form(_verifier(tmp_path))
    with pytest.raises(ClaimError, match="must give the relationship"):
        add_claim(
            assessed,
            face_id=adult,
            by="legal-representative",
            evidence=evidence,
            actor="t",
            policies=load_policies(),
        )
    with pytest.raises(ClaimError, match="only the owner themselves"):
        add_claim(assessed, face_id=adult, by="legal-representative", relationship="parent",
                  is_photo_owner=True, evidence=evidence, actor="t", policies=load_policies())  # fmt: skip
    with pytest.raises(ClaimError, match="age 30 and minor disagree"):
        add_claim(assessed, face_id=adult, by="subject", minor=True, age=30, evidence=evidence,
                  actor="t", policies=load_policies())  # fmt: skip
    with pytest.raises(ClaimError, match="no face with id 999999"):
        add_claim(
            assessed,
            face_id=999_999,
            by="subject",
            evidence=evidence,
            actor="t",
            policies=load_policies(),
        )
    with pytest.raises(EvidenceError, match="never verified"):
        IdentityEvidence("attestation", True, {"statement": "me"}, datetime.now(UTC))
    with pytest.raises(EvidenceError, match="missing signer"):
        IdentityEvidence(
            "signed-form", True, {"sha256": SHA, "signed": "2025-01-01"}, datetime.now(UTC)
        )
    unsigned = _verifier(tmp_path).signed_form(data=b"x", name="f.pdf", signer=None, signed=None)
    assert unsigned.verified is False
    with pytest.raises(ClaimNotFound):
        get_claim(assessed, "nope")
    assert list_claims(assessed) == []


def test_claims_are_listed_and_their_audit_events_hold_no_identifiers(
    assessed: Ledger, tmp_path: Path
) -> None:
    adult, child = _faces(assessed, "ex-0003")
    first = add_claim(assessed, face_id=adult, by="subject", age=34,
                      evidence=_form(_verifier(tmp_path), signer="Dana Example"), actor="test", policies=load_policies())  # fmt: skip
    second = add_claim(assessed, face_id=child, by="legal-representative", relationship="Parent",
                       minor=True, evidence=_form(_verifier(tmp_path)), actor="test", policies=load_policies())  # fmt: skip
    assert [c.id for c in list_claims(assessed)] == [first.id, second.id]
    assert [c.id for c in list_claims(assessed, face_id=child)] == [second.id]
    assert len(list_claims(assessed, photo_id=first.photo_id, status="active")) == 2
    assert (
        get_claim(assessed, first.receipt).to_dict()["evidence"]["detail"]["signer"]
        == "Dana Example"
    )
    assert second.relationship == "parent"
    with assessed.read() as conn:
        payloads = (
            conn.execute(select(AUDIT.c.payload).where(AUDIT.c.name == "claim.add")).scalars().all()
        )
    assert payloads[0]["face_id"] == adult and payloads[0]["evidence_kind"] == "signed-form"
    for secret in (first.receipt, "Dana Example", "release.pdf", SHA):
        assert secret not in repr(payloads)


def test_a_subject_keyed_consent_needs_a_claimed_face_of_that_subject(
    assessed: Ledger, tmp_path: Path
) -> None:
    from faceledger.store.schema import FaceSubject, Subject

    adult, child = _faces(assessed, "ex-0003")
    with assessed.begin() as conn:  # both faces clustered into one subject (look-alikes)
        subject = conn.execute(insert(Subject.__table__).values(
            key_ref="k1", model_version="m", status="active", created_at=utcnow(),
        ).returning(Subject.__table__.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(FaceSubject.__table__), [
            {"face_id": f, "subject_id": subject, "distance": None, "assigned_at": utcnow()}
            for f in (adult, child)
        ])  # fmt: skip
    add_consent(assessed, subject_id=subject, given_by="subject", **_signed())
    assert {_decision(assessed, f)["decision"] for f in (adult, child)} == {"block"}
    add_claim(assessed, face_id=adult, by="subject", evidence=_form(_verifier(tmp_path)),
              actor="test", assess_on=ON, policies=load_policies())  # fmt: skip
    assert _decision(assessed, adult)["decision"] == "allow"
    assert _decision(assessed, child)["decision"] == "block"  # a cluster alone is never enough


def test_consent_status_agrees_with_the_engine(assessed: Ledger) -> None:
    change = add_consent(assessed, owner_id=SEATTLE, **_signed(granted=date(2025, 9, 10),
                                                             signed_on=date(2025, 9, 10),
                                                             expires=date(2025, 10, 1)))  # fmt: skip
    from faceledger.services.decisions.coverage import engine_consent

    with assessed.read() as conn:
        row = conn.execute(select(Consent.__table__)).one()
    engine = engine_consent(row)
    for day in (date(2025, 9, 9), date(2025, 9, 10), date(2025, 9, 30), date(2025, 10, 1)):
        assert (change.consent.status_on(day) == "active") == engine.active_on(day), day
    assert change.consent.status_on(date(2025, 9, 9)) == "pending"


# --- collected, retention schedule ---------------------------------------------------------


def test_collected_is_the_earliest_known_acquisition_date(
    ledger: Ledger, tmp_path: Path, publish_schedule: Any, fake_scan: Any
) -> None:
    import shutil

    for name in ("2008_001009.jpg", "2008_001322.jpg"):
        shutil.copy(EXAMPLES / "photos" / name, tmp_path / name)
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "photo_id,path,owner_id,acquired\n"
        "a-1,2008_001009.jpg,o@N01,2019-05-01\n"
        "a-2,2008_001322.jpg,o@N01,\n"
    )
    ingest_paths(ledger, [manifest])
    fake_scan(ledger)
    publish_schedule(ledger, "2024-03-01")
    publish_schedule(ledger, "2024-01-15")  # the earliest counts
    assess_faces(ledger, load_settings(**IN_ILLINOIS), on=ON)
    with ledger.read() as conn:
        rows = conn.execute(
            select(PHOTOS.c.external_id, OUTCOMES.c.scenario)
            .join(FACES, FACES.c.photo_id == PHOTOS.c.id).join(DECISIONS, DECISIONS.c.face_id == FACES.c.id)
            .join(OUTCOMES, OUTCOMES.c.id == DECISIONS.c.outcome_id)
        ).all()  # fmt: skip
    collected = {external: scenario["collected"] for external, scenario in rows}
    assert collected["a-1"] == "2019-05-01"
    assert collected["a-2"] == datetime.now(UTC).date().isoformat()  # no date stated: ingest
    assert {s["retention_schedule_published"] for _, s in rows} == {"2024-01-15"}


# --- migration --------------------------------------------------------------------------------


def test_the_migration_turns_owner_consents_into_photo_owner_consents(ledger_url: str) -> None:
    engine = create_ledger_engine(ledger_url)
    with engine.begin() as conn:
        config = _alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0007")
        now = datetime.now(UTC)
        conn.execute(
            text(
                "INSERT INTO consents (id, receipt, owner_id, subject_id, form, purposes, informed, "
                "granted, source, created_at) VALUES (1, 'r1', 'o@N01', NULL, 'written', :p, true, "
                ":g, 'old', :now), (2, 'r2', NULL, 7, 'written', :p, true, :g, 'old', :now)"
            ),
            {"p": '["train-face-recognition"]', "g": date(2025, 1, 1), "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO requests (id, receipt, kind, key_type, consent_id, law, status, "
                "received_at, deadline) VALUES (1, 'q1', 'optout', 'face', 1, 'gdpr', 'received', "
                ":now, :g)"
            ),
            {"now": now, "g": date(2025, 2, 1)},
        )
    engine.dispose()
    ledger = open_ledger(ledger_url)  # migrates to head
    try:
        owner, subject = list_consents(ledger)
        assert (owner.given_by, owner.owner_id, owner.kind) == ("photo-owner", "o@N01", "consent")
        assert (subject.given_by, subject.subject_id) == ("subject", 7)
        with ledger.read() as conn:
            assert conn.execute(text("SELECT consent_id FROM requests")).scalar() == 1
    finally:
        ledger.dispose()


# --- extraction with the real detector and embedder ----------------------------------------

PHOTOS_DIR = EXAMPLES / "photos"


@pytest.fixture
def real(ledger: Ledger, tmp_path: Path, publish_schedule: Any) -> tuple[Ledger, Settings]:
    """A group photo (2 people) and a portrait, both owned by one account, processed in IL."""
    from faceledger.services.collection.scan import scan_pending

    root = tmp_path / "corpus"
    root.mkdir()
    with (root / "photos.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "path", "owner_id", "owner_location"])
        for name, source in (("group", "2008_001009.jpg"), ("me", "Abel_Pacheco_0001.jpg")):
            with Image.open(PHOTOS_DIR / source) as image:
                image.copy().save(root / f"{name}.jpg", quality=95)
            writer.writerow([name, f"{name}.jpg", "owner-d@N01", "Chicago, IL"])
    settings = load_settings(
        workers=1, processor_location="US-IL", data_dir=tmp_path / "data", retention_limit_days=1095
    )
    ingest_paths(ledger, [root])
    publish_schedule(ledger)
    scan_pending(ledger, settings)
    assess_faces(ledger, settings, purpose=FRT)
    return ledger, settings


def _templates(ledger: Ledger) -> int:
    with ledger.read() as conn:
        return int(conn.execute(select(func.count(func.distinct(Template.face_id)))).scalar_one())


@pytest.mark.integration
def test_an_owner_consent_extracts_nothing_until_the_owner_claims_their_own_portrait(
    real: tuple[Ledger, Settings], tmp_path: Path
) -> None:
    from faceledger.services.biometrics.extract import extract_templates
    from faceledger.store.vault import KeyVault

    ledger, settings = real
    assert len(_faces_of(ledger, "group")) == 2
    vault = KeyVault.open(settings)
    today = datetime.now(UTC).date()
    add_consent(ledger, owner_id="owner-d@N01", **_signed(granted=today, signed_on=today,
                                                         assess_on=None))  # fmt: skip
    report = extract_templates(ledger, vault, settings, purpose=FRT)
    assert report.extracted == 0 and _templates(ledger) == 0  # the group photo: nobody
    (portrait,) = _faces_of(ledger, "me")
    add_claim(ledger, face_id=portrait, by="subject", is_photo_owner=True,
              evidence=_owner_proof(tmp_path, "owner-d@N01"), actor="test", policies=load_policies())  # fmt: skip
    report = extract_templates(ledger, vault, settings, purpose=FRT)
    assert report.extracted == 1 and _templates(ledger) == 1
    with ledger.read() as conn:
        (face,) = conn.execute(select(Template.face_id).distinct()).scalars().all()
    assert face == portrait


def _faces_of(ledger: Ledger, external_id: str) -> list[int]:
    with ledger.read() as conn:
        return list(conn.execute(
            select(FACES.c.id).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(PHOTOS.c.external_id == external_id).order_by(FACES.c.face_index)
        ).scalars())  # fmt: skip


def test_hashes_in_signed_form_evidence_are_of_the_file(tmp_path: Path) -> None:
    evidence = _form(_verifier(tmp_path))
    assert evidence.detail["sha256"] == hashlib.sha256(b"%PDF signed release").hexdigest()
    assert evidence.verified and evidence.to_dict()["verified_at"] == "2025-08-01T00:00:00+00:00"
    assert IdentityEvidence.from_dict(evidence.to_dict()) == evidence
