"""Every public and console page in a real headless Chromium (Debian's /usr/bin/chromium via
Playwright), checked by axe-core (the ``axe-playwright-python`` package's bundled axe.min.js):
zero serious or critical violations, and no sideways scrolling at 1280 px and 390 px wide
(``document.scrollingElement.scrollWidth <= innerWidth``). A screenshot of each page at each
width goes to test-artifacts/a11y/.

The ledger is real: the sample photos scanned by the real detector, assessed (processing in
Florida), one face claimed and consented for, templates extracted, so the selfie search finds
a face. In CI (CI=true) a missing Chromium is a failure; elsewhere the test is skipped.
"""

from __future__ import annotations

import json
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
ARTIFACTS = REPO / "test-artifacts" / "a11y"
CHROMIUM = os.environ.get("FACELEDGER_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync"]  # fmt: skip
NSID = "70000005@N01"  # ex-0005, CC BY: a thumbnail with its face boxes
SELFIE = REPO / "examples" / "photos" / "Abel_Pacheco_0004.jpg"
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}
SERIOUS = ("serious", "critical")


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
def app_server(prepared: Any, web_settings: Any) -> Iterator[Any]:
    """The portal on a loopback port: ``.url`` and its ``.portal`` (to seal face handles)."""
    from types import SimpleNamespace

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
        time.sleep(0.05)  # waiting for start-up, not for a result: the assert below is exact
    assert uvicorn_server.started, "uvicorn did not start"
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", portal=app.state.portal)
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


class Checker:
    """Runs axe and the overflow check on the current page at every width; collects problems."""

    def __init__(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.problems: list[str] = []
        self.pages: list[str] = []

    def check(self, page: Any, name: str) -> None:
        self.pages.append(name)
        for label, (width, height) in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_load_state("load")
            results = self.axe.run(page, options={"resultTypes": ["violations"]}).response
            for violation in results["violations"]:
                if violation.get("impact") in SERIOUS:
                    targets = [" ".join(map(str, n.get("target", []))) for n in violation["nodes"]][
                        :3
                    ]
                    self.problems.append(f"{name} @{width}px: axe {violation['id']} ({violation['impact']}): "
                                         f"{violation['help']} at {targets}")  # fmt: skip
            scroll, inner = page.evaluate(
                "[document.scrollingElement.scrollWidth, window.innerWidth]"
            )
            if scroll > inner:
                wide = page.evaluate(
                    """(w) => [...document.querySelectorAll('body *')]
                        .filter(e => e.getBoundingClientRect().right > w + 0.5)
                        .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                        + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : ''))""",
                    inner,
                )  # fmt: skip
                self.problems.append(
                    f"{name} @{width}px: scrolls sideways ({scroll} > {inner}): {wide}"
                )
            directory = ARTIFACTS / label
            directory.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(directory / f"{name}.png"), full_page=True)
        page.set_viewport_size({"width": WIDTHS["wide"][0], "height": WIDTHS["wide"][1]})


def test_every_page_passes_axe_and_fits_1280_and_390_px(
    app_server: Any, browser: Any, corpus: Any
) -> None:
    from faceledger.services.people.claims import face_for
    from faceledger.services.portal.users import add_user
    from faceledger.web.present import face_ref

    server = app_server.url

    _, token = add_user(corpus, "owner", role="admin")
    check = Checker()
    control = browser.new_page()  # the checker can fail: a page with known faults is caught
    control.set_content(
        '<html><body><img src="data:,"><p style="color:#aaa;background:#fff">faint</p></body></html>'
    )
    check.check(control, "00-control")
    caught = " ".join(check.problems)
    assert "axe image-alt" in caught and "axe html-has-lang" in caught, check.problems
    check.problems.clear()
    check.pages.clear()
    errors: list[str] = []
    person = browser.new_page()
    person.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # the public pages
    person.goto(server + "/")
    check.check(person, "01-home")
    person.goto(server + f"/search?owner={NSID}")
    person.wait_for_selector("#result-count")
    check.check(person, "02-results-owner")
    person.goto(server + "/search?tag=family")
    check.check(person, "03-tag")
    person.goto(server + "/search?owner=nobody-at-all")
    check.check(person, "04-no-results")
    person.goto(server + f"/search?owner={NSID}")
    person.click("#prove-owner-start")
    person.wait_for_selector("#verify-code")
    check.check(person, "05-verify")
    person.goto(server + "/search?photo=ex-0003")
    person.wait_for_selector("svg.faces a.face-box")
    check.check(person, "06-results-photo")
    person.click("svg.faces a.face-box")
    person.wait_for_selector("#claim-form")
    check.check(person, "07-claim")
    person.check("#attest")
    person.click("#claim-submit")
    person.wait_for_selector("#claim-receipt")
    check.check(person, "08-claimed")
    person.goto(server + "/search?photo=ex-0003")
    person.click(".photo form[action='/requests'] button[type=submit]")
    person.wait_for_selector("#receipt-id")
    check.check(person, "09-receipt")
    person.goto(server + "/requests")
    check.check(person, "10-receipt-lookup")
    person.goto(server + "/selfie")
    check.check(person, "11-selfie")
    person.set_input_files("#image", str(SELFIE))
    person.check("#consent")
    person.click("#selfie-search")
    person.wait_for_selector("#result-count")
    check.check(person, "12-selfie-results")
    assert errors == [], errors
    person.goto(server + "/no-such-page")
    check.check(person, "13-error")
    assert [e for e in errors if "404" not in e] == []  # the browser logs the 404 it was asked for
    errors.clear()

    # the face pages: the portal's (a sealed handle) and the console's
    face = face_for(corpus, photo="ex-0005", index=0)
    nd_face = face_for(corpus, photo="ex-0007", index=0)  # CC BY-ND: boxes on a blank frame
    person.goto(server + f"/faces/{face_ref(app_server.portal, face)}")
    person.wait_for_selector("#face-figure")
    check.check(person, "14-face-public")
    person.goto(server + f"/faces/{face_ref(app_server.portal, nd_face)}")
    assert person.query_selector("#blank-frame") is not None
    check.check(person, "15-face-public-no-thumbnail")

    owner = browser.new_page()
    owner.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    owner.goto(server + "/console")
    check.check(owner, "20-console-login")
    owner.fill("#name", "owner")
    owner.fill("#token", token)
    owner.click("#login")
    owner.wait_for_selector("#queue")
    check.check(owner, "21-console-queue")
    request_id = owner.get_attribute("#queue tr[data-request]", "data-request")
    owner.goto(server + f"/console/requests/{request_id}")
    check.check(owner, "22-console-request")
    for path, name in (("/console/exposure", "23-console-exposure"), ("/console/consents", "24-console-consents"),
                       ("/console/releases", "25-console-releases"), ("/console/audit", "26-console-audit")):  # fmt: skip
        owner.goto(server + path)
        check.check(owner, name)
    owner.select_option("#filter-event", "claim.add")
    owner.click("#filter-apply")
    owner.wait_for_selector("#filter-summary")
    names = owner.eval_on_selector_all(
        "#audit tr[data-event] .event-name", "cells => cells.map(c => c.textContent)"
    )
    assert names and set(names) == {"claim.add"}, names
    check.check(owner, "27-console-audit-filtered")
    owner.click("#verify-audit")
    assert "The chain verifies" in owner.inner_text("#audit-result")
    owner.goto(server + f"/console/faces/{face}")
    owner.wait_for_selector("#face-figure")
    assert "owner-profile-code" in owner.inner_text("#claims")
    check.check(owner, "28-console-face")
    owner.goto(server + f"/console/faces/{nd_face}")
    check.check(owner, "29-console-face-no-thumbnail")

    assert len(check.pages) >= 25
    assert not check.problems, "\n".join(check.problems)
    assert errors == [], errors  # no CSP violation or script error on any page
    (ARTIFACTS / "pages.json").write_text(
        json.dumps({"pages": check.pages, "widths": WIDTHS}, indent=1)
    )
