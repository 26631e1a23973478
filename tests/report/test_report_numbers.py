"""The report's numbers equal counts queried independently from the ledger (raw SQL here,
never the report's own code), on the sample collection; one check runs on both backends."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import inspect, text
from tests.report.conftest import CONSENTING_OWNER, Sample, build_sample

from faceledger.core.law import load_policies
from faceledger.services.decisions.exposure import ledger_exposure
from faceledger.services.lifecycle.requests import new_request, reject_request
from faceledger.services.oversight.report import build_report
from faceledger.services.oversight.report_lifecycle import lifecycle_numbers
from faceledger.services.oversight.report_numbers import report_numbers
from faceledger.store import Ledger

TODAY = date.today()
IN_SCOPE = ("yes", "likely", "uncertain")


def _one(ledger: Ledger, sql: str, **params: Any) -> Any:
    with ledger.read() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def independent_headline(ledger: Ledger, purpose: str) -> dict[str, Any]:
    """Every headline figure, counted straight from the tables."""
    decided = "FROM face_decisions WHERE purpose = :p AND action = 'extract-template'"
    with ledger.read() as conn:
        tables = set(inspect(conn).get_table_names())
        results = conn.execute(
            text(
                "SELECT o.result FROM face_decisions d JOIN decision_outcomes o ON o.id = d.outcome_id "
                "WHERE d.purpose = :p AND d.action = 'extract-template' AND d.decision = 'block'"
            ),
            {"p": purpose},
        ).scalars()
        bipa_grades = {grade: 0 for grade in IN_SCOPE}
        for r in results:
            for law in _json(r)["laws"]:
                if law["id"] == "us-il-bipa" and law["applies"] in IN_SCOPE:
                    bipa_grades[law["applies"]] += 1
        bipa = sum(bipa_grades.values())
        consents = conn.execute(
            text("SELECT owner_id, purposes, granted, expires, revoked FROM consents")
        ).all()
    active = [c for c in consents if str(c.granted) <= TODAY.isoformat()
              and (c.expires is None or str(c.expires) > TODAY.isoformat())
              and (c.revoked is None or str(c.revoked) > TODAY.isoformat())]  # fmt: skip
    owners = sorted({c.owner_id for c in active if purpose in _json(c.purposes) and c.owner_id})
    covered = sum(
        _one(
            ledger,
            "SELECT count(*) FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.owner_id = :o",
            o=o,
        )
        for o in owners
    )
    measured = _one(ledger, "SELECT count(DISTINCT t.face_id) FROM templates t JOIN subjects s "
                            "ON s.id = t.subject_id WHERE t.kind = 'geometry' AND s.status = 'active'")  # fmt: skip
    faces = _one(ledger, "SELECT count(*) FROM faces")
    return {
        "photos": _one(ledger, "SELECT count(*) FROM photos"),
        "photos_scanned": _one(ledger, "SELECT count(*) FROM photos WHERE scan_status = 'done'"),
        "photos_metadata_only": _one(ledger, "SELECT count(*) FROM photos WHERE scan_status = 'remote'"),
        "photos_fetched": _one(ledger, "SELECT count(*) FROM photos WHERE fetch_status = 'fetched'"),
        "photos_reserved": _one(ledger, "SELECT count(*) FROM photos WHERE reservation IS NOT NULL"),
        "photos_fetch_failed": _one(ledger, "SELECT count(*) FROM photos WHERE fetch_status = 'failed'"),
        "faces": faces,
        "faces_geotagged": _one(ledger, "SELECT count(*) FROM faces f JOIN photos p ON p.id = f.photo_id "
                                        "WHERE p.latitude IS NOT NULL AND p.longitude IS NOT NULL"),
        "faces_assessed": _one(ledger, f"SELECT count(*) {decided}", p=purpose),
        "faces_allowed": _one(ledger, f"SELECT count(*) {decided} AND decision = 'allow'", p=purpose),
        "faces_blocked": _one(ledger, f"SELECT count(*) {decided} AND decision = 'block'", p=purpose),
        "bipa_faces_at_risk": bipa,
        "faces_with_templates": _one(ledger, "SELECT count(DISTINCT face_id) FROM templates WHERE kind = 'geometry'"),
        "subjects": _one(ledger, "SELECT count(*) FROM subjects"),
        "subjects_erased": _one(ledger, "SELECT count(*) FROM subjects WHERE status <> 'active'"),
        "consents_active": len(active),
        "faces_covered_by_consent": covered,
        "faces_measured": measured,
        "faces_not_measured": faces - measured,
        "requests_open": 0 if "requests" not in tables else _one(
            ledger, "SELECT count(*) FROM requests WHERE status IN ('received', 'verified')"),
        "requests_overdue": 0 if "requests" not in tables else _one(
            ledger, "SELECT count(*) FROM requests WHERE status IN ('received', 'verified') "
                    "AND deadline < :today", today=TODAY.isoformat()),
        "release_versions": 0 if "release_versions" not in tables
        else _one(ledger, "SELECT count(*) FROM release_versions"),
        "audit_events": _one(ledger, "SELECT count(*) FROM audit_events"),
        "audit_chain_ok": True,
        "bipa_faces_at_risk_by_grade": bipa_grades,
        "photos_in_sensitive_datasets": independent_sensitive_photos(ledger),
        "templates_without_deadline": _one(
            ledger, "SELECT count(DISTINCT t.face_id) FROM templates t JOIN subjects s ON s.id = t.subject_id "
                    "JOIN face_decisions d ON d.id = t.decision_id WHERE s.status = 'active' AND t.face_id NOT IN "
                    "(SELECT t2.face_id FROM templates t2 JOIN face_decisions d2 ON d2.id = t2.decision_id "
                    "WHERE d2.destroy_by IS NOT NULL)"),
    }  # fmt: skip


SENSITIVE = ("ethnic-group", "race", "religion", "sexual-orientation", "health", "disability",
             "political-opinion", "trade-union", "genetic")  # fmt: skip


def independent_sensitive_photos(ledger: Ledger) -> int:
    """Ledger photos whose Flickr photo id a dataset with a sensitive label kind lists (owner
    ids equal where both are known)."""
    with ledger.read() as conn:
        datasets = conn.execute(text("SELECT id, labels FROM datasets")).all()
        sensitive = [d.id for d in datasets if set(_json(d.labels)) & set(SENSITIVE)]
        if not sensitive:
            return 0
        ids = ", ".join(str(int(i)) for i in sensitive)
        return int(conn.execute(text(
            "SELECT count(DISTINCT p.id) FROM photos p JOIN dataset_members m ON m.photo_id = p.external_id "
            "AND (m.owner_id IS NULL OR p.owner_id IS NULL OR m.owner_id = p.owner_id) "
            f"WHERE m.dataset_id IN ({ids})")).scalar_one())  # fmt: skip


def test_every_headline_number_equals_an_independent_count(sample: Sample) -> None:
    document = build_report(sample.ledger, sample.settings, vault=sample.vault)
    expected = independent_headline(sample.ledger, sample.settings.purpose)
    assert set(document["headline"]) == set(expected), "a headline figure has no independent check"
    assert document["headline"] == expected
    # the sample's story: only the consenting Seattle owner's faces are allowed and measured
    head = document["headline"]
    assert head["faces_allowed"] == head["faces_measured"] == head["faces_covered_by_consent"] > 0
    assert head["faces_blocked"] > 0 and head["bipa_faces_at_risk"] > 0


def test_sections_add_up_and_reuse_the_services(sample: Sample) -> None:
    doc = build_report(sample.ledger, sample.settings, vault=sample.vault)
    head = doc["headline"]
    assert sum(doc["collection"]["faces_per_photo"].values()) == head["photos_scanned"]
    assert sum(doc["collection"]["licences"].values()) == head["photos"]
    for law in doc["jurisdictions"]["laws"].values():
        assert sum(law["faces"].values()) == head["faces_assessed"]
    points = doc["jurisdictions"]["map"]["points"]
    assert (
        sum(p["faces"] for p in points) + doc["jurisdictions"]["map"]["faces_without_geotag"]
        == head["faces_assessed"]
    )
    assert {"measured": head["faces_measured"], **doc["diversity"]["not_measured"]}
    assert head["faces_measured"] + sum(doc["diversity"]["not_measured"].values()) == head["faces"]
    assert sum(doc["diversity"]["skin_band"].values()) == head["faces_measured"]
    service = ledger_exposure(
        sample.ledger, purpose=sample.settings.purpose, policies=load_policies()
    )
    assert [(r["law"], r["faces"], r["subjects"]) for r in doc["exposure"]["laws"]] == [
        (r["law"], r["faces"], r["subjects"]) for r in service["laws"]
    ]
    bipa = next(r for r in doc["exposure"]["laws"] if r["law"] == "us-il-bipa")
    assert {r["unit"] for r in bipa["regimes"]} == {"scan", "person"}  # per scan vs per person


def test_measures_are_read_with_one_audit_event_and_only_aggregates_leave(
    sample_copy: Sample,
) -> None:
    ledger = sample_copy.ledger
    reads = "SELECT count(*) FROM audit_events WHERE name = 'template.read'"
    before = _one(ledger, reads)
    doc = report_numbers(
        ledger,
        purpose=sample_copy.settings.purpose,
        vault=sample_copy.vault(),
        policies=load_policies(),
    )
    assert _one(ledger, reads) == before + 1
    text_ = json.dumps(doc)
    assert 'ita_deg": -' not in text_ and 'landmarks": [[' not in text_  # no per-face values
    assert CONSENTING_OWNER not in text_  # no owner ids either


def test_without_a_vault_the_distributions_say_what_they_do_not_cover(sample: Sample) -> None:
    doc = report_numbers(
        sample.ledger, purpose=sample.settings.purpose, vault=None, policies=load_policies()
    )
    diversity = doc["diversity"]
    assert diversity["measured"] == 0
    assert diversity["not_measured"]["no key vault given: the stored measures were not read"] == \
        diversity["faces_with_templates"] > 0  # fmt: skip


def test_requests_are_counted_from_the_request_table_overdue_first(
    ledger: Ledger, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Real requests filed through the request service, on both backends: empty says so; a
    rejected one is closed; an open one past its deadline is overdue and listed first."""
    from tests.report.conftest import sample_settings

    settings = sample_settings(tmp_path)
    lifecycle = lifecycle_numbers(
        ledger, purpose=settings.purpose, action="extract-template", today=TODAY
    )
    assert (
        lifecycle["requests"]["note"] == "no requests recorded"
        and not lifecycle["requests"]["recorded"]
    )
    assert lifecycle["releases"] == {"recorded": False, "releases": 0, "versions": 0, "consumers": 0,
                                     "note": "no releases recorded"}  # fmt: skip
    now = datetime.now(UTC)
    recent = new_request(
        ledger, settings, kind="erasure", key_type="owner", value="alice@N01", received=now
    )
    late = new_request(ledger, settings, kind="optout", key_type="owner", value="bob@N02",
                       received=now - timedelta(days=400))  # fmt: skip
    gone = new_request(ledger, settings, kind="erasure", key_type="owner", value="carol@N03",
                       received=now - timedelta(days=400))  # fmt: skip
    reject_request(ledger, gone.id, reason="not the account holder")
    found = lifecycle_numbers(
        ledger, purpose=settings.purpose, action="extract-template", today=TODAY
    )["requests"]
    assert (found["recorded"], found["total"], found["open"], found["overdue"]) == (True, 3, 2, 1)
    assert found["by_status"] == {"received": 2, "rejected": 1}
    assert [i["id"] for i in found["open_items"]] == [late.id, recent.id]  # overdue first
    assert found["open_items"][0] == {"id": late.id, "kind": "optout", "status": "received",
                                      "due": late.deadline.isoformat(), "overdue": True}  # fmt: skip
    # the same rule as the request service's own record
    assert [i["overdue"] for i in found["open_items"]] == [
        late.is_overdue(TODAY),
        recent.is_overdue(TODAY),
    ]
    head = build_report(ledger, settings, vault=None)["headline"]
    assert (head["requests_open"], head["requests_overdue"]) == (2, 1)


def test_report_numbers_match_on_both_backends(ledger: Ledger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.report.conftest import sample_settings

    settings = sample_settings(tmp_path)
    build_sample(ledger, settings, extract=False)
    document = build_report(ledger, settings, vault=None)
    assert document["headline"] == independent_headline(ledger, settings.purpose)
    assert document["requests"]["open"] == 0 and document["audit"]["chain"]["ok"]
