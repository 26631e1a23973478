"""Issue 13 figures of the report, on both backends, against raw SQL: "faces due for
destruction" counts only faces that hold templates (a template without a legal clock gets the
organisation's retention limit, or a warning), and the ledger photos that a published dataset
with sensitive labels also lists."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update
from tests.report.conftest import build_sample, sample_settings
from tests.report.test_report_numbers import independent_headline, independent_sensitive_photos

from faceledger.core.law import load_policies
from faceledger.services.decisions.datasets import import_dataset
from faceledger.services.oversight.report import build_report
from faceledger.services.oversight.report_numbers import report_numbers
from faceledger.store import Ledger
from faceledger.store.schema import FaceDecision, Subject, Template

TODAY = date(2026, 6, 1)
STORED = datetime(2026, 1, 10, tzinfo=UTC)
LEGAL = date(2026, 3, 1)  # before TODAY: overdue
PURPOSE = "train-face-recognition"


@pytest.fixture
def built(ledger: Ledger, tmp_path: Path) -> Ledger:
    build_sample(ledger, sample_settings(tmp_path), extract=False)
    return ledger


def _hold_templates(ledger: Ledger) -> list[int]:
    """Store a (dummy) template for every allowed face, under its decision, as extraction
    would; the first face's decision gets a legal deadline, the others have none (MHMDA)."""
    D = FaceDecision.__table__
    with ledger.begin() as conn:
        allowed = conn.execute(select(D.c.id, D.c.face_id).where(D.c.decision == "allow", D.c.purpose == PURPOSE)
                               .order_by(D.c.face_id)).all()  # fmt: skip
        assert len(allowed) >= 2, "the sample allows the consenting owner's two faces"
        for n, (decision_id, face_id) in enumerate(allowed):
            subject = conn.execute(insert(Subject.__table__).values(
                key_ref=f"k{n}", model_version="test", status="active", created_at=STORED,
            ).returning(Subject.__table__.c.id)).scalar_one()  # fmt: skip
            conn.execute(insert(Template.__table__).values(
                face_id=face_id, subject_id=subject, kind="embedding", model_name="test", model_version="test",
                purpose=PURPOSE, decision_id=decision_id, ciphertext=b"x", created_at=STORED))  # fmt: skip
        conn.execute(update(D).where(D.c.id == allowed[0].id).values(destroy_by=LEGAL))
    return [int(face_id) for _, face_id in allowed]


def _scalar(ledger: Ledger, sql: str) -> int:
    with ledger.read() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_only_faces_holding_templates_are_due_and_no_clock_is_a_warning_until_a_limit_is_set(
    built: Ledger,
) -> None:
    faces = _hold_templates(built)
    held = _scalar(built, "SELECT count(DISTINCT t.face_id) FROM templates t JOIN subjects s "
                          "ON s.id = t.subject_id WHERE s.status = 'active'")  # fmt: skip
    unheld_with_deadline = _scalar(built, "SELECT count(*) FROM face_decisions WHERE destroy_by IS NOT NULL "
                                          "AND face_id NOT IN (SELECT face_id FROM templates)")  # fmt: skip
    assert (
        held == len(faces) and unheld_with_deadline > 0
    )  # blocked faces with a legal clock hold nothing

    r = report_numbers(built, purpose=PURPOSE, vault=None, today=TODAY, policies=load_policies())[
        "retention"
    ]
    assert sum(r["faces_due_by_month"].values()) == r["held_faces"] == held
    assert r["faces_due_by_month"] == {"2026-03": 1, "no deadline": held - 1}
    assert r["deadline_source"] == {"law": 1, "organisation limit": 0, "none": held - 1}
    assert r["templates_without_deadline"] == held - 1 and r["templates_overdue"] == 1
    assert r["warnings"] and "retention_limit_days" in r["warnings"][0]

    r = report_numbers(
        built,
        purpose=PURPOSE,
        vault=None,
        today=TODAY,
        retention_limit_days=365,
        policies=load_policies(),
    )["retention"]
    assert r["faces_due_by_month"] == {
        "2026-03": 1,
        "2027-01": held - 1,
    }  # stored 2026-01-10 + 365 days
    assert r["deadline_source"] == {"law": 1, "organisation limit": held - 1, "none": 0}
    assert (
        r["warnings"] == []
        and r["templates_without_deadline"] == 0
        and r["retention_limit_days"] == 365
    )


def test_the_retention_limit_setting_reaches_the_report(built: Ledger, tmp_path: Path) -> None:
    _hold_templates(built)
    settings = sample_settings(tmp_path).model_copy(update={"retention_limit_days": 30})
    document = build_report(built, settings, vault=None, today=TODAY)
    assert document["retention"]["retention_limit_days"] == 30
    assert document["headline"]["templates_without_deadline"] == 0
    assert (
        document["retention"]["faces_due_by_month"].get("2026-02", 0) >= 1
    )  # 2026-01-10 + 30 days


def test_photos_in_a_dataset_with_sensitive_labels_match_an_independent_count(
    built: Ledger, tmp_path: Path
) -> None:
    with built.read() as conn:
        flickr = conn.execute(text("SELECT external_id, owner_id FROM photos WHERE external_id NOT LIKE 'ex-%' "
                                   "ORDER BY id LIMIT 4")).all()  # fmt: skip
    (a, oa), (b, ob), (c, _oc), (d, od) = flickr
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(
        "owner_id,photo_id,face_index,ethnic_group,gender\n"
        f"{oa},{a},0,Group1,Female\n{ob},{b},,Group3,\n"
        f"99999@N99,{c},0,Group2,Male\n"
    )  # fmt: skip  (c: another owner's photo id)
    plain = tmp_path / "plain.csv"
    plain.write_text(f"owner_id,photo_id,labels\n{ob},{b},gender\n{od},{d},\n")
    import_dataset(built, "Labelled", [labelled])
    import_dataset(built, "Plain", [plain])
    document = build_report(built, sample_settings(tmp_path), vault=None)
    datasets = document["datasets"]
    assert (
        datasets["photos_in_sensitive_datasets"] == independent_sensitive_photos(built) == 2
    )  # a, b; not c
    assert datasets["photos_in_datasets"] == 3  # a, b, d
    assert datasets["by_dataset"]["Labelled"] == {
        "photos": 2,
        "labels": ["ethnic-group", "gender"],
        "sensitive": True,
    }
    assert datasets["by_dataset"]["Plain"]["sensitive"] is False
    assert document["headline"] == independent_headline(built, PURPOSE)
