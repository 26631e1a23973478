"""Assess in bulk: cached, batched decisions equal one-face-at-a-time decisions, and a photo
that a dataset labels by ethnic group is decided as special-category data (both backends)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text, update

from faceledger.config import load_settings
from faceledger.core.law import Processor, evaluate, load_policies
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.decisions.assess import (
    Assessor,
    assess_face_ids,
    assess_faces,
    face_scenario,
)
from faceledger.services.decisions.datasets import import_dataset
from faceledger.services.decisions.explain import explain_face
from faceledger.services.decisions.policy import parse_scenario
from faceledger.store import Ledger
from faceledger.store.db import _alembic_config, create_ledger_engine
from faceledger.store.ledger import utcnow
from faceledger.store.schema import Face, FaceDecision, Photo, ScanRun
from faceledger.store.tables import OUTCOMES, decision_records

REPO = Path(__file__).resolve().parents[2]
YFCC = REPO.parent / "shared" / "data" / "yfcc100m_sample" / "yfcc100m_rows_0000-0499.tsv"
FACES, PHOTOS, DECISIONS = Face.__table__, Photo.__table__, FaceDecision.__table__
FRT, ON = "train-face-recognition", date(2025, 9, 1)
POLICIES = load_policies()


def _fake_faces(ledger: Ledger, per_photo: dict[str, int]) -> None:
    """One fake face per photo (more where ``per_photo`` says), as a scan would record."""
    now = utcnow()
    with ledger.begin() as conn:
        run_id = conn.execute(
            ScanRun.__table__.insert()
            .values(started_at=now, status="done", detector_name="fake", detector_version="0",
                    threshold=0.4, workers=1, photos_done=0, photos_failed=0, faces_found=0)
            .returning(ScanRun.__table__.c.id)
        ).scalar_one()  # fmt: skip
        photos = conn.execute(select(PHOTOS.c.id, PHOTOS.c.external_id)).all()
        conn.execute(FACES.insert(), [
            {"photo_id": photo_id, "face_index": i, "x1": 10.0 * i, "y1": 0.0,
             "x2": 10.0 * i + 50, "y2": 50.0, "score": 0.9, "landmarks": [[1.0, 2.0]] * 5,
             "face_size": 50.0, "quality": None, "detector_name": "fake",
             "detector_version": "0", "scan_run_id": run_id, "created_at": now}
            for photo_id, external_id in photos for i in range(per_photo.get(external_id, 1))
        ])  # fmt: skip
        conn.execute(update(PHOTOS).values(scan_status="done"))


@pytest.fixture
def varied(ledger: Ledger, publish_schedule: Any, tmp_path: Path) -> Ledger:
    """500 real YFCC rows (81 geotagged, many owners) plus the examples (several faces to a
    photo, owner-location text, IL/DE/WA geotags), one TDM reservation and a dataset that
    labels two YFCC photos by ethnic group."""
    manifest = tmp_path / "yfcc100m_dataset.tsv"
    shutil.copy(YFCC, manifest)
    ingest_paths(ledger, [manifest, REPO / "examples"])
    _fake_faces(ledger, {"ex-0001": 3, "ex-0006": 2})
    publish_schedule(ledger, "2008-10-03")
    with ledger.begin() as conn:
        conn.execute(update(PHOTOS).where(PHOTOS.c.external_id == "ex-0006")
                     .values(reservation="tdm-reservation: test"))  # fmt: skip
    return ledger


def _listed(ledger: Ledger, tmp_path: Path, count: int = 2) -> list[Any]:
    """Import a dataset listing ``count`` YFCC photos with gender and ethnic-group labels."""
    with ledger.read() as conn:
        photos = conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.external_id, PHOTOS.c.owner_id)
            .where(PHOTOS.c.latitude.is_(None), PHOTOS.c.external_id.not_like("ex-%"))
            .order_by(PHOTOS.c.id).limit(count)
        ).all()  # fmt: skip
    listing = tmp_path / "labelled.csv"
    listing.write_text("owner_id,photo_id,labels\n" + "".join(
        f"{p.owner_id},{p.external_id},gender;ethnic-group\n" for p in photos))  # fmt: skip
    import_dataset(ledger, "LabelledFaces", [listing], citation="test list", licence="research")
    return list(photos)


EVIDENCE_COLUMNS = (PHOTOS.c.latitude, PHOTOS.c.longitude, PHOTOS.c.geo_accuracy,
                    PHOTOS.c.owner_location)  # fmt: skip


def _without_detail(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the free-text ``detail`` of the subject's evidence blanked, as a case
    stores it (the processor's own evidence is the same for every face and kept)."""

    def bare(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item if item["kind"] == "processing" else {**item, "detail": ""} for item in items]

    return {**result,
            "jurisdictions": [{**j, "evidence": bare(j["evidence"])} for j in result["jurisdictions"]],
            "unresolved_evidence": bare(result["unresolved_evidence"])}  # fmt: skip


def _stored(ledger: Ledger, purpose: str = FRT) -> list[Any]:
    with ledger.read() as conn:
        return list(conn.execute(
            decision_records().add_columns(FACES.c.photo_id, *EVIDENCE_COLUMNS)
            .join(FACES, FACES.c.id == DECISIONS.c.face_id)
            .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(DECISIONS.c.purpose == purpose).order_by(DECISIONS.c.face_id)
        ).all())  # fmt: skip


def test_bulk_decisions_equal_per_face_decisions_on_a_varied_ledger(
    varied: Ledger, tmp_path: Path
) -> None:
    flickr = {p.external_id for p in _listed(varied, tmp_path)}
    with varied.read() as conn:  # examples/ holds some of the same YFCC rows: all are listed
        listed = set(
            conn.execute(select(PHOTOS.c.id).where(PHOTOS.c.external_id.in_(flickr))).scalars()
        )
    assert len(listed) >= 2
    settings = load_settings(processor_location="US-WA")
    report = assess_faces(varied, settings, on=ON, page_size=97)  # pages cut across photos
    rows = _stored(varied)
    assert report.faces == len(rows) > 500
    assert report.by_decision == {d: sum(r.decision == d for r in rows) for d in report.by_decision}
    # every stored outcome replays exactly from its own scenario document, and it is what the
    # engine decides for that face alone, replayed from the face's own raw clues (resolved again
    # through geo, no cache involved), but for the clues' free text, which the case blanks
    for row in rows:
        assert evaluate(parse_scenario(row.scenario), POLICIES).to_dict() == row.result
        alone = evaluate(parse_scenario(face_scenario(row.scenario, row)), POLICIES)
        assert row.result == _without_detail(alone.to_dict()), row.face_id
        assert row.decision == alone.decision and row.destroy_by == alone.destroy_by
        assert row.policy_versions == {law.id: law.version for law in alone.laws}
        assert (row.scenario["sensitive_labels"] == ["ethnic-group"]) == (row.photo_id in listed)
        assert row.scenario["tdm_reserved"] == (row.photo_id == _photo(varied, "ex-0006"))
    # the same faces decided one at a time (page of one, no shared case) store the same rows
    ids = [r.face_id for r in rows[::37]]
    with varied.begin() as conn:
        assess_face_ids(varied, ids, purpose=FRT, processor=Processor(location="US-WA"), on=ON,
                        policies=POLICIES, conn=conn, page_size=1)  # fmt: skip
    again = {r.face_id: r for r in _stored(varied)}
    for row in rows[::37]:
        assert (again[row.face_id].scenario, again[row.face_id].result) == (
            row.scenario,
            row.result,
        )
    assert len(again) == len(rows)  # replaced, never duplicated


def _external(ledger: Ledger, photo_id: int) -> str:
    with ledger.read() as conn:
        return str(
            conn.execute(select(PHOTOS.c.external_id).where(PHOTOS.c.id == photo_id)).scalar_one()
        )


def _photo(ledger: Ledger, external_id: str) -> int:
    with ledger.read() as conn:
        return int(
            conn.execute(
                select(PHOTOS.c.id).where(PHOTOS.c.external_id == external_id)
            ).scalar_one()
        )


def test_a_face_in_an_ethnic_group_labelled_dataset_gets_the_art9_block_and_explain_says_why(
    varied: Ledger, tmp_path: Path
) -> None:
    settings = load_settings(processor_location="US-WA")
    assess_faces(varied, settings, purpose="fairness-audit", action="retain", on=ON)
    before = {r.photo_id: r for r in _stored(varied, "fairness-audit")}
    photo = _listed(varied, tmp_path, count=1)[0]
    assess_faces(varied, settings, purpose="fairness-audit", action="retain", on=ON)
    after = {r.photo_id: r for r in _stored(varied, "fairness-audit")}

    def gdpr(row: Any) -> dict[str, Any]:
        return next(law for law in row.result["laws"] if law["id"] == "eu-gdpr")

    assert "Art. 9(1)" not in [v["section"] for v in gdpr(before[photo.id])["violations"]]
    assert after[photo.id].decision == "block"
    (art9,) = [v for v in gdpr(after[photo.id])["violations"] if v["section"] == "Art. 9(1)"]
    assert "racial or ethnic origin" in art9["citation"] and "ethnic-group" in art9["reason"]
    others = [p for p in after if _external(varied, p) != photo.external_id]
    assert all(after[p].result == before[p].result for p in others)  # nobody else changes
    face_id = after[photo.id].face_id
    shown = explain_face(
        varied, face_id=face_id, purpose="fairness-audit", action="retain", policies=load_policies()
    )
    assert shown["sensitive_data"]["labels"] == ["ethnic-group"]
    assert [d["name"] for d in shown["sensitive_data"]["datasets"]] == ["LabelledFaces"]
    assert "Art. 9(1)" in shown["prose"] and not shown["changed"]


def test_the_assessor_builds_one_case_per_distinct_inputs(varied: Ledger) -> None:
    assessor = Assessor(POLICIES, purpose=FRT, action="extract-template", on=ON,
                        processor=Processor(location="US-WA"))  # fmt: skip
    with varied.read() as conn:
        photos = conn.execute(select(PHOTOS).where(PHOTOS.c.latitude.is_(None))).all()
    cases = {id(assessor.case(p)) for p in photos}
    assert len(photos) > 400 and len(cases) < 10  # same day, no clues, no consent: one case


# --- decided cases stored once (decision_outcomes, migration 0018) ----------------------------


def _documents(ledger: Ledger) -> dict[int, tuple[Any, ...]]:
    """face id -> (decision, scenario, result, policy versions) as recorded."""
    with ledger.read() as conn:
        rows = conn.execute(decision_records().where(DECISIONS.c.purpose == FRT)).all()
    return {r.face_id: (r.decision, r.scenario, r.result, r.policy_versions) for r in rows}


def _outcome_ids(ledger: Ledger) -> tuple[set[int], set[int]]:
    """(ids of every stored outcome, ids the decisions name)."""
    with ledger.read() as conn:
        stored = set(conn.execute(select(OUTCOMES.c.id)).scalars())
        named = set(conn.execute(select(DECISIONS.c.outcome_id).distinct()).scalars())
    return stored, named


def test_each_decided_case_is_stored_once_and_dropped_when_no_face_names_it(
    varied: Ledger,
) -> None:
    settings = load_settings(processor_location="US-WA")
    report = assess_faces(varied, settings, on=ON)
    first = _documents(varied)
    stored, named = _outcome_ids(varied)
    assert stored == named and 1 < len(stored) < report.faces / 5  # 555 faces, 56 cases
    distinct = {json.dumps(doc[1:], sort_keys=True) for doc in first.values()}
    assert len(distinct) == len(stored)  # one row per distinct case, never two
    assess_faces(varied, settings, on=ON)  # the same run again: the same outcomes, reused
    assert _outcome_ids(varied) == (stored, named) and _documents(varied) == first
    assess_faces(varied, settings, on=date(2025, 10, 1))  # another date: every case is new
    again, named_again = _outcome_ids(varied)
    assert again == named_again and not again & stored  # the old ones are gone, none orphaned
    # a targeted re-decision (as a consent change makes) drops the cases it superseded too
    with varied.read() as conn:
        every = list(conn.execute(select(DECISIONS.c.face_id)).scalars())
    assess_face_ids(varied, every, purpose=FRT, processor=Processor(location="US-IL"),
                    on=date(2025, 10, 1), policies=POLICIES)  # fmt: skip
    last, named_last = _outcome_ids(varied)
    assert last == named_last and not last & again


def test_the_migration_moves_each_decision_s_documents_into_shared_outcomes(
    varied: Ledger, ledger_url: str
) -> None:
    assess_faces(varied, load_settings(processor_location="US-WA"), on=ON)
    before = _documents(varied)
    varied.dispose()
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.begin() as conn:
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0017")  # back to one copy of the documents per face
            copies = conn.execute(
                text("SELECT face_id, CAST(result AS TEXT) FROM face_decisions WHERE purpose = :p"),
                {"p": FRT},
            ).all()
            assert {int(f): json.loads(r) for f, r in copies} == {
                f: doc[2] for f, doc in before.items()
            }
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    assert _documents(varied) == before  # every decision keeps exactly its documents
    stored, named = _outcome_ids(varied)
    assert stored == named and len(stored) == len(
        {json.dumps(doc[1:], sort_keys=True) for doc in before.values()}
    )
