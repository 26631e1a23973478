"""The template index (issue 15.2): its rows follow extract, erasure, quarantine and rebuild
in the same transaction, on both backends, and a process whose index is already warm drops
an erased person before its next answer, and a person whose key was shredded anywhere.

Templates are stored through the real gate (``store_face_templates`` under an allowing
decision) with synthetic 128-D vectors: 6 people x 4 faces, each person's faces close
together, people far apart (no model needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from faceledger.config import Settings, load_settings
from faceledger.services.biometrics.template_index import (
    LiveIndex,
    index_status,
    rebuild_index,
    shared_index,
)
from faceledger.services.biometrics.templates import (
    EMBEDDING,
    create_subject,
    destroy_templates,
    quarantine_template,
    shred_keys,
    store_face_templates,
)
from faceledger.store import Ledger
from faceledger.store.schema import (
    AuditEvent,
    Face,
    FaceDecision,
    FaceSubject,
    Photo,
    ScanRun,
    Source,
    Subject,
    Template,
    TemplateIndexEntry,
)
from faceledger.store.template_index import check, read_state
from faceledger.store.vault import KeyVault
from faceledger.vision.dlib_models import ModelInfo

MODEL = ModelInfo("dlib-resnet-v1", "test-version")
PEOPLE, FACES_EACH = 6, 4
T, E = Template.__table__, TemplateIndexEntry.__table__


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(workers=1, processor_location="US-FL", data_dir=tmp_path / "data")


def _vectors() -> dict[int, np.ndarray]:
    """person -> FACES_EACH x 128: a dlib-like mean, a person offset, a little spread."""
    rng = np.random.default_rng(3)
    mean = rng.standard_normal(128).astype(np.float32)
    mean *= 1.3 / np.linalg.norm(mean)
    out = {}
    for person in range(PEOPLE):
        centre = mean + rng.standard_normal(128).astype(np.float32) * 0.06
        out[person] = (
            centre + rng.standard_normal((FACES_EACH, 128)).astype(np.float32) * 0.015
        ).astype(np.float32)
    return out


def _seed(ledger: Ledger, vault: KeyVault) -> dict[int, dict[str, Any]]:
    """Photos, faces, allowing decisions and stored templates; person -> subject, faces, vectors."""
    now = datetime.now(UTC)
    people: dict[int, dict[str, Any]] = {}
    with ledger.begin() as conn:
        source = conn.execute(Source.__table__.insert().values(
            uri="synthetic://index", kind="manifest", format="csv", name="index", created_at=now,
            rows_seen=0, rows_added=0, rows_rejected=0).returning(Source.__table__.c.id)).scalar_one()  # fmt: skip
        run = conn.execute(ScanRun.__table__.insert().values(
            started_at=now, status="done", detector_name="test", detector_version="1", threshold=0.5,
            workers=1, photos_done=0, photos_failed=0, faces_found=0).returning(ScanRun.__table__.c.id)).scalar_one()  # fmt: skip
        for person, vectors in _vectors().items():
            subject = create_subject(conn, model_version=MODEL.version)
            faces = []
            for n, vector in enumerate(vectors):
                photo = conn.execute(Photo.__table__.insert().values(
                    source_id=source, source_key=f"p{person}-{n}", external_id=f"p{person}-{n}",
                    scan_status="done", created_at=now).returning(Photo.__table__.c.id)).scalar_one()  # fmt: skip
                face = conn.execute(Face.__table__.insert().values(
                    photo_id=photo, face_index=0, x1=0, y1=0, x2=10, y2=10, score=0.9, landmarks=[],
                    face_size=10, detector_name="test", detector_version="1", scan_run_id=run,
                    created_at=now).returning(Face.__table__.c.id)).scalar_one()  # fmt: skip
                decision = conn.execute(FaceDecision.__table__.insert().values(
                    face_id=face, purpose="test", action="extract-template", decision="allow",
                    assessed_at=now).returning(FaceDecision.__table__.c.id)).scalar_one()  # fmt: skip
                store_face_templates(conn, vault, face_id=int(face), subject=subject, decision_id=int(decision),
                                     payloads={EMBEDDING: (MODEL, vector.tobytes())}, distance=None, actor="test")  # fmt: skip
                faces.append(int(face))
            people[person] = {
                "subject": subject.id,
                "key_ref": subject.key_ref,
                "faces": faces,
                "vectors": vectors,
            }
    return people


@pytest.fixture
def seeded(
    ledger: Ledger, settings: Settings
) -> tuple[Ledger, KeyVault, dict[int, dict[str, Any]]]:
    vault = KeyVault.open(settings)
    return ledger, vault, _seed(ledger, vault)


def _erase(ledger: Ledger, vault: KeyVault, person: dict[str, Any]) -> None:
    """What an erasure request does to the templates: destroy, shred, one transaction."""
    with ledger.begin() as conn:
        done = destroy_templates(conn, face_ids=person["faces"], reason="erasure", actor="test",
                                 shred_subjects=[person["subject"]])  # fmt: skip
        shred_keys(vault, done.key_refs)


def _found(index: LiveIndex, query: np.ndarray) -> set[int]:
    return {
        m.face_id for m in index.search(query, k=10, max_distance=0.6, actor="test", reason="test")
    }


def test_extract_writes_an_index_entry_per_embedding_in_its_transaction(seeded: Any) -> None:
    ledger, vault, people = seeded
    with ledger.read() as conn:
        assert check(conn).consistent
        entries = conn.execute(select(E.c.face_id, E.c.removed)).all()
        state = read_state(conn, MODEL.version)
    assert sorted(f for f, _ in entries) == sorted(f for p in people.values() for f in p["faces"])
    assert not any(removed for _, removed in entries)
    assert state is not None and state.generation == PEOPLE * FACES_EACH  # one per stored template
    index = shared_index(ledger, vault, model_version=MODEL.version)
    assert _found(index, people[2]["vectors"][0]) == set(people[2]["faces"])  # only that person
    assert len(index) == PEOPLE * FACES_EACH


def test_a_failed_extract_transaction_leaves_no_entry(seeded: Any) -> None:
    ledger, vault, people = seeded
    with ledger.read() as conn:
        before = read_state(conn, MODEL.version)
        face = people[0]["faces"][0]
        decision = conn.execute(
            select(FaceDecision.id).where(FaceDecision.face_id == face)
        ).scalar_one()
    with pytest.raises(RuntimeError), ledger.begin() as conn:
        conn.execute(T.delete().where(T.c.face_id == face))
        conn.execute(E.delete().where(E.c.face_id == face))
        conn.execute(FaceSubject.__table__.delete().where(FaceSubject.__table__.c.face_id == face))
        subject = create_subject(conn, model_version=MODEL.version)
        store_face_templates(conn, vault, face_id=face, subject=subject, decision_id=int(decision),
                             payloads={EMBEDDING: (MODEL, people[0]["vectors"][0].tobytes())}, distance=None, actor="t")  # fmt: skip
        raise RuntimeError("the commit never happens")
    with ledger.read() as conn:
        assert read_state(conn, MODEL.version) == before
        assert check(conn).consistent


def test_erasure_tombstones_entries_and_a_warm_index_in_this_process_drops_the_person(
    seeded: Any,
) -> None:
    ledger, vault, people = seeded
    index = shared_index(ledger, vault, model_version=MODEL.version)
    assert _found(index, people[1]["vectors"][0]) == set(people[1]["faces"])  # warm
    _erase(ledger, vault, people[1])
    assert people[1]["subject"] not in index.subjects()  # dropped at once, before any search
    with ledger.read() as conn:
        assert check(conn).consistent
        removed = conn.execute(select(E.c.face_id).where(E.c.removed.is_(True))).scalars().all()
    assert sorted(removed) == sorted(people[1]["faces"])
    assert _found(index, people[1]["vectors"][0]) == set()
    assert _found(index, people[3]["vectors"][0]) == set(people[3]["faces"])  # others untouched


def test_a_warm_index_applies_changes_made_elsewhere_without_a_full_rebuild(seeded: Any) -> None:
    """Another handle on the same ledger stands for another process's writes."""
    ledger, vault, people = seeded
    mine = LiveIndex(ledger, vault, MODEL.version)
    assert mine.refresh().mode == "rebuild"
    assert mine.refresh().mode == "current"
    _erase(ledger, vault, people[4])  # the registry's copy is not ``mine``: nothing pushed to it
    assert people[4]["subject"] in mine.subjects()
    done = mine.refresh()
    assert (done.mode, done.removed) == ("update", FACES_EACH)
    assert people[4]["subject"] not in mine.subjects()
    with ledger.read() as conn:  # quarantine: a corrupt template is never searched again
        template = conn.execute(
            select(T.c.id).where(T.c.face_id == people[5]["faces"][0], T.c.kind == EMBEDDING)
        ).scalar_one()
    with ledger.begin() as conn:
        quarantine_template(conn, int(template), kind=EMBEDDING, actor="test")
    assert mine.refresh().removed == 1 and people[5]["faces"][0] not in mine.faces()


def test_rebuild_repairs_a_damaged_index_and_every_warm_copy_rebuilds(seeded: Any) -> None:
    ledger, vault, people = seeded
    warm = LiveIndex(ledger, vault, MODEL.version)
    warm.refresh()
    with ledger.begin() as conn:  # damage: one entry lost, one stale (its subject inactive)
        conn.execute(E.delete().where(E.c.face_id == people[0]["faces"][0]))
        conn.execute(
            update(Subject.__table__)
            .where(Subject.__table__.c.id == people[2]["subject"])
            .values(status="shredded")
        )
    status = index_status(ledger)
    assert not status["consistent"] and (status["missing"], status["stale"]) == (1, FACES_EACH)
    before = rebuild_index(ledger, actor="test")
    assert (len(before.missing), len(before.stale)) == (1, FACES_EACH)
    assert index_status(ledger)["consistent"]
    assert warm.refresh().mode == "rebuild"  # new epoch
    assert people[2]["subject"] not in warm.subjects() and people[0]["faces"][0] in warm.faces()
    with ledger.read() as conn:
        names = conn.execute(select(AuditEvent.name).order_by(AuditEvent.id)).scalars().all()
    assert "index.rebuild" in names


def test_a_key_shredded_outside_faceledger_drops_the_person_from_a_warm_index(
    seeded: Any, tmp_path: Path
) -> None:
    """A vault-only shred (the ledger still says active: e.g. a restored ledger backup)."""
    ledger, vault, people = seeded
    warm = LiveIndex(ledger, vault, MODEL.version)
    warm.refresh()
    assert vault.shred(people[0]["key_ref"])
    done = warm.refresh()
    assert done.mode == "shred-check" and done.removed == FACES_EACH
    assert _found(warm, people[0]["vectors"][0]) == set()


_WARM_PROCESS = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from faceledger.store import open_ledger
    from faceledger.store.vault import KeyVault, load_master_key
    from faceledger.services.biometrics.template_index import shared_index
    url, data, version = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    ledger = open_ledger(url)
    index = shared_index(ledger, KeyVault(data / "keyvault.db", load_master_key(data)), model_version=version)
    for line in sys.stdin:
        query = np.array(json.loads(line), dtype=np.float32)
        hits = index.search(query, k=10, max_distance=0.6, actor="other", reason="test")
        print(json.dumps({"faces": sorted(m.face_id for m in hits), "subjects": sorted(index.subjects()),
                          "size": len(index)}), flush=True)
""")


def test_an_erased_person_is_not_found_by_another_process_whose_index_was_already_warm(
    seeded: Any, settings: Settings, ledger_url: str
) -> None:  # fmt: skip
    ledger, vault, people = seeded
    other = subprocess.Popen(
        [sys.executable, "-c", _WARM_PROCESS, ledger_url, str(settings.data_dir), MODEL.version],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert other.stdin is not None and other.stdout is not None

    def ask(vector: np.ndarray) -> dict[str, Any]:
        other.stdin.write(json.dumps(vector.tolist()) + "\n")  # type: ignore[union-attr]
        other.stdin.flush()  # type: ignore[union-attr]
        return json.loads(other.stdout.readline())  # type: ignore[union-attr,no-any-return]

    try:
        warm = ask(people[3]["vectors"][1])
        assert warm["faces"] == sorted(people[3]["faces"]) and warm["size"] == PEOPLE * FACES_EACH
        _erase(ledger, vault, people[3])
        after = ask(people[3]["vectors"][1])
        assert after["faces"] == []
        assert people[3]["subject"] not in after["subjects"]  # not held in that process's memory
        assert after["size"] == (PEOPLE - 1) * FACES_EACH
        assert ask(people[0]["vectors"][0])["faces"] == sorted(people[0]["faces"])
    finally:
        other.stdin.close()
        other.wait(timeout=60)
        other.stdout.close()
