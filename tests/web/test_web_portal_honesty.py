"""Portal honesty (issue 13, items 4, 5 and the portal side of 13), page and API alike:

- a photo nobody scanned says so ("not scanned (no image)"), never "0 face(s)", and its
  missing thumbnail is not blamed on its licence; reserved, scanned-with-no-face and
  licence-refused photos each say their own thing;
- after an executed opt-out or erasure a third party's search answers exactly as for an
  account (or photo) never ingested;
- owner, URL and photo searches name the imported public face datasets that list those
  photos or that account, the kinds of label they attached (never the values) and the
  maintainer's opt-out route, also for an account found only in an imported dataset.

Dataset counts are checked against ../shared/data/diveface_megaface_sample read here.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.decisions.datasets import import_dataset
from faceledger.store.schema import Face, Photo

ND_OWNER = "70000007@N01"  # CC BY-ND 4.0, local bytes: a thumbnail its licence refuses
SCANNED = "ex-0006"
NEVER = "79999999@N01"  # an account no ledger and no dataset holds
OPTOUT = "https://github.com/BiDAlab/DiveFace"


def _diveface(diveface_dir: Path) -> list[dict[str, str]]:
    with (diveface_dir / "diveface_sample.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _metadata_only(ledger: Any, tmp_path: Path, rows: list[dict[str, str]]) -> None:
    """URL-only photos (never fetched, so no bytes and never scanned)."""
    manifest = tmp_path / "remote.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle, ["photo_id", "owner_id", "owner_nickname", "title", "license", "download_url"]
        )
        writer.writeheader()
        writer.writerows(rows)
    ingest_paths(ledger, [manifest])


def _card(page: str, needle: str) -> str:
    cards = [c for c in page.split('class="card photo"')[1:] if needle in c]
    assert len(cards) == 1, needle
    return cards[0]


# ---- 4: scanned or not, and why there is no thumbnail ----------------------------------


def test_a_metadata_only_photo_says_not_scanned_no_image_not_0_faces(
    client: Any, corpus: Any, tmp_path: Path
) -> None:
    _metadata_only(corpus, tmp_path, [{"photo_id": "424242", "owner_id": "71000001@N01", "owner_nickname": "remote_only",
                                       "title": "Only a URL", "license": "CC BY 2.0",
                                       "download_url": "https://images.example.org/424242.jpg"}])  # fmt: skip
    (photo,) = client.get("/api/v1/search/photo", params={"q": "424242"}).json()["photos"]
    assert (photo["scan_state"], photo["no_thumbnail"], photo["thumbnail_url"]) == (
        "no-image",
        "no-image",
        None,
    )
    assert (
        photo["scan"].startswith("not scanned (no image)")
        and "licence" not in photo["no_thumbnail_reason"]
    )
    card = _card(client.get("/search", params={"owner": "remote_only"}).text, "Only a URL")
    assert "not scanned (no image)" in card
    assert "face(s)" not in card and "licence" not in card.split("No thumbnail")[1].split("</p>")[0]


def test_reserved_zero_faces_licence_and_pending_are_told_apart(client: Any, corpus: Any) -> None:
    with corpus.begin() as conn:  # as `scan` records a photo where it found no face
        conn.execute(
            update(Photo.__table__).where(Photo.external_id == SCANNED).values(scan_status="done")
        )
        conn.execute(update(Photo.__table__).where(Photo.external_id == "ex-0005").values(
            reservation="x-robots-tag", path=None, scan_status="reserved", fetch_status="reserved"))  # fmt: skip
    states = {}
    for query in (SCANNED, "ex-0005", "ex-0007", "ex-0001"):
        (photo,) = client.get("/api/v1/search/photo", params={"q": query}).json()["photos"]
        states[query] = (photo["scan_state"], photo["faces"], photo["no_thumbnail"])
    assert states == {
        SCANNED: ("scanned", 0, None),  # CC BY-SA, local bytes: shown, and 0 found is a real answer
        "ex-0005": ("reserved", 0, "reserved"),
        "ex-0007": ("pending", 0, "licence"),  # CC BY-ND: its licence refuses a copy
        "ex-0001": ("pending", 0, None),
    }
    page = client.get("/search", params={"photo": SCANNED}).text
    assert "0 face(s) found" in _card(page, "ex-0006")
    page = client.get("/search", params={"owner": ND_OWNER}).text
    card = _card(page, "ex-0007")
    assert (
        "not scanned yet" in card
        and "its licence does not allow showing a copy" in card
        and "face(s)" not in card
    )
    card = _card(client.get("/search", params={"photo": "ex-0005"}).text, "ex-0005")
    assert (
        "never scanned (reserved)" in card and "face(s)" not in card and "No thumbnail" not in card
    )


# ---- 5: an executed request leaves nothing public --------------------------------------


def _execute(
    client: Any, web: Any, web_settings: Any, admin_token: str, owner: str, kind: str
) -> str:
    challenge = client.post("/api/v1/verify/start", json={"owner_id": owner}).json()
    web.write_profiles(web_settings, {owner: f"profile {challenge['code']}"})
    proof = client.post("/api/v1/verify/check", json={"challenge": challenge["challenge"]}).json()[
        "proof"
    ]
    token = client.get("/api/v1/search/owner", params={"q": owner}).json()["owner_token"]
    filed = client.post(
        "/api/v1/requests", json={"kind": kind, "token": token}, headers={"X-Owner-Proof": proof}
    )
    assert filed.status_code == 201, filed.text
    (item,) = [i for i in client.get("/api/v1/console/requests", headers=web.bearer(admin_token)).json()
               if i["status"] == "received"]  # fmt: skip
    for step in ("verify", "execute"):
        done = client.post(
            f"/api/v1/console/requests/{item['id']}/{step}", headers=web.bearer(admin_token)
        )
        assert done.status_code == 200, done.text
    return str(filed.json()["receipt"])


def _main(html: str, query: str) -> str:
    """The page's main content with the echoed query and the per-session tokens blanked."""
    body = html.split("<main", 1)[1].split("</main>", 1)[0]
    body = re.sub(r'name="csrf_token" value="[^"]+"', "", body)
    return body.replace(query, "QUERY")


@pytest.mark.both_backends
@pytest.mark.parametrize("kind", ["erasure", "optout"])
def test_after_execution_a_search_answers_as_for_an_account_never_ingested(
    client: Any, corpus: Any, web: Any, web_settings: Any, admin_token: str, kind: str
) -> None:
    owner, username, title = "70000003@N01", "sound_side", "Fourth of July"
    assert title in client.get("/search", params={"owner": owner}).text  # the baseline shows it
    receipt = _execute(client, web, web_settings, admin_token, owner, kind)
    for key in (owner, username):
        got = client.get("/api/v1/search/owner", params={"q": key}).json()
        assert got == client.get("/api/v1/search/owner", params={"q": NEVER}).json() | {
            "query": key
        }
        page = client.get("/search", params={"owner": key}).text
        assert _main(page, key) == _main(client.get("/search", params={"owner": NEVER}).text, NEVER)
        shown = _main(page, key)  # beyond the searcher's own query echoed back
        for leak in {title, username, owner, "Removed from the dataset", "face(s)", "ex-0003"} - {
            key
        }:
            assert leak not in shown, leak
    for query in ("ex-0003", "https://example.org/photos/ex-0003"):
        assert client.get("/api/v1/search/photo", params={"q": query}).json()["photos"] == []
        assert 'id="no-results"' in client.get("/search", params={"photo": query}).text
    tag = client.get("/api/v1/search/tag", params={"q": "seattle"}).json()
    assert (tag["photos"], tag["faces"], tag["owners"]) == (0, 0, 0)
    # the requester still sees their receipt: what was done, counts and all
    status = client.get(f"/api/v1/requests/{receipt}").json()
    assert status["status"] == "executed" and status["detail"]["photos_excluded"] == 1


def test_a_face_an_executed_request_removed_is_not_counted(client: Any, corpus: Any) -> None:
    from faceledger.store.ledger import utcnow
    from faceledger.store.schema import ScanRun

    now = utcnow()
    with corpus.begin() as conn:  # two faces as `scan` writes them; a request removed the second
        photo_id = conn.execute(select(Photo.id).where(Photo.external_id == SCANNED)).scalar_one()
        conn.execute(update(Photo.__table__).where(Photo.id == photo_id).values(scan_status="done",
                                                                                width=640, height=480))  # fmt: skip
        run = conn.execute(ScanRun.__table__.insert().values(
            started_at=now, status="done", detector_name="test", detector_version="0", threshold=0.4, workers=1,
        ).returning(ScanRun.id)).scalar_one()  # fmt: skip
        for index, excluded in enumerate((None, 999)):
            conn.execute(Face.__table__.insert().values(
                photo_id=photo_id, face_index=index, x1=60 + 300 * index, y1=100, x2=200 + 300 * index, y2=260,
                score=0.9, landmarks=[[0, 0]] * 5, face_size=140, detector_name="test", detector_version="0",
                scan_run_id=run, created_at=now, excluded_request_id=excluded))  # fmt: skip
    (photo,) = client.get("/api/v1/search/photo", params={"q": SCANNED}).json()["photos"]
    assert photo["faces"] == 1 and len(photo["face_boxes"]) == 1
    assert client.get("/api/v1/search/tag", params={"q": "portrait"}).json()["faces"] == 1


# ---- 13: which published datasets hold me? ---------------------------------------------


@pytest.fixture
def diveface(corpus: Any, diveface_dir: Path) -> list[dict[str, str]]:
    import_dataset(corpus, "DiveFace", sorted(diveface_dir.glob("Group*_subset.txt")),
                   citation="Morales et al., IEEE TPAMI 2020", licence="non-commercial research",
                   optout_url=OPTOUT)  # fmt: skip
    return _diveface(diveface_dir)


@pytest.mark.both_backends
def test_an_account_only_in_an_imported_dataset_is_told_which_and_what_it_labelled(
    client: Any, diveface: list[dict[str, str]]
) -> None:
    owner = diveface[0]["flickr_user_nsid"]
    rows = [r for r in diveface if r["flickr_user_nsid"] == owner]
    body = client.get("/api/v1/search/owner", params={"q": owner}).json()
    assert body["photos"] == [] and body["owner_token"] is None  # nothing in this ledger
    assert body["datasets"] == [{
        "name": "DiveFace", "photos": len({r["flickr_photo_id"] for r in rows}), "faces": len(rows),
        "labels": ["ethnic-group", "gender"], "sensitive": True, "citation": "Morales et al., IEEE TPAMI 2020",
        "licence": "non-commercial research", "optout_url": OPTOUT}]  # fmt: skip
    page = client.get("/search", params={"owner": owner}).text
    section = page.split('id="datasets-held"')[1].split("</section>")[0]
    assert (
        "DiveFace" in section and f"{len({r['flickr_photo_id'] for r in rows})} photo(s)" in section
    )
    assert "ethnic-group" in section and "gender" in section and "GDPR Art. 9" in section
    assert f'href="{OPTOUT}"' in section and 'id="no-results"' in page
    values = {r["diveface_group_description"] for r in diveface} | {
        r["diveface_gender"] for r in diveface
    }
    assert not [v for v in values if v in page or v in str(body)]  # the kinds, never the values
    assert client.get("/api/v1/search/owner", params={"q": NEVER}).json()["datasets"] == []


@pytest.mark.both_backends
def test_photo_and_url_searches_name_the_datasets_holding_that_photo(
    client: Any, diveface: list[dict[str, str]]
) -> None:
    row = diveface[0]
    photo, owner = row["flickr_photo_id"], row["flickr_user_nsid"]
    faces = sum(r["flickr_photo_id"] == photo for r in diveface)
    for query in (photo, f"https://www.flickr.com/photos/{owner}/{photo}/"):
        body = client.get("/api/v1/search/photo", params={"q": query}).json()
        assert [(d["name"], d["photos"], d["faces"]) for d in body["datasets"]] == [
            ("DiveFace", 1, faces)
        ], query
        page = client.get("/search", params={"photo": query}).text
        assert "this photo" in page.split('id="datasets-held"')[1].split("</h2>")[0]
    assert client.get("/api/v1/search/photo", params={"q": "ex-0003"}).json()["datasets"] == []


@pytest.mark.both_backends
def test_a_ledger_photo_in_a_dataset_names_it_per_photo_and_by_username(
    client: Any, corpus: Any, diveface: list[dict[str, str]], tmp_path: Path
) -> None:
    row = diveface[0]
    photo, owner = row["flickr_photo_id"], row["flickr_user_nsid"]
    _metadata_only(corpus, tmp_path, [{"photo_id": photo, "owner_id": owner, "owner_nickname": "diver_42",
                                       "title": "At the reef", "license": "CC BY 2.0",
                                       "download_url": f"https://images.example.org/{photo}.jpg"}])  # fmt: skip
    rows = [r for r in diveface if r["flickr_user_nsid"] == owner]
    for key in (owner, "diver_42"):  # the username is resolved through the photo shown
        body = client.get("/api/v1/search/owner", params={"q": key}).json()
        (shown,) = body["photos"]
        assert shown["datasets"] == ["DiveFace"] and shown["scan_state"] == "no-image"
        assert [(d["name"], d["photos"], d["faces"]) for d in body["datasets"]] == [
            ("DiveFace", len({r["flickr_photo_id"] for r in rows}), len(rows))
        ]
        card = _card(client.get("/search", params={"owner": key}).text, "At the reef")
        assert "DiveFace" in card and "not scanned (no image)" in card


def test_a_dataset_without_an_opt_out_route_says_so(
    client: Any, corpus: Any, tmp_path: Path
) -> None:
    table = tmp_path / "plain.csv"
    table.write_text("owner_id,photo_id\n72000001@N01,777\n")
    import_dataset(corpus, "PlainSet", [table])
    body = client.get("/api/v1/search/owner", params={"q": "72000001@N01"}).json()
    assert [
        (d["name"], d["labels"], d["sensitive"], d["optout_url"]) for d in body["datasets"]
    ] == [("PlainSet", [], False, None)]
    section = client.get("/search", params={"owner": "72000001@N01"}).text.split(
        'id="datasets-held"'
    )[1]
    assert (
        "offers no opt-out route" in section.split("</section>")[0]
        and "GDPR" not in section.split("</section>")[0]
    )
