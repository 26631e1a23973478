"""Benchmark: executing one erasure request with 1 M faces in the ledger and the index.

Run by hand (`.venv/bin/python bench/erase.py [--faces 1000000] [--database-url URL]`).
Rows are synthesised with bulk inserts (no detector): photos with one face each, an allowing
decision per face, and an encrypted 128-D embedding per face under one of ``--subjects``
subjects' keys. The person erased owns ``--person-photos`` photos, and their subject is
linked to their owner id; they are also in a release of ``--release-faces`` faces that one
consumer received. Timed: ``execute_request`` for an owner-keyed erasure (tombstones,
templates destroyed with certificates, key shredded, a new release version cut, the
consumer's notice recorded), then, separately, rebuilding the index from the readable
templates and searching it for the person (they must be gone).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from faceledger.config import load_settings  # noqa: E402
from faceledger.services.biometrics.templates import EMBEDDING, _aad, create_subject, load_index  # noqa: E402
from faceledger.services.lifecycle.release_consumers import add_consumer  # noqa: E402
from faceledger.services.lifecycle.releases import create_release  # noqa: E402
from faceledger.services.lifecycle.requests import execute_request, new_request, verify_request  # noqa: E402
from faceledger.services.people.verification import IdentityEvidence  # noqa: E402
from faceledger.store import open_ledger  # noqa: E402
from faceledger.store.schema import (  # noqa: E402
    Face,
    FaceDecision,
    FaceSubject,
    Photo,
    ScanRun,
    Source,
    Subject,
    Template,
)
from faceledger.store.tables import OUTCOMES  # noqa: E402
from faceledger.store.vault import KeyVault  # noqa: E402

PURPOSE = "train-face-recognition"
RELEASE_PURPOSE = "bench-release"  # decided for the released faces only
MODEL = "bench-model"
PERSON = "person@N01"
CHUNK = 20_000


def synthesise(
    ledger, vault, *, faces: int, subjects: int, person_photos: int, release_faces: int
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    rng = np.random.default_rng(7)
    with ledger.begin() as conn:
        source = conn.execute(Source.__table__.insert().values(
            uri="bench://erase", kind="manifest", format="csv", name="bench", created_at=now,
            rows_seen=faces, rows_added=faces, rows_rejected=0).returning(Source.id)).scalar_one()  # fmt: skip
        run = conn.execute(ScanRun.__table__.insert().values(
            started_at=now, status="done", detector_name="bench", detector_version="0",
            threshold=0.4, workers=1, photos_done=faces, photos_failed=0, faces_found=faces,
        ).returning(ScanRun.id)).scalar_one()  # fmt: skip
        outcome = conn.execute(OUTCOMES.insert().values(  # one decided case for every face
            digest="bench-erase", scenario={}, result={}, policy_versions={},
        ).returning(OUTCOMES.c.id)).scalar_one()  # fmt: skip
        refs = [create_subject(conn, model_version=MODEL) for _ in range(subjects)]
        conn.execute(
            Subject.__table__.update().where(Subject.id == refs[0].id).values(owner_id=PERSON)
        )
    for start in range(1, faces + 1, CHUNK):
        ids = range(start, min(start + CHUNK, faces + 1))
        vectors = rng.standard_normal((len(ids), 128)).astype(np.float32)
        person = [i <= person_photos for i in ids]  # the person's photos come first
        owner = [
            PERSON if p else f"owner-{i % 50_000}@N01" for i, p in zip(ids, person, strict=True)
        ]
        subject = [
            refs[0] if p else refs[1 + i % (subjects - 1)] for i, p in zip(ids, person, strict=True)
        ]
        with ledger.begin() as conn:
            conn.execute(
                Photo.__table__.insert(),
                [
                    {
                        "id": i,
                        "source_id": source,
                        "source_key": str(i),
                        "external_id": str(i),
                        "owner_id": o,
                        "download_url": f"https://photos.example/{i}.jpg",
                        "latitude": 25.7617,
                        "longitude": -80.1918,
                        "geo_accuracy": 16,  # Miami
                        "scan_status": "done",
                        "created_at": now,
                    }
                    for i, o in zip(ids, owner, strict=True)
                ],
            )
            conn.execute(
                Face.__table__.insert(),
                [
                    {
                        "id": i,
                        "photo_id": i,
                        "face_index": 0,
                        "x1": 10.0,
                        "y1": 10.0,
                        "x2": 90.0,
                        "y2": 90.0,
                        "score": 0.9,
                        "landmarks": [],
                        "face_size": 80.0,
                        "detector_name": "bench",
                        "detector_version": "0",
                        "scan_run_id": run,
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                FaceDecision.__table__.insert(),
                [
                    {
                        "id": i,
                        "face_id": i,
                        "purpose": PURPOSE,
                        "action": "extract-template",
                        "decision": "allow",
                        "destroy_by": None,
                        "outcome_id": outcome,
                        "assessed_at": now,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                FaceSubject.__table__.insert(),
                [
                    {"face_id": i, "subject_id": s.id, "distance": None, "assigned_at": now}
                    for i, s in zip(ids, subject, strict=True)
                ],
            )
            conn.execute(
                Template.__table__.insert(),
                [
                    {
                        "face_id": i,
                        "subject_id": s.id,
                        "kind": EMBEDDING,
                        "model_name": "bench",
                        "model_version": MODEL,
                        "purpose": PURPOSE,
                        "decision_id": i,
                        "ciphertext": vault.encrypt(
                            s.key_ref, v.tobytes(), aad=_aad(i, EMBEDDING, MODEL)
                        ),
                        "created_at": now,
                    }
                    for i, s, v in zip(ids, subject, vectors, strict=True)
                ],
            )
        print(f"\r  {ids[-1]:,} faces", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    with ledger.begin() as conn:  # the released faces: allowed for the release's own purpose
        conn.execute(
            FaceDecision.__table__.insert(),
            [
                {
                    "face_id": i,
                    "purpose": RELEASE_PURPOSE,
                    "action": "extract-template",
                    "decision": "allow",
                    "destroy_by": None,
                    "outcome_id": outcome,
                    "assessed_at": now,
                }
                for i in range(1, release_faces + 1)
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=1_000)
    parser.add_argument("--person-photos", type=int, default=20)
    parser.add_argument("--release-faces", type=int, default=10_000)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument(
        "--skip-index", action="store_true", help="do not rebuild and search the index"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        settings = load_settings(database_url=url, data_dir=Path(tmp) / "data",
                                 processor_location="US-FL", workers=1)  # fmt: skip
        ledger, vault = open_ledger(url), KeyVault.open(settings)
        started = time.perf_counter()
        synthesise(ledger, vault, faces=args.faces, subjects=args.subjects,
                   person_photos=args.person_photos, release_faces=args.release_faces)  # fmt: skip
        print(f"synthesised {args.faces:,} faces in {time.perf_counter() - started:.1f} s")
        probe = None
        if not args.skip_index:
            with ledger.read() as conn:
                row = conn.execute(Template.__table__.select().where(Template.face_id == 1)).first()
                key_ref = (
                    conn.execute(Subject.__table__.select().where(Subject.owner_id == PERSON))
                    .first()
                    .key_ref
                )
            probe = np.frombuffer(
                vault.decrypt(key_ref, row.ciphertext, aad=_aad(1, EMBEDDING, MODEL)), np.float32
            )
        # The release is small on purpose: every face is re-decided for action "release".
        create_release(ledger, vault, settings, name="bench", purpose=RELEASE_PURPOSE)
        add_consumer(ledger, name="partner", ref="bench@v1")
        request = new_request(ledger, settings, kind="erasure", key_type="owner", value=PERSON)
        proof = IdentityEvidence(
            "owner-profile-code", True, {"owner_id": PERSON, "verifier": "bench"}, datetime.now(UTC)
        )
        verify_request(
            ledger, request.id, evidence=proof
        )  # an account erasure needs ownership proof

        started = time.perf_counter()
        done = execute_request(ledger, vault, settings, request.id)
        seconds = time.perf_counter() - started
        result = done.result or {}
        print(f"erasure executed in {seconds:.3f} s: {result.get('faces_excluded')} faces excluded, "
              f"{result.get('templates_destroyed')} templates destroyed, "
              f"{result.get('keys_shredded')} key shredded, {result.get('new_versions')} cut, "
              f"{result.get('notices_due')} notice due")  # fmt: skip
        if probe is not None:
            started = time.perf_counter()
            index = load_index(ledger, vault, model_version=MODEL, actor="bench", reason="bench")
            loaded = time.perf_counter() - started
            hits = index.search(probe, k=5, max_distance=0.01)
            print(
                f"index rebuilt from readable templates in {loaded:.1f} s; "
                f"exact matches for the erased person: {len(hits)}"
            )
        print(f"RESULT erase_seconds={seconds:.3f} faces={args.faces}")
        ledger.dispose()


if __name__ == "__main__":
    main()
