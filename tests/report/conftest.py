"""Shared fixtures for the report tests: the bundled sample collection taken through the
whole main job once (ingest, scan, assess in Washington, one consent, extract), and a way to
find the headless Chromium that renders and prints the report."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from faceledger.config import Settings, load_settings
from faceledger.core.law import load_policies
from faceledger.store import Ledger, open_ledger
from faceledger.store.vault import KeyVault

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
ARTIFACTS = REPO / "test-artifacts"
CONSENTING_OWNER = "70000003@N01"  # the Seattle photographer of examples/photos.csv
CHROMIUM = Path(os.environ.get("FACELEDGER_TEST_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Sample:
    """A built ledger: its folder, settings and an open handle."""

    root: Path
    settings: Settings
    ledger: Ledger

    def vault(self) -> KeyVault:
        return KeyVault.open(self.settings)


def sample_settings(root: Path) -> Settings:
    return load_settings(
        workers=1, processor_location="US-WA", data_dir=root / "data",
        database_url=f"sqlite:///{root / 'ledger.db'}",
    )  # fmt: skip


def build_sample(ledger: Ledger, settings: Settings, *, extract: bool = True) -> None:
    from faceledger.services.biometrics.extract import extract_templates
    from faceledger.services.collection.ingest import ingest_paths
    from faceledger.services.collection.scan import scan_pending
    from faceledger.services.decisions.assess import assess_faces
    from faceledger.services.people.consent import add_consent

    ingest_paths(ledger, [EXAMPLES])
    scan_pending(ledger, settings)
    assess_faces(ledger, settings, purpose=settings.purpose)
    add_consent(ledger, owner_id=CONSENTING_OWNER, form="written", informed=True,
                purposes=[settings.purpose], policies=load_policies())  # fmt: skip
    claim_owner_faces(ledger, settings.purpose)
    if extract:
        # the organisation keeps clockless (MHMDA) templates 3 years; the report is read without
        # that limit unless a test gives one, so the "no deadline" warning stays visible
        keeping = settings.model_copy(update={"retention_limit_days": 1095})
        extract_templates(ledger, KeyVault.open(settings), keeping, purpose=settings.purpose)


SIGNED_RELEASE_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def claim_owner_faces(ledger: Ledger, purpose: str) -> None:
    """The consenting owner's photo shows an adult and a child: an owner consent covers only
    faces claimed as the owner's own (migration 0008), so the owner claims the adult (with
    verified proof of the account) and, as the child's parent, claims the child and signs a
    representative's consent for it."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from faceledger.services.people.claims import add_claim
    from faceledger.services.people.consent import add_consent
    from faceledger.services.people.verification import IdentityEvidence
    from faceledger.store.schema import Face, Photo

    with ledger.read() as conn:
        faces = conn.execute(
            select(Face.id).join(Photo, Photo.id == Face.photo_id)
            .where(Photo.owner_id == CONSENTING_OWNER).order_by(Face.face_size.desc())
        ).scalars().all()  # fmt: skip
    proof = IdentityEvidence("owner-profile-code", True, {"owner_id": CONSENTING_OWNER, "verifier": "test"},
                             datetime.now(UTC))  # fmt: skip
    adult, *children = faces
    add_claim(
        ledger,
        face_id=adult,
        by="subject",
        is_photo_owner=True,
        evidence=proof,
        actor="test",
        policies=load_policies(),
    )
    for child in children:
        claim = add_claim(ledger, face_id=child, by="legal-representative", relationship="parent",
                          minor=True, evidence=proof, actor="test", policies=load_policies())  # fmt: skip
        add_consent(ledger, claim_ids=[claim.id], given_by="legal-representative", relationship="parent",
                    form="written", informed=True, purposes=[purpose], signer="A. Parent",
                    signed_on=datetime.now(UTC).date(), evidence_sha256=SIGNED_RELEASE_SHA256, policies=load_policies())  # fmt: skip


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample ledger on SQLite, built once; tests that change it use :func:`sample_copy`."""
    root = tmp_path_factory.mktemp("report-sample")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("FACELEDGER_")]:
            patch.delenv(name)
        patch.chdir(root)
        ledger = open_ledger(sample_settings(root).database_url)
        try:
            build_sample(ledger, sample_settings(root))
        finally:
            ledger.dispose()
    return root


@pytest.fixture
def sample(sample_root: Path) -> Iterator[Sample]:
    """The shared sample, read-mostly (a report run appends one audit event)."""
    settings = sample_settings(sample_root)
    ledger = open_ledger(settings.database_url)
    yield Sample(sample_root, settings, ledger)
    ledger.dispose()


@pytest.fixture
def sample_copy(sample_root: Path, tmp_path: Path) -> Iterator[Sample]:
    """A private copy of the sample ledger and its key vault, free to change."""
    root = tmp_path / "copy"
    shutil.copytree(sample_root, root)
    settings = sample_settings(root)
    ledger = open_ledger(settings.database_url)
    yield Sample(root, settings, ledger)
    ledger.dispose()


def chromium_or_skip() -> Path:
    """The system Chromium; a failure in CI, a skip (saying how to install it) elsewhere."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        message = "Playwright for Python is not installed: pip install 'faceledger[report]'"
    else:
        if CHROMIUM.is_file():
            return CHROMIUM
        message = (f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` "
                   "(or set FACELEDGER_TEST_CHROMIUM); never `playwright install`")  # fmt: skip
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
