"""Filing and following requests through the portal, and the console taking them to the end,
on SQLite and PostgreSQL: a person searches, files an opt-out, gets a receipt; a reviewer
verifies, an admin executes, the requester is told; the receipt page shows each step."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

NSID = "70000003@N01"


def _file(
    client: Any, token_key: str = "owner_token", kind: str = "optout", proof: str | None = None
) -> dict[str, Any]:
    found = client.get("/api/v1/search/owner", params={"q": NSID}).json()
    token = found[token_key] if token_key == "owner_token" else found["photos"][0]["request_token"]
    headers = {"X-Owner-Proof": proof} if proof else {}
    response = client.post("/api/v1/requests", json={"kind": kind, "token": token}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def owner_proof(client: Any, web_settings: Any, web: Any, owner: str = NSID) -> str:
    """Prove ownership of ``owner`` through the verification hook (the code in the profile)."""
    challenge = client.post("/api/v1/verify/start", json={"owner_id": owner}).json()
    web.write_profiles(web_settings, {owner: f"my profile {challenge['code']}"})
    check = client.post("/api/v1/verify/check", json={"challenge": challenge["challenge"]}).json()
    assert check["verified"] is True
    return str(check["proof"])


@pytest.mark.both_backends
def test_an_account_opt_out_without_ownership_proof_is_refused_at_verify(
    client: Any, reviewer_token: str, web: Any
) -> None:
    _file(client)
    (item,) = client.get("/api/v1/console/requests", headers=web.bearer(reviewer_token)).json()
    refused = client.post(
        f"/api/v1/console/requests/{item['id']}/verify", headers=web.bearer(reviewer_token)
    )
    assert refused.status_code == 400 and "verified ownership" in refused.json()["detail"]
    assert (
        client.get("/api/v1/console/requests", headers=web.bearer(reviewer_token)).json()[0][
            "status"
        ]
        == "received"
    )


@pytest.mark.both_backends
def test_an_opt_out_goes_from_receipt_to_confirmed(
    client: Any, admin_token: str, reviewer_token: str, web: Any, web_settings: Any
) -> None:
    receipt = _file(client, proof=owner_proof(client, web_settings, web))
    status = receipt["status"]
    assert status["status"] == "received" and status["law"] in ("gdpr", "cpra")
    assert date.fromisoformat(status["deadline"]) > date.fromisoformat(status["received_at"][:10])
    assert [s["done"] for s in status["steps"]] == [True, False, False, False]

    queue = client.get("/api/v1/console/requests", headers=web.bearer(reviewer_token)).json()
    (item,) = queue
    assert "receipt" not in item and item["key_type"] == "owner" and item["days_left"] > 0
    assert item["covers"] == "account" and [e["kind"] for e in item["evidence"]] == [
        "owner-profile-code"
    ]
    rid = item["id"]
    too_early = client.post(
        f"/api/v1/console/requests/{rid}/execute", headers=web.bearer(admin_token)
    )
    assert too_early.status_code == 409 and "verify it first" in too_early.json()["detail"]
    assert (
        client.post(
            f"/api/v1/console/requests/{rid}/verify", headers=web.bearer(reviewer_token)
        ).json()["status"]
        == "verified"
    )
    refused = client.post(
        f"/api/v1/console/requests/{rid}/execute", headers=web.bearer(reviewer_token)
    )
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    executed = client.post(
        f"/api/v1/console/requests/{rid}/execute", headers=web.bearer(admin_token)
    ).json()
    assert executed["status"] == "executed" and executed["result"]["photos_excluded"] == 1
    assert (
        client.post(
            f"/api/v1/console/requests/{rid}/confirm", headers=web.bearer(reviewer_token)
        ).json()["status"]
        == "confirmed"
    )

    final = client.get(f"/api/v1/requests/{receipt['receipt']}").json()
    assert final["status"] == "confirmed" and all(s["done"] for s in final["steps"])
    assert final["detail"]["photos_excluded"] == 1
    # carried out: a third party searching learns nothing (as for an account never ingested)
    after = client.get("/api/v1/search/owner", params={"q": NSID}).json()
    assert after == client.get("/api/v1/search/owner", params={"q": "79999999@N01"}).json() | {
        "query": NSID
    }
    page = client.get(receipt["status_url"]).text
    assert 'id="request-status">confirmed' in page and status["deadline"] in page


def test_the_pages_file_a_request_and_show_its_receipt(client: Any, web: Any) -> None:
    page = client.get("/search", params={"owner": NSID})
    token = page.text.split('name="token" value="')[1].split('"')[0]
    response = client.post("/requests", data={"kind": "erasure", "token": token, "csrf_token": web.csrf_from(page.text)},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    receipt_page = client.get(response.headers["location"])
    assert "received" in receipt_page.text and "Legal deadline" in receipt_page.text
    receipt = receipt_page.text.split('id="receipt-id">')[1].split("<")[0]
    looked_up = client.get("/requests/status", params={"receipt": receipt})
    assert looked_up.url.path == f"/requests/{receipt}"


def test_a_single_photo_is_filed_by_its_source_id(client: Any, corpus: Any) -> None:
    from faceledger.store.schema import Request

    _file(client, token_key="request_token", kind="erasure")
    with corpus.read() as conn:
        row = conn.execute(select(Request.__table__)).one()
    assert (row.key_type, row.key_value, row.kind) == ("photo", "ex-0003", "erasure")


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"kind": "optout", "token": "forged"}, 400, "token"),
        ({"kind": "delete", "token": "x"}, 422, "kind"),
        ({"kind": "optout"}, 422, "token"),
        ({"kind": "optout", "token": "x", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    client: Any, body: dict[str, Any], status: int, needle: str
) -> None:
    response = client.post("/api/v1/requests", json=body)
    assert response.status_code == status and needle in response.json()["detail"]


def test_an_unknown_law_is_refused(client: Any) -> None:
    token = client.get("/api/v1/search/owner", params={"q": NSID}).json()["owner_token"]
    response = client.post(
        "/api/v1/requests", json={"kind": "optout", "token": token, "law": "bipa"}
    )
    assert response.status_code == 400 and "law" in response.json()["detail"]


def test_a_receipt_cannot_be_guessed_from_a_request_id(client: Any) -> None:
    _file(client)
    for guess in ("1", "01", " 1"):
        assert client.get(f"/api/v1/requests/{guess}").status_code == 404
    assert client.get("/requests/1").status_code == 404


def test_a_request_form_without_its_csrf_token_is_refused(client: Any) -> None:
    token = client.get("/api/v1/search/owner", params={"q": NSID}).json()["owner_token"]
    assert client.post("/requests", data={"kind": "optout", "token": token}).status_code == 403


def test_results_name_the_releases_and_consumers_holding_a_photo(client: Any, corpus: Any) -> None:
    from faceledger.store.ledger import utcnow
    from faceledger.store.schema import Consumer, Photo, Release, ReleaseItem, ReleaseVersion

    now = utcnow()
    with corpus.begin() as conn:
        photo_id = conn.execute(select(Photo.id).where(Photo.owner_id == NSID)).scalar_one()
        conn.execute(
            Release.__table__.insert().values(
                id=1, name="faces-2025", purpose="fairness-audit", created_at=now
            )
        )
        conn.execute(ReleaseVersion.__table__.insert().values(
            id=1, release_id=1, version=1, created_at=now, reason="test", purpose="fairness-audit",
            with_features=False, photo_count=1, face_count=1, manifest_sha256="0" * 64, path="/nowhere", files={},
        ))  # fmt: skip
        conn.execute(
            ReleaseItem.__table__.insert().values(version_id=1, face_id=999, photo_id=photo_id)
        )
        conn.execute(
            Consumer.__table__.insert().values(
                name="partner-lab", version_id=1, registered_at=now, contact="x@y"
            )
        )
    photo = client.get("/api/v1/search/owner", params={"q": NSID}).json()["photos"][0]
    assert photo["releases"] == ["faces-2025@v1"] and photo["consumers"] == ["partner-lab"]
    page = client.get("/search", params={"owner": NSID}).text
    assert "faces-2025@v1" in page and "partner-lab" in page and "x@y" not in page
