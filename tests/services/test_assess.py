"""`assess_faces`, `explain_face` and `ledger_exposure` over a real ledger (SQLite and PostgreSQL).

Most tests give every example photo fake faces (the detector is not the point); one runs the
real scan end to end.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from faceledger.config import load_settings
from faceledger.core.law import load_policies
from faceledger.core.law.decision import IN_SCOPE
from faceledger.errors import AssessmentNotFound
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.decisions.assess import assess_faces, face_scenario
from faceledger.services.decisions.explain import explain_face
from faceledger.services.decisions.exposure import ledger_exposure
from faceledger.store import Ledger
from faceledger.store.schema import AuditEvent, Face, FaceDecision, Photo
from faceledger.store.tables import DECISION_OUTCOMES, OUTCOMES, decision_records

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FACES, PHOTOS, DECISIONS = Face.__table__, Photo.__table__, FaceDecision.__table__
FRT = "train-face-recognition"
ON = date(2025, 9, 1)
#: faces given to some example photos by the fake detector (every other: one; ex-0010 has no
#: location at all): ex-0001 three, ex-0006 two
ONE_FACE = ((0.0, 0.0, 50.0, 50.0),)
FAKE_FACES = {
    EXAMPLES / "photos" / "2007_007763.jpg": tuple(
        (10.0 * i, 0.0, 10.0 * i + 50, 50.0) for i in range(3)
    ),
    EXAMPLES / "photos" / "Abel_Pacheco_0004.jpg": tuple(
        (10.0 * i, 0.0, 10.0 * i + 50, 50.0) for i in range(2)
    ),
}


@pytest.fixture
def scanned(ledger: Ledger, publish_schedule: Any, fake_scan: Any) -> Ledger:
    """The examples, scanned with the fake detector, with a published retention schedule
    (BIPA 15(a))."""
    ingest_paths(ledger, [EXAMPLES])
    fake_scan(ledger, ONE_FACE, by_image=FAKE_FACES)
    publish_schedule(ledger, "2008-10-03")  # before any date these tests assess on
    return ledger


def _decisions(ledger: Ledger, external_id: str, purpose: str = FRT) -> list[dict[str, Any]]:
    with ledger.read() as conn:
        rows = (
            conn.execute(
                decision_records()
                .join(FACES, FACES.c.id == DECISIONS.c.face_id)
                .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
                .where(PHOTOS.c.external_id == external_id, DECISIONS.c.purpose == purpose)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def _photo_row(ledger: Ledger, external_id: str) -> Any:
    with ledger.read() as conn:
        return conn.execute(select(PHOTOS).where(PHOTOS.c.external_id == external_id)).one()


def _law(row: dict[str, Any], law_id: str) -> dict[str, Any]:
    return next(law for law in row["result"]["laws"] if law["id"] == law_id)


def _sections(row: dict[str, Any], law_id: str) -> list[str]:
    return [v["section"] for v in _law(row, law_id)["violations"]]


def _count(ledger: Ledger, table: Any, *where: Any) -> int:
    with ledger.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_every_face_gets_one_decision_and_rerunning_replaces_it(scanned: Ledger) -> None:
    faces = _count(scanned, FACES)
    assert faces == 13
    first = assess_faces(scanned, load_settings(), on=ON, page_size=4)  # several pages
    assert first.faces == faces
    assert _count(scanned, DECISIONS) == faces
    with scanned.read() as conn:
        first_ids = set(conn.execute(select(DECISIONS.c.id)).scalars())
    again = assess_faces(scanned, load_settings(), on=ON)
    assert again.faces == faces and _count(scanned, DECISIONS) == faces
    with scanned.read() as conn:
        assert set(conn.execute(select(DECISIONS.c.id)).scalars()) == first_ids  # replaced in place
        per_face = conn.execute(
            select(DECISIONS.c.face_id, func.count()).group_by(DECISIONS.c.face_id)
        ).all()
    assert {n for _, n in per_face} == {1}
    other = assess_faces(scanned, load_settings(), purpose="fairness-audit", on=ON)
    assert other.faces == faces and _count(scanned, DECISIONS) == 2 * faces


def test_chicago_faces_are_blocked_citing_bipa_15b(scanned: Ledger) -> None:
    report = assess_faces(scanned, load_settings(processor_location="US-WA"), on=ON)
    rows = _decisions(scanned, "ex-0001")
    assert len(rows) == 3
    for row in rows:
        assert row["decision"] == "block"
        assert _sections(row, "us-il-bipa") == ["15(b)"]
        assert _law(row, "us-il-bipa")["applies"] in IN_SCOPE["conservative"]
        assert any(r.startswith("us-il-bipa 15(b)") for r in row["result"]["reasons"])
        assert row["scenario"]["consents"] == []  # no consent recorded yet
    assert report.blocked[("us-il-bipa", "15(b)")] >= 3
    reasons = report.to_dict()["blocked_by"]
    bipa = next(e for e in reasons if e["law"] == "us-il-bipa" and e["section"] == "15(b)")
    assert "written release required" in bipa["top_reasons"][0]["reason"]


def test_berlin_faces_cite_gdpr_article_9(scanned: Ledger) -> None:
    assess_faces(scanned, load_settings(processor_location="US-WA"), on=ON)
    rows = _decisions(scanned, "ex-0006")
    assert len(rows) == 2
    for row in rows:
        assert row["decision"] == "block"
        assert _law(row, "eu-gdpr")["applies"] == "likely"
        assert _sections(row, "eu-gdpr") == ["Art. 9(1)"]
        assert "DE" in {j["code"] for j in row["result"]["jurisdictions"]}


def test_a_tdm_reservation_on_a_held_photo_blocks_training_under_the_dsm_directive(
    scanned: Ledger, tmp_path: Path
) -> None:
    from faceledger.services.people.optouts import import_optouts

    settings = load_settings(processor_location="US-WA")
    assess_faces(scanned, settings, on=ON)
    assert all(
        "DSM Art. 4(3)" not in _sections(r, "eu-gdpr") for r in _decisions(scanned, "ex-0006")
    )
    listing = tmp_path / "optouts.txt"
    listing.write_text("70000006@N01\n")  # the Berlin photographer reserves their photos
    assert import_optouts(scanned, listing).already_held == 1
    assess_faces(scanned, settings, on=ON)
    rows = _decisions(scanned, "ex-0006")
    assert rows and all(r["scenario"]["tdm_reserved"] is True for r in rows)
    assert all("DSM Art. 4(3)" in _sections(r, "eu-gdpr") for r in rows)
    assert all(r["scenario"]["tdm_reserved"] is False for r in _decisions(scanned, "ex-0001"))


def test_a_face_without_location_evidence_is_blocked_with_the_reason(scanned: Ledger) -> None:
    assess_faces(scanned, load_settings(processor_location="US-WA"), on=ON)
    (row,) = _decisions(scanned, "ex-0010")
    assert row["decision"] == "block"
    assert [j["code"] for j in row["result"]["jurisdictions"]] == ["US-WA"]  # processor only
    bipa = _law(row, "us-il-bipa")
    assert bipa["applies"] == "uncertain"
    assert "no location evidence: the subject could be in scope" in bipa["reasons"]
    assert _sections(row, "us-il-bipa") == ["15(b)"]


def test_hammond_indiana_is_not_reached_by_bipa_through_its_geotag(scanned: Ledger) -> None:
    assess_faces(scanned, load_settings(processor_location="US-WA"), on=ON)
    (row,) = _decisions(scanned, "ex-0007")
    assert {j["code"] for j in row["result"]["jurisdictions"]} == {"US-IN", "US-WA"}
    assert _law(row, "us-il-bipa")["applies"] == "no"
    assert _sections(row, "us-il-bipa") == []


def test_unknown_processor_location_keeps_processing_laws_in_scope(scanned: Ledger) -> None:
    report = assess_faces(scanned, load_settings(), on=ON)  # processor_location unset
    assert report.processor_location is None
    (row,) = _decisions(scanned, "ex-0007")
    bipa = _law(row, "us-il-bipa")
    assert bipa["applies"] == "uncertain"  # not via the geotag: via the unknown processor
    assert any("where processing runs is unknown" in r for r in bipa["reasons"])
    assert row["decision"] == "block"
    assert row["scenario"]["processor"] == {"location": None, "commercial": True}


def test_as_of_before_a_law_takes_effect_changes_the_outcome(scanned: Ledger) -> None:
    settings = load_settings(processor_location="US-CO")
    assess_faces(scanned, settings, on=date(2025, 6, 30))
    (before,) = _decisions(scanned, "ex-0004")  # Denver; Colorado's rule starts 2025-07-01
    assert _law(before, "us-co-biometric")["applies"] == "no"
    assert before["decision"] == "allow", before["result"]["reasons"]
    assess_faces(scanned, settings, on=date(2025, 7, 1))
    (after,) = _decisions(scanned, "ex-0004")
    assert after["decision"] == "block"
    assert _sections(after, "us-co-biometric") == ["6-1-1314(3)(a)"]
    assert after["scenario"]["date"] == "2025-07-01"


def test_policy_versions_and_scenario_are_recorded(scanned: Ledger) -> None:
    report = assess_faces(scanned, load_settings(processor_location="US-WA"), on=ON)
    versions = {p.id: p.version for p in load_policies()}
    assert report.policy_versions == versions
    (row,) = _decisions(scanned, "ex-0007")
    assert row["policy_versions"] == versions
    assert row["result"]["policy_versions"] == versions
    scenario = row["scenario"]
    assert scenario["date"] == ON.isoformat() and scenario["purpose"] == FRT
    # the case stores the evidence as the engine read it: resolved, its free text blanked
    assert [(e["kind"], e["code"], e["detail"]) for e in scenario["subject"]["evidence"]] == [
        ("geotag", "US-IN", ""), ("owner-location", "US-IN", "")]  # fmt: skip
    # and a person gets the face's own raw clues back, to replay by hand
    assert face_scenario(scenario, _photo_row(scanned, "ex-0007"))["subject"]["evidence"] == [
        {"kind": "geotag", "lat": 41.62, "lon": -87.5, "accuracy": 16},
        {"kind": "owner-location", "text": "Hammond, Indiana"},
    ]
    assert scenario["collected"] == scenario["last_interaction"]
    assert row["destroy_by"] == (date.fromisoformat(row["result"]["destroy_by"])
                                 if row["result"]["destroy_by"] else None)  # fmt: skip


def test_one_audit_event_per_run_with_counts(scanned: Ledger) -> None:
    assess_faces(scanned, load_settings(), on=ON, actor="test")
    report = assess_faces(scanned, load_settings(processor_location="US-WA"), on=ON)
    with scanned.read() as conn:
        events = (
            conn.execute(
                select(AuditEvent.payload)
                .where(AuditEvent.name == "assess.run")
                .order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
    assert len(events) == 2
    last = events[-1]
    assert last["faces"] == 13
    assert last["by_decision"] == {"allow": report.by_decision["allow"],
                                   "block": report.by_decision["block"]}  # fmt: skip
    assert last["processor"]["location"] == "US-WA"
    assert (
        last["policy_versions"]["us-il-bipa"]
        == {p.id: p.version for p in load_policies()}["us-il-bipa"]
    )
    assert last["blocked_by_law"]["us-il-bipa"] >= 3


def test_an_empty_ledger_assesses_nothing(ledger: Ledger) -> None:
    report = assess_faces(ledger, load_settings(), on=ON)
    assert report.faces == 0 and _count(ledger, DECISIONS) == 0


def test_explain_rechecks_the_recorded_scenario(scanned: Ledger) -> None:
    assess_faces(scanned, load_settings(processor_location="US-WA"), on=ON)
    (row,) = _decisions(scanned, "ex-0007")
    document = explain_face(scanned, face_id=row["face_id"], purpose=FRT, policies=load_policies())
    assert document["photo"]["owner_location"] == "Hammond, Indiana"
    assert document["photo"]["geotag"]["lat"] == 41.62
    assert document["recorded"]["decision"] == row["decision"]
    assert document["changed"] is False and document["differences"] == []
    assert (
        "Illinois Biometric Information Privacy Act [us-il-bipa]: does not apply"
        in document["prose"]
    )
    # today's laws without BIPA decide differently from what was recorded
    fewer = [p for p in load_policies() if p.id != "us-il-bipa"]
    changed = explain_face(scanned, face_id=row["face_id"], purpose=FRT, policies=fewer)
    assert changed["changed"] is True
    assert "us-il-bipa: evaluated when recorded, no longer loaded" in changed["differences"]


def test_explain_unknown_or_unassessed_face_is_a_clear_error(scanned: Ledger) -> None:
    with pytest.raises(AssessmentNotFound, match="no face with id 999999"):
        explain_face(scanned, face_id=999_999, purpose=FRT, policies=load_policies())
    with scanned.read() as conn:
        face_id = conn.execute(select(func.min(FACES.c.id))).scalar_one()
    with pytest.raises(AssessmentNotFound, match="no recorded decision"):
        explain_face(scanned, face_id=face_id, purpose=FRT, policies=load_policies())


def test_exposure_counts_match_the_recorded_decisions(scanned: Ledger) -> None:
    assess_faces(scanned, load_settings(), on=ON)
    document = ledger_exposure(scanned, purpose=FRT, turnover=1e9, policies=load_policies())
    # independently: per law, blocked faces where it applies, and owners
    with scanned.read() as conn:
        rows = conn.execute(
            select(OUTCOMES.c.result, PHOTOS.c.owner_id)
            .select_from(DECISION_OUTCOMES)
            .join(FACES, FACES.c.id == DECISIONS.c.face_id)
            .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(DECISIONS.c.decision == "block", DECISIONS.c.purpose == FRT)
        ).all()
    faces: Counter[str] = Counter()
    owners: dict[str, set[str]] = {}
    for result, owner in rows:
        for law in result["laws"]:
            if law["applies"] in ("yes", "likely", "uncertain"):
                faces[law["id"]] += 1
                owners.setdefault(law["id"], set()).add(owner)
    got = {law["law"]: law for law in document["laws"]}
    assert {k: v["faces"] for k, v in got.items()} == dict(faces)
    assert {k: v["subjects"] for k, v in got.items()} == {k: len(v) for k, v in owners.items()}
    assert document["faces_blocked"] == len(rows)
    bipa = got["us-il-bipa"]["exposure"]
    assert bipa["unit"] == "person" and bipa["units"] == got["us-il-bipa"]["subjects"]
    assert bipa["high"] == 5000 * bipa["units"]
    assert got["eu-gdpr"]["exposure"]["high"] == 0.04 * 1e9
    assert any("not clustered" in note for note in document["assumptions"])


def test_exposure_before_the_bipa_amendment_counts_scans(scanned: Ledger) -> None:
    assess_faces(scanned, load_settings(), on=date(2024, 1, 1))
    document = ledger_exposure(scanned, purpose=FRT, policies=load_policies())
    bipa = next(law for law in document["laws"] if law["law"] == "us-il-bipa")
    assert document["date"] == "2024-01-01"
    assert bipa["exposure"]["unit"] == "scan" and bipa["exposure"]["units"] == bipa["faces"]


def test_exposure_without_assessment_is_a_clear_error(scanned: Ledger) -> None:
    with pytest.raises(AssessmentNotFound, match="run faceledger assess"):
        ledger_exposure(scanned, purpose=FRT, policies=load_policies())


@pytest.mark.integration
def test_real_scan_then_assess_end_to_end(ledger: Ledger, publish_schedule: Any) -> None:
    from faceledger.services.collection.scan import scan_pending

    ingest_paths(ledger, [EXAMPLES])
    publish_schedule(ledger)
    scan = scan_pending(ledger, load_settings(workers=1))
    assert scan.faces_found >= 10
    report = assess_faces(ledger, load_settings(processor_location="US-WA"), on=ON)
    assert report.faces == scan.faces_found == _count(ledger, DECISIONS)
    chicago = _decisions(ledger, "ex-0001")
    assert chicago and all(_sections(r, "us-il-bipa") == ["15(b)"] for r in chicago)
    assert all(r["decision"] == "block" for r in chicago)
    berlin = _decisions(ledger, "ex-0006")
    assert berlin and all(_sections(r, "eu-gdpr") == ["Art. 9(1)"] for r in berlin)
