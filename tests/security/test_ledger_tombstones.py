"""Finding 18: an erased photo must not come back from another source.

Tombstones used to match on the source row only: the same photo from a second manifest, a
folder, or a re-fetch was a new row and was scanned, assessed and released again. Now an
excluded photo covers any photo with the same content hash, provider hash or provider photo
id, and an executed owner-level request covers the owner's photos, at ingest and at scan.

The executed request is set up here as execution leaves it (an ``executed`` request row and
its photos' ``excluded_request_id``), so these tests depend on nothing but the tombstones.
"""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from faceledger.config import load_settings
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.store import Ledger
from faceledger.store.schema import AuditEvent, Face, Photo, Request

P, F, R = Photo.__table__, Face.__table__, Request.__table__
PHOTOS = Path(__file__).resolve().parents[2] / "examples" / "photos"
ABEL, ALAN = PHOTOS / "Abel_Pacheco_0001.jpg", PHOTOS / "Alan_Dershowitz_0001.jpg"


def _manifest(folder: Path, rows: list[tuple[str, Path, str]]) -> Path:
    """A manifest in ``folder`` with (photo id, image to copy in, owner) rows."""
    folder.mkdir(parents=True)
    with (folder / "photos.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "path", "owner_id"])
        for photo_id, image, owner in rows:
            shutil.copy(image, folder / f"{photo_id}.jpg")
            writer.writerow([photo_id, f"{photo_id}.jpg", owner])
    return folder / "photos.csv"


def _executed(ledger: Ledger, *, kind: str, key_type: str, value: str) -> int:
    """An executed request, and its photos excluded, as execution leaves them."""
    now = datetime.now(UTC)
    with ledger.begin() as conn:
        request_id = int(conn.execute(
            R.insert().values(receipt=f"r-{value}", kind=kind, key_type=key_type, key_value=value,
                              law="gdpr", status="executed", received_at=now, deadline=date.today(),
                              executed_at=now).returning(R.c.id)
        ).scalar_one())  # fmt: skip
        column = P.c.external_id if key_type == "photo" else P.c.owner_id
        conn.execute(update(P).where(column == value).values(excluded_request_id=request_id))
    return request_id


def _photo(ledger: Ledger, photo_id: str) -> dict:  # type: ignore[type-arg]
    with ledger.read() as conn:
        return dict(conn.execute(select(P).where(P.c.external_id == photo_id)).mappings().one())


def test_the_same_bytes_under_another_id_from_another_source_stay_erased(
    ledger: Ledger, tmp_path: Path
) -> None:
    ingest_paths(ledger, [_manifest(tmp_path / "a", [("p1", ABEL, "o1@N01")])])
    request_id = _executed(ledger, kind="erasure", key_type="photo", value="p1")
    report = ingest_paths(ledger, [_manifest(tmp_path / "b", [("other-id", ABEL, "someone@N01"),
                                                               ("fresh", ALAN, "someone@N01")])])  # fmt: skip
    assert report.added == 2 and report.sources[0].tombstoned == 1
    assert _photo(ledger, "other-id")["excluded_request_id"] == request_id  # content hash
    assert _photo(ledger, "fresh")["excluded_request_id"] is None  # an unrelated photo is kept
    with ledger.read() as conn:
        payload = conn.execute(
            select(AuditEvent.payload).where(AuditEvent.name == "ingest.source").order_by(AuditEvent.id.desc())
        ).scalars().first()  # fmt: skip
    assert payload["tombstoned"] == 1


def test_the_same_provider_photo_id_with_new_bytes_stays_erased(
    ledger: Ledger, tmp_path: Path
) -> None:
    ingest_paths(ledger, [_manifest(tmp_path / "a", [("p1", ABEL, "o1@N01")])])
    request_id = _executed(ledger, kind="optout", key_type="photo", value="p1")
    # a re-fetch at another size: different bytes, same Flickr id, in another source
    ingest_paths(ledger, [_manifest(tmp_path / "b", [("p1", ALAN, "o1@N01")])])
    with ledger.read() as conn:
        rows = conn.execute(
            select(P.c.source_id, P.c.excluded_request_id).where(P.c.external_id == "p1")
        ).all()
    assert len(rows) == 2 and {r.excluded_request_id for r in rows} == {request_id}


def test_an_owner_level_erasure_covers_the_owners_photos_from_any_source(
    ledger: Ledger, tmp_path: Path
) -> None:
    ingest_paths(ledger, [_manifest(tmp_path / "a", [("p1", ABEL, "gone@N01")])])
    request_id = _executed(ledger, kind="erasure", key_type="owner", value="gone@N01")
    ingest_paths(
        ledger, [_manifest(tmp_path / "b", [("p2", ALAN, "gone@N01"), ("p3", ALAN, "stays@N01")])]
    )
    assert _photo(ledger, "p2")["excluded_request_id"] == request_id
    assert _photo(ledger, "p3")["excluded_request_id"] is None


@pytest.mark.integration
def test_scan_skips_a_photo_that_a_later_erasure_covers_and_one_whose_bytes_became_erased(
    ledger: Ledger, tmp_path: Path
) -> None:
    # Both copies are ingested before the erasure; the request reaches only its own row.
    ingest_paths(ledger, [_manifest(tmp_path / "a", [("p1", ABEL, "o1@N01")]),
                          _manifest(tmp_path / "b", [("copy", ABEL, "o2@N01"), ("later", ALAN, "o2@N01")])])  # fmt: skip
    request_id = _executed(ledger, kind="erasure", key_type="photo", value="p1")
    shutil.copy(ABEL, tmp_path / "b" / "later.jpg")  # re-fetched since: now the erased bytes
    report = scan_pending(ledger, load_settings(workers=1))
    assert (report.photos_done, report.faces_found, report.tombstoned) == (0, 0, 2)
    for photo_id in ("copy", "later"):
        photo = _photo(ledger, photo_id)
        assert photo["excluded_request_id"] == request_id and photo["scan_status"] == "pending"
    with ledger.read() as conn:
        assert conn.execute(select(F.c.id)).first() is None  # no face detected in erased bytes
