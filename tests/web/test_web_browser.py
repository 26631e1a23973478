"""The portal in a real headless Chromium (Debian's /usr/bin/chromium via Playwright; no
browser download): a person finds their photos by NSID, files an opt-out and follows the
receipt to "confirmed" after the owner executes it in the console; the selfie flow with its
consent step. Screenshots of each page go to test-artifacts/portal/.

In CI (CI=true) a missing Chromium is a failure; elsewhere the test is skipped with a message.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faceledger.core.law import load_policies

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "portal"
CHROMIUM = os.environ.get("FACELEDGER_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync"]  # fmt: skip
NSID = "70000005@N01"  # Abel Pacheco's photo (ex-0005), CC BY: shown as a thumbnail
SELFIE = REPO / "examples" / "photos" / "Abel_Pacheco_0004.jpg"


def _chromium_or_skip() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if path is None:
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set FACELEDGER_CHROMIUM)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def prepared(corpus: Any, web_settings: Any) -> Any:
    """Scanned, assessed (processing in Florida); ex-0005's owner claimed their own face (a
    self-portrait, with owner proof) and consented for it; extracted."""
    from datetime import UTC, datetime

    from faceledger.services.biometrics.extract import extract_templates
    from faceledger.services.collection.scan import scan_pending
    from faceledger.services.decisions.assess import assess_faces
    from faceledger.services.people.claims import add_claim, face_for
    from faceledger.services.people.consent import add_consent
    from faceledger.services.people.verification import IdentityEvidence
    from faceledger.store.vault import KeyVault

    scan_pending(corpus, web_settings)
    assess_faces(corpus, web_settings, purpose=web_settings.purpose)
    proof = IdentityEvidence(
        "owner-profile-code", True, {"owner_id": NSID, "verifier": "test"}, datetime.now(UTC)
    )
    claim = add_claim(corpus, face_id=face_for(corpus, photo="ex-0005", index=0), by="subject",
                      is_photo_owner=True, evidence=proof, actor="test", policies=load_policies())  # fmt: skip
    add_consent(corpus, claim_ids=[claim.id], given_by="subject", form="written", purposes=[web_settings.purpose],
                informed=True, signer="Abel", signed_on=datetime.now(UTC).date(), evidence_sha256="a" * 64, policies=load_policies())  # fmt: skip
    report = extract_templates(
        corpus, KeyVault.open(web_settings), web_settings, purpose=web_settings.purpose
    )
    assert report.extracted >= 1, report
    return corpus


@pytest.fixture
def server(prepared: Any, web_settings: Any) -> Iterator[str]:
    import uvicorn

    from faceledger.web import create_app

    app = create_app(web_settings, ledger=prepared)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uvicorn_server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _tab_to(page: Any, selector: str, presses: int = 60) -> None:
    """Press Tab until ``selector`` has the keyboard focus (bounded)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(
            "(s) => document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
    raise AssertionError(f"{selector} never got the keyboard focus in {presses} presses")


def test_a_person_opts_out_and_follows_it_to_confirmed(
    server: str, browser: Any, corpus: Any, web_settings: Any
) -> None:
    import json

    from faceledger.services.portal.users import add_user

    _, token = add_user(corpus, "owner", role="admin")
    person = browser.new_page()
    errors: list[str] = []
    person.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    person.goto(server + "/")
    _shot(person, "01-home")
    person.fill("#owner", NSID)
    person.click("#search-owner")
    person.wait_for_selector("#result-count")
    assert "1 photo(s)" in person.inner_text("#result-count")
    thumbnail = person.eval_on_selector(".photo svg.faces image", "i => i.getAttribute('href')")
    loaded = person.request.get(server + thumbnail)  # the thumbnail under the face boxes
    assert loaded.status == 200 and loaded.headers["content-type"] == "image/jpeg"
    _shot(person, "02-results")
    person.click("#prove-owner-start")  # an account-wide request needs proof of ownership
    code = person.inner_text("#verify-code")
    Path(web_settings.web_flickr_profiles).write_text(json.dumps({NSID: f"Photos by me. {code}"}))
    person.click("#verify-check")
    person.wait_for_selector("#owner-verified")
    person.fill("#contact-all", "abel@example.org")
    person.click("#optout-all")
    person.wait_for_selector("#receipt-id")
    receipt_url = person.url
    assert person.inner_text("#request-status") == "received" and person.inner_text("#deadline")
    _shot(person, "03-receipt-received")

    owner = browser.new_page()
    owner.goto(server + "/console")
    _shot(owner, "04-console-login")
    owner.fill("#name", "owner")
    owner.fill("#token", token)
    owner.click("#login")
    owner.wait_for_selector("#queue")
    _shot(owner, "05-console-queue")
    request_id = owner.get_attribute("#queue tr[data-request]", "data-request")
    for step in ("verify", "execute", "confirm"):
        owner.click(f"#{step}-{request_id}")
        owner.wait_for_selector("#queue")
    assert owner.inner_text(f"tr[data-request='{request_id}'] .status") == "confirmed"
    _shot(owner, "06-console-done")
    owner.goto(server + "/console/audit")
    owner.click("#verify-audit")
    assert "The chain verifies" in owner.inner_text("#audit-result")
    _shot(owner, "07-console-audit")
    owner.goto(server + "/console/exposure")
    _shot(owner, "08-console-exposure")

    person.goto(receipt_url)
    assert person.inner_text("#request-status") == "confirmed"
    _shot(person, "09-receipt-confirmed")
    person.goto(server + f"/search?owner={NSID}")
    assert person.query_selector(".photo") is None and person.query_selector(
        "#no-results"
    )  # nothing left public
    assert errors == []  # no CSP violation or script error on any page


def test_the_selfie_flow_asks_consent_then_finds_the_person(server: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server + "/selfie")
    assert "Deleted after" in page.inner_text("#consent-text")
    _shot(page, "10-selfie-consent")
    page.set_input_files("#image", str(SELFIE))
    page.click("#selfie-search")  # the browser refuses: the consent box is required
    assert page.url.endswith("/selfie") and page.evaluate(
        "document.querySelector('#consent').validity.valueMissing"
    )
    page.check("#consent")
    page.click("#selfie-search")
    page.wait_for_selector("#result-count")
    assert "ex-0005" in page.content() or "Portrait" in page.content()
    _shot(page, "11-selfie-results")
    page.click("#optout-faces")
    page.wait_for_selector("#receipt-id")
    assert page.inner_text("#request-status") == "received"
    _shot(page, "12-selfie-receipt")


def test_a_person_claims_their_face_with_the_keyboard_and_opts_it_out(
    server: str, browser: Any, corpus: Any
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(server + "/search?photo=ex-0005")
    page.wait_for_selector("svg.faces a.face-box")
    _shot(page, "13-photo-faces")
    _tab_to(page, "a.face-box")  # the box drawn over the face, reached by keyboard alone
    _shot(page, "14-face-focused")
    page.keyboard.press("Enter")
    page.wait_for_selector("#claim-form")
    _shot(page, "15-claim-form")
    _tab_to(page, "#attest")
    page.keyboard.press("Space")
    assert page.is_checked("#attest") and page.is_checked("#by-subject")
    _tab_to(page, "#claim-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#claim-receipt")
    _shot(page, "16-claimed")
    _tab_to(page, "#contact-claim")
    page.keyboard.type("abel@example.org")
    _tab_to(page, "#optout-claimed")
    page.keyboard.press("Enter")
    page.wait_for_selector("#receipt-id")
    assert page.inner_text("#request-status") == "received"
    assert (
        "1 claimed" in page.inner_text("#faces-review") and "abel@example.org" not in page.content()
    )
    _shot(page, "17-claim-receipt")
    assert errors == []  # no CSP violation or script error
