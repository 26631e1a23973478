"""The face-level view (``services.face_view``) on a real ledger, SQLite and PostgreSQL, and
its two pages: ``/console/faces/{id}`` (console login) and ``/faces/{ref}`` (public, sealed
handles). The example photos get two fake faces each (the detector is not the point here);
processing is in Illinois, so BIPA reaches every face."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from faceledger.config import load_settings
from faceledger.core.law import load_policies
from faceledger.errors import FaceNotFound
from faceledger.services.decisions.assess import assess_faces
from faceledger.services.decisions.explain import explain_face
from faceledger.services.people.claims import add_claim, face_for
from faceledger.services.people.consent import add_consent
from faceledger.services.people.verification import IdentityEvidence
from faceledger.services.portal.face_view import face_view
from faceledger.store.schema import Face, Photo

pytestmark = pytest.mark.both_backends

FACES, PHOTOS = Face.__table__, Photo.__table__
FRT = "train-face-recognition"
ON = date(2025, 9, 1)
ATTEST = IdentityEvidence(
    kind="attestation", verified=False, detail={"statement": "this is my child"}
)


#: Two 60 px faces side by side in a 200x100 photo.
BOXES = ((20.0, 10.0, 80.0, 70.0), (120.0, 10.0, 180.0, 70.0))


@pytest.fixture
def assessed(corpus: Any, publish_schedule: Any, fake_scan: Any) -> Any:
    fake_scan(corpus, BOXES, size=(200, 100))
    publish_schedule(corpus)
    assess_faces(corpus, load_settings(processor_location="US-IL"), on=ON)
    return corpus


def _settings(tmp_path: Path) -> Any:
    return load_settings(processor_location="US-IL", data_dir=tmp_path / "data")


def test_the_console_view_shows_the_photo_boxes_and_the_explained_decision(assessed: Any) -> None:
    face = face_for(assessed, photo="ex-0003", index=1)
    view = face_view(assessed, face, purpose=FRT, policies=load_policies()).to_dict()
    assert view["photo"]["external_id"] == "ex-0003" and (
        view["photo"]["width"],
        view["photo"]["height"],
    ) == (200, 100)
    assert [b["index"] for b in view["faces"]] == [0, 1]
    assert [b["focused"] for b in view["faces"]] == [False, True]
    assert view["face"]["box"] == [120.0, 10.0, 180.0, 70.0]
    explained = explain_face(assessed, face_id=face, purpose=FRT, policies=load_policies())
    assert view["decision"]["prose"] == explained["prose"]  # what `faceledger explain` prints
    assert view["decision"]["decision"] == explained["current"]["decision"] == "block"
    bipa = next(law for law in view["decision"]["laws"] if law["id"] == "us-il-bipa")
    assert "15(b)" in [v["section"] for v in bipa["violations"]] and bipa["reasons"]
    assert view["claims"] == [] and view["claimed"] is False and view["consent"]["covered"] is False
    assert view["requests"] == []


def test_a_claim_a_consent_and_a_request_show_on_the_face_they_reach(
    assessed: Any, tmp_path: Path
) -> None:
    from faceledger.services.lifecycle import requests as service

    face, other = (face_for(assessed, photo="ex-0003", index=i) for i in (0, 1))
    claim = add_claim(assessed, face_id=face, by="legal-representative", relationship="parent", evidence=ATTEST,
                      actor="test", assess_on=ON, policies=load_policies())  # fmt: skip
    add_consent(assessed, given_by="legal-representative", relationship="parent", claim_ids=[claim.id],
                form="written", purposes=[FRT], informed=True, granted=date(2025, 8, 1), signer="Pat Parent",
                signed_on=date(2025, 8, 1), evidence_sha256="ab" * 32, assess_on=ON, policies=load_policies())  # fmt: skip
    settings = _settings(tmp_path)
    by_photo = service.new_request(
        assessed, settings, kind="access", key_type="photo", value="ex-0003"
    )
    by_face = service.new_request(
        assessed, settings, kind="optout", key_type="face", claims=[claim.id]
    )
    service.new_request(
        assessed, settings, kind="optout", key_type="photo", value="ex-0005"
    )  # another photo

    view = face_view(assessed, face, purpose=FRT, policies=load_policies()).to_dict()
    assert [(c["id"], c["by"], c["relationship"], c["status"]) for c in view["claims"]] == [
        (claim.id, "legal-representative", "parent", "active")]  # fmt: skip
    assert view["consent"]["covered"] is True and view["consent"]["minor"] is True
    assert [c["given_by"] for c in view["consent"]["consents"]] == ["legal-representative"]
    assert [(r["id"], r["basis"]) for r in view["requests"]] == [
        (by_photo.id, "photo"),
        (by_face.id, "claim"),
    ]
    neighbour = face_view(
        assessed, other, purpose=FRT, policies=load_policies()
    ).to_dict()  # the other person in the photo
    assert neighbour["claims"] == [] and neighbour["consent"]["covered"] is False
    assert [r["id"] for r in neighbour["requests"]] == [
        by_photo.id
    ]  # the photo request reaches it, the claim not


def test_the_public_view_names_no_ledger_id_and_no_claim_detail(
    assessed: Any, tmp_path: Path
) -> None:
    from faceledger.services.lifecycle import requests as service

    face = face_for(assessed, photo="ex-0003", index=0)
    claim = add_claim(assessed, face_id=face, by="legal-representative", relationship="parent", age=9,
                      evidence=ATTEST, actor="test", assess_on=ON, policies=load_policies())  # fmt: skip
    from faceledger.store.vault import KeyVault

    settings = _settings(tmp_path)
    service.new_request(assessed, settings, KeyVault.open(settings), kind="optout", key_type="face",
                        claims=[claim.id], contact="pat@example.org")  # fmt: skip
    view = face_view(
        assessed,
        face,
        purpose=FRT,
        audience="public",
        handle=lambda i: f"sealed-{i}",
        policies=load_policies(),
    ).to_dict()
    text = json.dumps(view, default=str)
    assert view["claimed"] is True and view["claims"] == []
    for secret in ("parent", "legal-representative", "this is my child", claim.receipt, "pat@example.org",
                   "attestation", '"age"'):  # fmt: skip
        assert secret not in text, secret
    assert "id" not in view["face"] and "id" not in view["photo"]
    assert all(set(b) == {"ref", "index", "box", "focused"} for b in view["faces"])
    assert [b["ref"] for b in view["faces"]] == [f"sealed-{face}", f"sealed-{face + 1}"]
    assert view["requests"] == [{"kind": "optout", "status": "received"}]
    laws = view["decision"]["laws"]
    assert all(law["reasons"] == [] for law in laws) and "prose" not in view["decision"]
    violations = [v for law in laws for v in law["violations"]]
    assert violations and all(
        v["section"] and v["citation"] and v["reason"] is None for v in violations
    )
    unclaimed = face_view(
        assessed, face + 1, purpose=FRT, audience="public", policies=load_policies()
    ).to_dict()
    assert any(v["reason"] for law in unclaimed["decision"]["laws"] for v in law["violations"])


def test_a_removed_face_is_shown_to_the_console_and_to_nobody_else(
    assessed: Any, tmp_path: Path
) -> None:
    from faceledger.services.lifecycle import requests as service
    from faceledger.store.vault import KeyVault

    face = face_for(assessed, photo="ex-0003", index=0)
    claim = add_claim(
        assessed,
        face_id=face,
        by="subject",
        evidence=ATTEST,
        actor="test",
        assess_on=ON,
        policies=load_policies(),
    )
    settings = _settings(tmp_path)
    request = service.new_request(
        assessed, settings, kind="optout", key_type="face", claims=[claim.id]
    )
    service.verify_request(assessed, request.id, actor="test")
    service.execute_request(assessed, KeyVault.open(settings), settings, request.id, actor="test")
    with pytest.raises(FaceNotFound):
        face_view(assessed, face, purpose=FRT, audience="public", policies=load_policies())
    console = face_view(assessed, face, purpose=FRT, policies=load_policies()).to_dict()
    assert console["face"]["removed_by_request"] == request.id
    assert [(r["id"], r["status"], r["excluded_this_face"]) for r in console["requests"]] == [
        (request.id, "executed", True)]  # fmt: skip
    public = face_view(
        assessed, face + 1, purpose=FRT, audience="public", policies=load_policies()
    ).to_dict()  # its neighbour
    assert [b["index"] for b in public["faces"]] == [1]  # the removed box is not drawn


def test_thumbnails_follow_the_licence_rule_and_unassessed_faces_say_so(
    corpus: Any, fake_scan: Any
) -> None:
    fake_scan(corpus, BOXES, size=(200, 100))
    nd = face_view(
        corpus, face_for(corpus, photo="ex-0007", index=0), purpose=FRT, policies=load_policies()
    ).to_dict()  # CC BY-ND
    by = face_view(
        corpus, face_for(corpus, photo="ex-0010", index=0), purpose=FRT, policies=load_policies()
    ).to_dict()  # CC BY
    assert nd["photo"]["thumbnail_allowed"] is False and by["photo"]["thumbnail_allowed"] is True
    assert nd["decision"] is None and "faceledger assess" in nd["decision_note"]
    with pytest.raises(FaceNotFound):
        face_view(corpus, 10**6, purpose=FRT, policies=load_policies())


# --- the pages -----------------------------------------------------------------------------


def test_the_console_face_page_needs_a_login_and_draws_a_blank_frame_without_thumbnail(
    assessed: Any, client: Any, admin_token: str, web: Any
) -> None:  # fmt: skip
    face = face_for(assessed, photo="ex-0007", index=0)  # CC BY-ND: no thumbnail
    assert client.get(f"/console/faces/{face}", follow_redirects=False).status_code in (303, 307)
    web.console_login(client, "ada", admin_token)
    page = client.get(f"/console/faces/{face}").text
    assert 'id="blank-frame"' in page and "/api/v1/thumbnails/" not in page
    assert f'href="/console/faces/{face + 1}"' in page  # the other face's box opens it
    assert "Illinois Biometric Information Privacy Act" in page and "15(b)" in page
    shown = client.get(f"/console/faces/{face_for(assessed, photo='ex-0010', index=0)}").text
    assert "/api/v1/thumbnails/" in shown and 'id="blank-frame"' not in shown
    assert client.get("/console/faces/999999").status_code == 404
    api = client.get(f"/api/v1/console/faces/{face}", headers=web.bearer(admin_token)).json()
    assert api["face"]["id"] == face and api["decision"]["decision"] == "block"


def test_the_public_face_page_takes_only_sealed_handles(
    assessed: Any, app: Any, client: Any
) -> None:
    from faceledger.web.present import face_ref

    portal = app.state.portal
    face = face_for(assessed, photo="ex-0010", index=1)
    page = client.get(f"/faces/{face_ref(portal, face)}")
    assert page.status_code == 200 and "Face 2 in photo ex-0010" in page.text
    assert "/api/v1/thumbnails/" in page.text and 'id="claim-this"' in page.text
    assert f"/console/faces/{face}" not in page.text and "faceledger explain" not in page.text
    assert client.get(f"/faces/{face}").status_code == 404  # a bare ledger id is not a handle
    assert client.get("/faces/forged-handle").status_code == 404


def test_a_claim_from_the_portal_is_shown_as_claimed_only(
    assessed: Any, app: Any, client: Any
) -> None:
    from faceledger.web.present import face_ref

    face = face_for(assessed, photo="ex-0003", index=0)
    add_claim(assessed, face_id=face, by="legal-representative", relationship="guardian", evidence=ATTEST,
              actor="test", assess_on=ON, minor=True, policies=load_policies())  # fmt: skip
    page = client.get(f"/faces/{face_ref(app.state.portal, face)}").text
    assert (
        "Someone has claimed this face" in page and "guardian" not in page and "A minor" not in page
    )
