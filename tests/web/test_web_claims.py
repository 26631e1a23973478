"""Claiming a face on the portal and opting it out; the reviewer confirming selfie matches face
by face; the requester's contact kept from public pages and the audit log; overdue requests
in the console; what a selfie search says it searched. Faces are rows written directly (no
model needed)."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update

from faceledger.web.deps import get_selfie_search

PHOTO, OWNER = "ex-0005", "70000005@N01"
CONTACT = "grace.hopper@example.org"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 150, 120)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def faces(corpus: Any) -> list[int]:
    """Two detected faces on photo ex-0005 (640x480): a mother left, her daughter right."""
    from faceledger.store.ledger import utcnow
    from faceledger.store.schema import Face, Photo, ScanRun

    now = utcnow()
    with corpus.begin() as conn:
        photo_id = conn.execute(select(Photo.id).where(Photo.external_id == PHOTO)).scalar_one()
        conn.execute(
            update(Photo.__table__).where(Photo.id == photo_id).values(width=640, height=480)
        )
        run = conn.execute(ScanRun.__table__.insert().values(
            started_at=now, status="done", detector_name="test", detector_version="0", threshold=0.4, workers=1,
        ).returning(ScanRun.id)).scalar_one()  # fmt: skip
        ids = []
        for index, (x1, x2) in enumerate([(60, 200), (420, 560)]):
            ids.append(conn.execute(Face.__table__.insert().values(
                photo_id=photo_id, face_index=index, x1=x1, y1=100, x2=x2, y2=260, score=0.9,
                landmarks=[[0, 0]] * 5, face_size=140, detector_name="test", detector_version="0",
                scan_run_id=run, created_at=now,
            ).returning(Face.id)).scalar_one())  # fmt: skip
    return ids


def _audit(corpus: Any) -> str:
    from faceledger.store.schema import AuditEvent

    with corpus.read() as conn:
        return json.dumps(
            [list(r) for r in conn.execute(select(AuditEvent.name, AuditEvent.payload))]
        )


def _excluded(corpus: Any, ids: list[int]) -> dict[int, Any]:
    from faceledger.store.schema import Face

    with corpus.read() as conn:
        return dict(
            conn.execute(select(Face.id, Face.excluded_request_id).where(Face.id.in_(ids))).all()
        )  # type: ignore[arg-type]


@pytest.mark.both_backends
def test_a_person_claims_their_face_and_opts_only_that_face_out(
    client: Any, corpus: Any, faces: list[int], admin_token: str, web: Any
) -> None:
    photo = client.get("/api/v1/search/photo", params={"q": PHOTO}).json()["photos"][0]
    boxes = photo["face_boxes"]
    assert [(b["number"], b["position"], b["box"]) for b in boxes] == [
        (1, "middle left", [60.0, 100.0, 200.0, 260.0]),
        (2, "middle right", [420.0, 100.0, 560.0, 260.0]),
    ]
    assert str(faces[0]) not in json.dumps([b["position"] for b in boxes])
    forged = client.post("/api/v1/claims", json={"token": "x", "by": "subject", "attest": True})
    assert forged.status_code == 400 and "token" in forged.json()["detail"]
    unattested = client.post(
        "/api/v1/claims", json={"token": boxes[0]["claim_token"], "by": "subject", "attest": False}
    )
    assert unattested.status_code == 422 and "attest" in unattested.json()["detail"]
    as_owner = client.post("/api/v1/claims", json={"token": boxes[0]["claim_token"], "by": "subject",
                                                   "attest": True, "is_photo_owner": True})  # fmt: skip
    assert as_owner.status_code == 400 and "prove you own" in as_owner.json()["detail"]

    claim = client.post(
        "/api/v1/claims", json={"token": boxes[0]["claim_token"], "by": "subject", "attest": True}
    )
    assert claim.status_code == 201, claim.text
    assert claim.json()["status"] == "active" and claim.json()["owner_verified"] is False
    filed = client.post("/api/v1/requests", json={"kind": "erasure", "token": claim.json()["request_token"],
                                                   "contact": CONTACT})  # fmt: skip
    assert filed.status_code == 201, filed.text
    status = filed.json()["status"]
    assert status["covers"] == "faces" and status["faces"] == {"claimed": 1}
    assert CONTACT not in filed.text and CONTACT not in client.get(filed.json()["status_url"]).text

    (item,) = client.get("/api/v1/console/requests", headers=web.bearer(admin_token)).json()
    assert item["has_contact"] is True and CONTACT not in json.dumps(item)
    detail = client.get(
        f"/api/v1/console/requests/{item['id']}", headers=web.bearer(admin_token)
    ).json()
    assert detail["contact"] == CONTACT and [f["status"] for f in detail["face_review"]] == [
        "claimed"
    ]
    for step in ("verify", "execute"):
        response = client.post(
            f"/api/v1/console/requests/{item['id']}/{step}", headers=web.bearer(admin_token)
        )
        assert response.status_code == 200, response.text
    assert response.json()["result"]["faces_excluded"] == 1
    assert _excluded(corpus, faces) == {faces[0]: item["id"], faces[1]: None}
    audit = _audit(corpus)
    assert "claim.add" in audit and "request.contact" in audit and CONTACT not in audit


@pytest.mark.both_backends
def test_a_reviewer_confirms_the_mother_and_rejects_the_daughter_before_anything_is_erased(
    app: Any,
    client: Any,
    corpus: Any,
    faces: list[int],
    admin_token: str,
    reviewer_token: str,
    web: Any,
) -> None:
    mother, daughter = faces
    app.dependency_overrides[get_selfie_search] = lambda: (
        lambda image: [
            {"face_id": mother, "subject_id": None, "distance": 0.31},
            {"face_id": daughter, "subject_id": None, "distance": 0.52},
        ]
    )
    token = client.post("/api/v1/selfie", files={"image": ("me.jpg", _jpeg(), "image/jpeg")},
                        data={"consent": "yes"}).json()["request_token"]  # fmt: skip
    receipt = client.post("/api/v1/requests", json={"kind": "erasure", "token": token}).json()
    assert receipt["status"]["faces"] == {"pending": 2}
    (item,) = client.get("/api/v1/console/requests", headers=web.bearer(reviewer_token)).json()
    rid, auth = item["id"], web.bearer(reviewer_token)
    assert client.post(f"/api/v1/console/requests/{rid}/verify", headers=auth).status_code == 200
    early = client.post(f"/api/v1/console/requests/{rid}/execute", headers=web.bearer(admin_token))
    assert early.status_code == 400 and "pending" in early.json()["detail"]
    no_reason = client.post(f"/api/v1/console/requests/{rid}/faces/{daughter}/reject", headers=auth)
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    assert (
        client.post(f"/api/v1/console/requests/{rid}/faces/{mother}/confirm", headers=auth).json()[
            "status"
        ]
        == "confirmed"
    )
    rejected = client.post(f"/api/v1/console/requests/{rid}/faces/{daughter}/reject", headers=auth,
                           json={"reason": "not me: my daughter"}).json()  # fmt: skip
    assert (rejected["status"], rejected["distance"]) == ("rejected", 0.52)
    done = client.post(
        f"/api/v1/console/requests/{rid}/execute", headers=web.bearer(admin_token)
    ).json()
    assert done["result"]["faces_excluded"] == 1
    assert _excluded(corpus, faces) == {mother: rid, daughter: None}
    assert "my daughter" not in _audit(corpus)


def test_the_console_review_page_shows_each_face_and_takes_decisions(
    app: Any, client: Any, faces: list[int], reviewer_token: str, web: Any
) -> None:
    app.dependency_overrides[get_selfie_search] = lambda: (
        lambda image: [{"face_id": f, "subject_id": None, "distance": 0.4} for f in faces]
    )
    token = client.post("/api/v1/selfie", files={"image": ("me.jpg", _jpeg(), "image/jpeg")},
                        data={"consent": "yes"}).json()["request_token"]  # fmt: skip
    client.post("/api/v1/requests", json={"kind": "optout", "token": token, "contact": CONTACT})
    csrf = web.console_login(client, "rev", reviewer_token)
    queue = client.get("/console").text
    assert "2 to review" in queue and CONTACT not in queue
    page = client.get("/console/requests/1").text
    assert CONTACT in page and page.count("<svg") >= 2 and "0.400" in page
    assert (
        client.post(f"/console/requests/1/faces/{faces[0]}/confirm", data={}).status_code == 403
    )  # no CSRF
    moved = client.post(
        f"/console/requests/1/faces/{faces[0]}/confirm",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/console/requests/1"
    assert (
        'confirmed <span class="muted">by web:rev</span>' in client.get("/console/requests/1").text
    )
    extended = client.post("/console/requests/1/extend", data={"csrf_token": csrf, "reason": "many photos"},
                           follow_redirects=False)  # fmt: skip
    assert extended.status_code == 303 and "(extended)" in client.get("/console").text


def test_overdue_requests_stand_out_in_the_console(
    client: Any, corpus: Any, web_settings: Any, reviewer_token: str, web: Any
) -> None:
    from datetime import UTC, datetime

    from faceledger.services.lifecycle.requests import new_request

    new_request(corpus, web_settings, kind="optout", key_type="photo", value=PHOTO, law="gdpr",
                received=datetime(2020, 1, 1, tzinfo=UTC))  # fmt: skip
    new_request(corpus, web_settings, kind="optout", key_type="photo", value="ex-0003")
    late = client.get(
        "/api/v1/console/requests", params={"overdue": "true"}, headers=web.bearer(reviewer_token)
    ).json()
    assert [r["overdue"] for r in late] == [True]
    web.console_login(client, "rev", reviewer_token)
    page = client.get("/console").text
    assert 'id="overdue-count">1 request(s) overdue' in page and page.count('class="overdue"') == 1


def test_a_selfie_answer_says_how_many_faces_were_compared_and_why_not_the_rest(
    app: Any, client: Any, faces: list[int], web: Any
) -> None:
    answer = {"matches": [], "threshold": 0.6, "faces": 7, "compared": 2, "compared_stored": 2, "compared_transient": 0,
              "not_compared": 5, "not_compared_by_reason": {"blocked-by-law": 4, "not-assessed": 1},
              "identifier_search": "search by identifier"}  # fmt: skip
    app.dependency_overrides[get_selfie_search] = lambda: lambda image: answer
    body = client.post("/api/v1/selfie", files={"image": ("me.jpg", _jpeg(), "image/jpeg")},
                       data={"consent": "yes"}).json()  # fmt: skip
    assert body["searched"]["compared"] == 2 and body["searched"]["not_compared_by_reason"] == {
        "blocked-by-law": 4,
        "not-assessed": 1,
    }
    assert body["matches"] == [] and body["request_token"] is None
    page = client.get("/selfie")
    result = client.post("/selfie", files={"image": ("me.jpg", _jpeg(), "image/jpeg")},
                         data={"consent": "yes", "csrf_token": web.csrf_from(page.text)}).text  # fmt: skip
    assert 'id="compared">2<' in result and 'id="not-compared">5<' in result
    assert "the law does not allow matching them" in result and 'id="identifier-search"' in result


def test_the_photo_page_draws_each_face_as_a_link_to_its_claim_form(
    client: Any, faces: list[int], web: Any
) -> None:
    page = client.get("/search", params={"photo": PHOTO}).text
    assert page.count('class="face-box"') == 2 and "style=" not in page and "<script" not in page
    hrefs = re.findall(r'href="(/claim\?token=[^"]+)"', page)
    assert (
        len(hrefs) == 4 and len(set(hrefs)) == 2
    )  # each face: a box on the photo and a list entry
    form = client.get(hrefs[0])
    assert form.status_code == 200 and "This is my child" in form.text
    token = form.text.split('name="token" value="')[1].split('"')[0]
    done = client.post("/claim", data={"token": token, "by": "legal-representative", "attest": "yes",
                                       "csrf_token": web.csrf_from(form.text)})  # fmt: skip
    assert (
        done.status_code == 200 and 'id="claim-receipt"' in done.text and "your child" in done.text
    )
    assert (
        client.post("/claim", data={"token": token, "by": "subject", "attest": "yes"}).status_code
        == 403
    )
