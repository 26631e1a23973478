from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select

from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.status import ledger_errors, ledger_status
from faceledger.store import Ledger
from faceledger.store.schema import AuditEvent, Photo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PHOTOS = Photo.__table__


def _count(ledger: Ledger, *where: object) -> int:
    with ledger.read() as conn:
        return int(
            conn.execute(select(func.count()).select_from(PHOTOS).where(*where)).scalar_one()
        )


def test_examples_ingest_with_provenance(ledger: Ledger) -> None:
    report = ingest_paths(ledger, [EXAMPLES])
    assert report.rejected == 0
    assert report.added == 52  # 10 local photos with a manifest + 42 YFCC metadata-only rows
    assert _count(ledger, PHOTOS.c.scan_status == "pending") == 10
    assert _count(ledger, PHOTOS.c.scan_status == "remote") == 42
    with ledger.read() as conn:
        chicago = (
            conn.execute(select(PHOTOS).where(PHOTOS.c.external_id == "ex-0001")).mappings().one()
        )
    assert chicago["owner_id"] == "70000001@N01"
    assert chicago["owner_location"] == "Chicago, IL"
    assert chicago["license_id"] == 2
    assert chicago["latitude"] == 41.8781 and chicago["geo_accuracy"] == 16
    assert chicago["path"].endswith("examples/photos/2007_007763.jpg")
    assert len(chicago["content_hash"]) == 64
    assert chicago["date_taken"].year == 2011


def test_reingest_adds_nothing(ledger: Ledger) -> None:
    ingest_paths(ledger, [EXAMPLES])
    again = ingest_paths(ledger, [EXAMPLES])
    assert again.added == 0
    assert again.seen == 52
    assert _count(ledger) == 52
    status = ledger_status(ledger)
    assert status["totals"]["photos"] == 52 and status["totals"]["sources"] == 2


def test_folder_without_manifest_ingests_loose_images(ledger: Ledger, tmp_path: Path) -> None:
    root = tmp_path / "album"
    (root / "nested").mkdir(parents=True)
    shutil.copy(EXAMPLES / "photos" / "Abel_Pacheco_0001.jpg", root / "a.jpg")
    shutil.copy(EXAMPLES / "photos" / "Abel_Pacheco_0004.jpg", root / "nested" / "b.JPG")
    (root / "notes.md").write_text("not an image")
    (root / ".hidden.jpg").write_bytes(b"")
    report = ingest_paths(ledger, [root])
    assert report.added == 2
    with ledger.read() as conn:
        keys = sorted(conn.execute(select(PHOTOS.c.source_key)).scalars())
    assert keys == ["a.jpg", "nested/b.JPG"]


def test_bad_rows_are_recorded_with_file_and_line_and_never_stop_ingest(
    ledger: Ledger, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "photo_id,url,latitude,longitude\n"
        "1,https://e.org/1.jpg,41,-87\n"
        "2,https://e.org/2.jpg,abc,-87\n"
        "3,,,\n"
        "4,https://e.org/4.jpg,,\n"
    )
    report = ingest_paths(ledger, [manifest])
    assert (report.added, report.rejected) == (2, 2)
    assert report.sources[0].rejects[0] == f"{manifest}:3: latitude 'abc' is not a number"
    errors = ledger_errors(ledger)["rejected_rows"]
    assert [(e["line"], e["file"]) for e in errors] == [(3, str(manifest)), (4, str(manifest))]
    again = ingest_paths(ledger, [manifest])  # rejects are not recorded twice
    assert again.added == 0
    assert len(ledger_errors(ledger)["rejected_rows"]) == 2


def test_each_source_ingest_is_audited(ledger: Ledger) -> None:
    ingest_paths(ledger, [EXAMPLES])
    with ledger.read() as conn:
        events = conn.execute(
            select(AuditEvent.name, AuditEvent.payload).order_by(AuditEvent.id)
        ).all()
    assert [name for name, _ in events] == ["ingest.source", "ingest.source"]
    assert sum(payload["added"] for _, payload in events) == 52
