"""Consent records (`add_consent`, `revoke_consent`, `list_consents`, `import_consents`) and how
`assess` uses them, on a real ledger (SQLite and PostgreSQL).

Most tests give the example photos fake faces (the detector is not the point); one runs the
real scan end to end. Processing is placed in Illinois so BIPA reaches the Chicago photo
(ex-0001, owner 70000001@N01) through processing as well as through its geotag.

A consent belongs to the depicted person: ``_written`` has each person in the Chicago photo
claim their face and sign a release for it (given by the subject, with signer, date and the
form's hash). A consent keyed only by the photo owner covers nobody else (tests/services/
test_claims.py covers the owner's own face).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from faceledger.config import load_settings
from faceledger.core.law import Processor, load_policies
from faceledger.errors import ConsentError, ConsentNotFound, ManifestError
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.services.decisions.assess import assess_face_ids, assess_faces
from faceledger.services.people.claims import add_claim
from faceledger.services.people.consent import (
    add_consent,
    import_consents,
    list_consents,
    revoke_consent,
)
from faceledger.services.people.verification import IdentityEvidence
from faceledger.sources.consents import EVIDENCE_RULE
from faceledger.store import Ledger
from faceledger.store.audit import verify_chain
from faceledger.store.ledger import utcnow
from faceledger.store.schema import (
    AuditEvent,
    Consent,
    ConsentClaim,
    Face,
    FaceDecision,
    Photo,
)
from faceledger.store.tables import decision_records

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FACES, PHOTOS, DECISIONS = Face.__table__, Photo.__table__, FaceDecision.__table__
CONSENTS, AUDIT = Consent.__table__, AuditEvent.__table__
FRT = "train-face-recognition"
ON = date(2025, 9, 1)
CHICAGO = "70000001@N01"  # ex-0001, Chicago, IL
SPRINGFIELD = "70000008@N01"  # ex-0008, Springfield, Illinois (owner location only)
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
IN_ILLINOIS = {"processor_location": "US-IL"}


@pytest.fixture
def assessed(ledger: Ledger, publish_schedule: Any, fake_scan: Any) -> Ledger:
    """Examples ingested, fake-scanned and assessed for FRT with processing in Illinois (the
    retention schedule published, so BIPA 15(a) is met)."""
    ingest_paths(ledger, [EXAMPLES / "photos.csv"])
    fake_scan(ledger)
    publish_schedule(ledger)
    assess_faces(ledger, load_settings(**IN_ILLINOIS), on=ON)
    return ledger


def _decisions(ledger: Ledger, owner_id: str, purpose: str = FRT) -> list[dict[str, Any]]:
    with ledger.read() as conn:
        rows = (
            conn.execute(
                decision_records()
                .join(FACES, FACES.c.id == DECISIONS.c.face_id)
                .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
                .where(PHOTOS.c.owner_id == owner_id, DECISIONS.c.purpose == purpose)
                .order_by(DECISIONS.c.face_id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def _outcomes(ledger: Ledger, owner_id: str, purpose: str = FRT) -> set[str]:
    rows = _decisions(ledger, owner_id, purpose)
    assert rows, f"no decisions for {owner_id}"
    return {row["decision"] for row in rows}


def _bipa_violations(row: dict[str, Any]) -> list[dict[str, Any]]:
    law = next(law for law in row["result"]["laws"] if law["id"] == "us-il-bipa")
    return list(law["violations"])


def _events(ledger: Ledger, name: str) -> list[dict[str, Any]]:
    with ledger.read() as conn:
        rows = (
            conn.execute(
                select(AUDIT.c.payload, AUDIT.c.object_id, AUDIT.c.actor)
                .where(AUDIT.c.name == name)
                .order_by(AUDIT.c.id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


STATED = IdentityEvidence("attestation", False, {"statement": "this is me"})
SIGNED = {"signer": "Pat Example", "signed_on": date(2025, 1, 10), "evidence_sha256": SHA}


def _claims(ledger: Ledger, owner_id: str) -> list[int]:
    """Each person in ``owner_id``'s photos claims their face (ids of the claims)."""
    with ledger.read() as conn:
        faces = conn.execute(
            select(FACES.c.id).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(PHOTOS.c.owner_id == owner_id).order_by(FACES.c.id)
        ).scalars().all()  # fmt: skip
    return [add_claim(ledger, face_id=f, by="subject", evidence=STATED, actor="test",
                      assess_on=ON, policies=load_policies()).id for f in faces]  # fmt: skip


def _written(ledger: Ledger, owner_id: str = CHICAGO, **more: Any) -> Any:
    """The people in ``owner_id``'s photos claim their faces and sign one written release
    (a subject-keyed consent when the ledger has no faces yet)."""
    values: dict[str, Any] = {"form": "written", "purposes": [FRT], "informed": True,
                              "granted": date(2025, 1, 10), "assess_on": ON} | SIGNED  # fmt: skip
    claims = _claims(ledger, owner_id)
    cover: dict[str, Any] = {"claim_ids": claims} if claims else {"subject_id": 42}
    return add_consent(
        ledger, **({"given_by": "subject", "policies": load_policies()} | cover | values | more)
    )


# --- the engine sees recorded consents --------------------------------------------------


def test_a_written_informed_consent_allows_that_owner_under_bipa_and_no_one_else(
    assessed: Ledger,
) -> None:
    assert _outcomes(assessed, CHICAGO) == {"block"}
    change = _written(assessed)
    assert change.reassessed.faces == 2
    assert change.reassessed.by_decision == {"allow": 2}
    for row in _decisions(assessed, CHICAGO):
        assert row["decision"] == "allow", row["result"]["reasons"]
        assert _bipa_violations(row) == []
        assert row["scenario"]["consents"] == [{
            "form": "written", "purposes": [FRT], "informed": True, "granted": "2025-01-10",
            "expires": None, "revoked": None, "given_by": "subject", "relationship": None,
            "kind": "consent", "purchaser": None, "signed": True,
        }]  # fmt: skip
        assert row["scenario"]["processor"]["location"] == "US-IL"
        assert row["scenario"]["date"] == ON.isoformat()
    # another Illinois owner without a consent stays blocked under BIPA
    (other, *_) = _decisions(assessed, SPRINGFIELD)
    assert other["decision"] == "block"
    assert [v["section"] for v in _bipa_violations(other)] == ["15(b)"]
    # and a full re-run of assess finds the same consent
    assess_faces(assessed, load_settings(**IN_ILLINOIS), on=ON)
    assert _outcomes(assessed, CHICAGO) == {"allow"}
    assert _outcomes(assessed, SPRINGFIELD) == {"block"}


def test_a_written_consent_that_was_not_informed_does_not_satisfy_bipa(assessed: Ledger) -> None:
    _written(assessed, informed=False)
    rows = _decisions(assessed, CHICAGO)
    assert {r["decision"] for r in rows} == {"block"}
    assert [v["section"] for v in _bipa_violations(rows[0])] == ["15(b)"]


@pytest.mark.parametrize(
    ("granted", "expected"),
    [(date(2024, 8, 1), "block"), (date(2024, 8, 2), "allow"), (date(2024, 9, 15), "allow")],
)
def test_an_electronic_signature_counts_for_bipa_only_from_2_august_2024(
    assessed: Ledger, granted: date, expected: str
) -> None:
    _written(assessed, form="electronic", granted=granted)
    assert _outcomes(assessed, CHICAGO) == {expected}
    if expected == "block":
        (reason,) = [v["reason"] for v in _bipa_violations(_decisions(assessed, CHICAGO)[0])]
        assert "electronic consent given 2024-08-01 is not accepted" in reason


def test_revoking_blocks_at_once_by_id_or_receipt(assessed: Ledger) -> None:
    change = _written(assessed)
    assert _outcomes(assessed, CHICAGO) == {"allow"}
    revoked = revoke_consent(
        assessed, change.consent.receipt, on=ON, assess_on=ON, policies=load_policies()
    )
    assert revoked.changed and revoked.consent.revoked == ON
    assert revoked.reassessed.by_decision == {"block": 2}
    rows = _decisions(assessed, CHICAGO)
    assert {r["decision"] for r in rows} == {"block"}
    assert "consent revoked on 2025-09-01" in _bipa_violations(rows[0])[0]["reason"]
    # revoking again from a later date changes nothing; from an earlier date moves it earlier
    again = revoke_consent(
        assessed,
        str(change.consent.id),
        on=date(2025, 10, 1),
        assess_on=ON,
        policies=load_policies(),
    )
    assert again.changed is False and again.consent.revoked == ON
    earlier = revoke_consent(
        assessed, change.consent.id, on=date(2025, 8, 1), assess_on=ON, policies=load_policies()
    )
    assert earlier.changed and earlier.consent.revoked == date(2025, 8, 1)
    assert len(_events(assessed, "consent.revoke")) == 2


def test_a_revocation_dated_later_is_recorded_but_blocks_only_from_its_date(
    assessed: Ledger,
) -> None:
    change = _written(assessed)
    revoke_consent(
        assessed,
        change.consent.receipt,
        on=date(2025, 12, 1),
        assess_on=ON,
        policies=load_policies(),
    )
    assert _outcomes(assessed, CHICAGO) == {"allow"}
    assess_faces(assessed, load_settings(**IN_ILLINOIS), on=date(2025, 12, 1))
    assert _outcomes(assessed, CHICAGO) == {"block"}


def test_an_expired_consent_does_not_count(assessed: Ledger) -> None:
    _written(assessed, granted=date(2024, 1, 1), expires=date(2025, 1, 1))
    rows = _decisions(assessed, CHICAGO)
    assert {r["decision"] for r in rows} == {"block"}
    assert "consent expired on 2025-01-01" in _bipa_violations(rows[0])[0]["reason"]
    (listed,) = list_consents(assessed)
    assert listed.status_on(ON) == "expired"


def test_a_consent_for_another_purpose_does_not_count(assessed: Ledger) -> None:
    assess_faces(assessed, load_settings(**IN_ILLINOIS), purpose="fairness-audit", on=ON)
    change = _written(assessed, purposes=["fairness-audit"])
    # both purposes the faces have decisions for were re-decided
    assert sorted(change.reassessed.purposes) == ["fairness-audit", FRT]
    assert _outcomes(assessed, CHICAGO, "fairness-audit") == {"allow"}
    rows = _decisions(assessed, CHICAGO)
    assert {r["decision"] for r in rows} == {"block"}
    assert "no consent record names the purpose" in _bipa_violations(rows[0])[0]["reason"]


def test_a_change_keeps_the_processor_each_decision_was_made_for(assessed: Ledger) -> None:
    # decisions for a second action, made for processing in Washington
    assess_faces(assessed, load_settings(processor_location="US-WA"), action="match-optout", on=ON)
    _written(assessed)
    for row in _decisions(assessed, CHICAGO):
        expected = "US-IL" if row["action"] == "extract-template" else "US-WA"
        assert row["scenario"]["processor"]["location"] == expected


def test_consents_are_read_for_every_page_of_faces(assessed: Ledger) -> None:
    _written(assessed)
    report = assess_faces(assessed, load_settings(**IN_ILLINOIS), on=ON, page_size=3)
    assert report.by_decision["allow"] == 2
    assert _outcomes(assessed, CHICAGO) == {"allow"}


def test_assess_face_ids_decides_only_the_given_faces(assessed: Ledger) -> None:
    claims = _claims(assessed, CHICAGO)
    with assessed.begin() as conn:  # recorded without re-deciding anything
        consent_id = conn.execute(insert(CONSENTS).values(
            receipt="r-1", given_by="subject", form="written", purposes=[FRT], informed=True,
            granted=date(2025, 1, 1), source="test", created_at=utcnow(), **SIGNED,
        ).returning(CONSENTS.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(ConsentClaim.__table__),
                     [{"consent_id": consent_id, "claim_id": c} for c in claims])  # fmt: skip
    first, second = (row["face_id"] for row in _decisions(assessed, CHICAGO))
    report = assess_face_ids(assessed, [first, 999_999], purpose=FRT, on=ON,
                             processor=Processor(location="US-IL"), policies=load_policies())  # fmt: skip
    assert report.faces == 1
    assert [r["decision"] for r in _decisions(assessed, CHICAGO)] == ["allow", "block"]
    assert _events(assessed, "assess.run")[-1]["payload"]["scope"] == "faces"
    assert second


# --- recording ------------------------------------------------------------------------------


def test_add_records_the_consent_with_an_unguessable_receipt_and_an_audit_event(
    ledger: Ledger,
) -> None:
    first = _written(ledger, evidence_uri="s3://c/1.pdf", evidence_sha256=SHA.upper())
    second = _written(ledger)
    assert first.consent.receipt != second.consent.receipt
    assert len(first.consent.receipt) >= 32
    assert first.consent.evidence_sha256 == SHA  # normalised to lower case
    assert first.consent.source == "cli"
    assert first.reassessed.faces == 0  # nothing assessed yet
    (event, _) = _events(ledger, "consent.add")
    assert event["object_id"] == str(first.consent.id)
    payload = event["payload"]
    assert payload["consent_id"] == first.consent.id
    assert payload["purposes"] == [FRT] and payload["form"] == "written"
    assert payload["evidence_sha256"] == SHA
    text = repr(payload)
    for secret in (first.consent.receipt, CHICAGO, "s3://c/1.pdf"):
        assert secret not in text  # no personal identifiers in the append-only log
    with ledger.read() as conn:
        assert verify_chain(conn) is None


def test_changes_and_the_decisions_they_cause_are_audited_together(assessed: Ledger) -> None:
    change = _written(assessed)
    revoke_consent(assessed, change.consent.id, on=ON, assess_on=ON, policies=load_policies())
    runs = [e["payload"] for e in _events(assessed, "assess.run")
            if e["payload"].get("trigger", {}).get("event", "").startswith("consent.")]  # fmt: skip
    assert [r.get("trigger") for r in runs] == [
        {"event": "consent.add", "consent_id": change.consent.id},
        {"event": "consent.revoke", "consent_id": change.consent.id},
    ]
    assert runs[0]["by_decision"] == {"allow": 2, "block": 0}
    assert runs[1]["by_decision"] == {"allow": 0, "block": 2}
    with assessed.read() as conn:
        names = conn.execute(select(AUDIT.c.name).order_by(AUDIT.c.id)).scalars().all()
        assert verify_chain(conn) is None
    assert names[-4:] == ["consent.add", "assess.run", "consent.revoke", "assess.run"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"subject_id": None}, "must name the claimed faces"),
        ({"given_by": "photo-owner", "subject_id": None}, "photo-owner consent must name owner_id"),
        ({"signer": None}, "must show who signed it"),
        ({"given_by": "legal-representative"}, "must give the relationship"),
        ({"kind": "sale-authorization"}, "must name the purchaser"),
        ({"form": "oral"}, "form 'oral' is not one of written, electronic, verbal, none"),
        ({"purposes": [" "]}, "purposes is empty"),
        ({"evidence_sha256": "abc"}, "evidence_sha256 'abc' is not 64 hex digits"),
        ({"expires": date(2025, 1, 10)}, "expires 2025-01-10 is not after granted"),
        ({"revoked": date(2024, 1, 1)}, "revoked 2024-01-01 is before granted"),
    ],
)
def test_add_refuses_invalid_values(ledger: Ledger, values: dict[str, Any], message: str) -> None:
    values = dict(values)  # the parameter is shared by both backends
    with pytest.raises(ConsentError, match=message):
        _written(ledger, **values)
    assert list_consents(ledger) == [] and _events(ledger, "consent.add") == []


@pytest.mark.parametrize(
    "values", [{"given_by": "photo-owner"}, {"given_by": "uploader"}, {"kind": "sale"}]
)
def test_the_database_refuses_an_ownerless_photo_owner_consent_and_unknown_values(
    ledger: Ledger, values: dict[str, Any]
) -> None:
    with pytest.raises(IntegrityError), ledger.begin() as conn:
        conn.execute(insert(CONSENTS).values(
            receipt="x", form="written", purposes=[FRT], informed=True,
            granted=date(2025, 1, 1), source="test", created_at=utcnow(), **values,
        ))  # fmt: skip


def test_a_subject_consent_is_recorded_and_touches_no_unclaimed_face(assessed: Ledger) -> None:
    change = add_consent(assessed, subject_id=7, form="written", purposes=[FRT], informed=True,
                         granted=date(2025, 1, 1), assess_on=ON, policies=load_policies(), **SIGNED)  # fmt: skip
    assert change.consent.subject_id == 7 and change.consent.owner_id is None
    assert change.reassessed.faces == 0
    assert [c.id for c in list_consents(assessed, subject_id=7)] == [change.consent.id]
    assert _events(assessed, "consent.add")[0]["payload"]["keyed_by"] == "subject"


def test_unknown_consent_cannot_be_revoked(ledger: Ledger) -> None:
    with pytest.raises(ConsentNotFound, match="no consent with id or receipt 'nope'"):
        revoke_consent(ledger, "nope", policies=load_policies())


def test_list_filters_by_owner_and_reports_status(ledger: Ledger) -> None:
    def owner(owner_id: str, granted: date) -> Any:
        return add_consent(ledger, owner_id=owner_id, form="written", purposes=[FRT],
                           informed=True, granted=granted, policies=load_policies()).consent  # fmt: skip

    a = owner(CHICAGO, date(2025, 1, 10))
    owner(SPRINGFIELD, date(2025, 1, 10))
    future = owner(CHICAGO, date(2026, 1, 1))
    assert a.given_by == "photo-owner"
    assert [c.id for c in list_consents(ledger, owner_id=CHICAGO)] == [a.id, future.id]
    assert len(list_consents(ledger)) == 3
    assert future.status_on(ON) == "pending" and a.status_on(ON) == "active"
    document = a.to_dict(ON)
    assert document["granted"] == "2025-01-10" and document["status"] == "active"
    assert document["purposes"] == [FRT]


# --- importing ------------------------------------------------------------------------------

CSV = f"""owner_id,subject_id,form,purposes,informed,granted,expires,revoked,evidence_uri,evidence_sha256
{CHICAGO},,written,{FRT};fairness-audit,yes,2025-01-10,,,s3://c/1.pdf,{SHA}
{SPRINGFIELD},,oral,{FRT},yes,2025-01-10,,,,
70000003@N01,,written,{FRT},yes,2025-13-01,,,,
70000004@N01,,written,{FRT},yes,2025-01-10,,,,not-a-hash
,,written,{FRT},yes,2025-01-10,,,,

70000005@N01,,written,{FRT},maybe,2025-01-10,,,,
70000006@N01,,written,,true,2025-01-10,,,,
70000007@N01,,electronic,{FRT},true,2025-01-10,2024-01-01,,,
,42,verbal,{FRT},false,2025-02-01,,,,
70000009@N01,,written,{FRT},true,2025-01-10,,,,,extra
"""


def test_import_csv_skips_bad_rows_with_file_line_and_reason(
    assessed: Ledger, tmp_path: Path
) -> None:
    path = tmp_path / "consents.csv"
    path.write_text(CSV)
    report = import_consents(assessed, path, assess_on=ON, policies=load_policies())
    assert report.seen == 10 and report.added == 1 and report.rejected == 9
    assert report.rejects == [
        "consents.csv:3: form 'oral' is not one of written, electronic, verbal, none",
        "consents.csv:4: granted '2025-13-01' is not a date (YYYY-MM-DD)",
        "consents.csv:5: evidence_sha256 'not-a-hash' is not 64 hex digits",
        "consents.csv:6: a consent must name the claimed faces (claims) or subject_id it covers, "
        "or owner_id for a photo-owner consent",
        "consents.csv:8: informed 'maybe' is not true or false",
        "consents.csv:9: purposes is empty: name at least one purpose",
        "consents.csv:10: expires 2024-01-01 is not after granted 2025-01-10",
        f"consents.csv:11: {EVIDENCE_RULE}",
        "consents.csv:12: 1 more value(s) than columns",
    ]
    (chicago,) = list_consents(assessed)
    assert chicago.purposes == (FRT, "fairness-audit") and chicago.informed is True
    assert chicago.source == "consents.csv" and chicago.evidence_sha256 == SHA
    assert chicago.given_by == "photo-owner"  # an old owner-keyed row: the owner's own face only
    assert _outcomes(assessed, CHICAGO) == {"block"}  # re-decided at once: it covers no one here
    assert report.reassessed.faces == 2
    (event,) = _events(assessed, "consent.import")
    payload = event["payload"]
    assert payload["file"] == "consents.csv" and len(payload["sha256"]) == 64
    assert (payload["seen"], payload["added"], payload["rejected"]) == (10, 1, 9)
    assert payload["consent_ids"] == report.consent_ids == [chicago.id]
    assert payload["rejects"][0].startswith("consents.csv:3:")
    # importing the same file again adds nothing
    again = import_consents(assessed, path, assess_on=ON, policies=load_policies())
    assert again.added == 0 and again.duplicates == 1 and again.rejected == 9
    assert len(list_consents(assessed)) == 1


def test_import_of_consents_for_claimed_faces_allows_them(assessed: Ledger, tmp_path: Path) -> None:
    first, second = _claims(assessed, CHICAGO)
    path = tmp_path / "claims.csv"
    path.write_text(
        "claims,given_by,relationship,form,purposes,informed,granted,signer,signed_on,evidence_sha256\n"
        f"{first};{second},subject,,written,{FRT},yes,2025-01-10,Pat Example,2025-01-10,{SHA}\n"
        f"999,subject,,written,{FRT},yes,2025-01-10,Pat Example,2025-01-10,{SHA}\n"
        f"{first},legal-representative,parent,written,{FRT},yes,2025-01-10,P,2025-01-10,{SHA}\n"
    )
    report = import_consents(assessed, path, assess_on=ON, policies=load_policies())
    assert report.added == 1 and report.rejected == 2
    assert "no claim with id 999" in report.rejects[0]
    assert "only for a face they claimed" in report.rejects[1]
    (consent,) = list_consents(assessed)
    assert consent.claim_ids == (first, second) and consent.signer == "Pat Example"
    assert _outcomes(assessed, CHICAGO) == {"allow"}
    again = import_consents(assessed, path, assess_on=ON, policies=load_policies())
    assert again.added == 0 and again.duplicates == 1


def test_import_json_lines(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "consents.jsonl"
    path.write_text(
        f'{{"owner_id": "{CHICAGO}", "form": "Written", "purposes": ["{FRT}"], "informed": true, '
        '"granted": "2025-01-10", "revoked": "2025-03-01"}\n'
        "\n"
        '{"owner_id": "x", "form": "written", "purposes": "a;b", "granted": "2025-01-10"}\n'
        '{"owner_id": "x", "form": "written", "purposes": [1], "granted": "2025-01-10"}\n'
        "not json\n"
        '["a list"]\n'
        '{"subject_id": -3, "form": "written", "purposes": ["p"], "granted": "2025-01-10"}\n'
        '{"subject_id": 9, "form": "written", "purposes": ["p"], "granted": "2025-01-10", '
        f'"informed": "no", "signer": "P", "signed_on": "2025-01-10", "evidence_sha256": "{SHA}"}}\n'
    )
    report = import_consents(ledger, path, assess_on=ON, policies=load_policies())
    assert report.seen == 7 and report.added == 3
    assert [r.split(": ", 1)[0] for r in report.rejects] == [
        "consents.jsonl:4", "consents.jsonl:5", "consents.jsonl:6", "consents.jsonl:7",
    ]  # fmt: skip
    assert "purpose 1 is not text" in report.rejects[0]
    assert "not valid JSON" in report.rejects[1]
    assert "not a JSON object" in report.rejects[2]
    assert "subject_id -3 is not a positive integer" in report.rejects[3]
    first, second, third = list_consents(ledger)
    assert first.form == "written" and first.revoked == date(2025, 3, 1)
    assert second.purposes == ("a", "b") and second.informed is False
    assert third.subject_id == 9


def test_an_unreadable_consent_file_is_an_error(ledger: Ledger, tmp_path: Path) -> None:
    no_columns = tmp_path / "c.csv"
    no_columns.write_text("owner,what\nx,y\n")
    with pytest.raises(
        ManifestError, match=r"c.csv:1: missing column\(s\) form, purposes, granted"
    ):
        import_consents(ledger, no_columns, policies=load_policies())
    other = tmp_path / "c.xlsx"
    other.write_text("x")
    with pytest.raises(ManifestError, match="use .csv or .jsonl"):
        import_consents(ledger, other, policies=load_policies())
    with ledger.read() as conn:
        assert conn.execute(select(func.count()).select_from(AUDIT)).scalar_one() == 0


# --- end to end with the real detector ---------------------------------------------------


def test_real_faces_of_the_consenting_people_turn_allow_and_back(
    ledger: Ledger, publish_schedule: Any
) -> None:
    ingest_paths(ledger, [EXAMPLES / "photos.csv"])
    publish_schedule(ledger)
    scan_pending(ledger, load_settings(workers=1))
    settings = load_settings(**IN_ILLINOIS)
    before = assess_faces(ledger, settings, on=ON)
    chicago = _decisions(ledger, CHICAGO)
    assert chicago and {r["decision"] for r in chicago} == {"block"}
    change = _written(ledger)
    assert change.reassessed.faces == len(chicago)
    assert _outcomes(ledger, CHICAGO) == {"allow"}
    after = assess_faces(ledger, settings, on=ON)
    assert after.by_decision["allow"] == before.by_decision["allow"] + len(chicago)
    revoke_consent(ledger, change.consent.receipt, on=ON, assess_on=ON, policies=load_policies())
    assert _outcomes(ledger, CHICAGO) == {"block"}
