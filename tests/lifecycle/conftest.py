"""A small corpus taken through ingest, scan, assess and extract, for the release, request
and retention tests (real detector and embedder; processing in Florida, so the Florida faces
are allowed and the Chicago face is blocked by BIPA until its owner consents)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from faceledger.config import Settings, load_settings
from faceledger.services.biometrics.extract import extract_templates
from faceledger.services.collection.ingest import ingest_paths
from faceledger.services.collection.scan import scan_pending
from faceledger.services.decisions.assess import assess_faces
from faceledger.services.people.verification import IdentityEvidence
from faceledger.store import Ledger
from faceledger.store.vault import KeyVault

PHOTOS_DIR = Path(__file__).resolve().parents[2] / "examples" / "photos"
SELFIE = PHOTOS_DIR / "Abel_Pacheco_0004.jpg"  # not in the corpus; same person as abel.jpg
MIAMI = ("Miami, FL", "25.7617", "-80.1918")
CHICAGO = ("Chicago, IL", "41.8781", "-87.6298")
CORPUS = [  # file, source image, owner, place, tags
    ("abel.jpg", "Abel_Pacheco_0001.jpg", "owner-a@N01", MIAMI, "portrait,costa rica"),
    ("abel_mirror.jpg", "Abel_Pacheco_0001.jpg", "owner-a@N01", MIAMI, "mirror"),
    ("alan.jpg", "Alan_Dershowitz_0001.jpg", "owner-b@N01", MIAMI, "portrait"),
    ("afton.jpg", "Afton_Smith_0001.jpg", "owner-c@N01", CHICAGO, "portrait"),
    ("group.jpg", "2008_001009.jpg", "owner-d@N01", MIAMI, "party"),
]


def write_corpus(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    with (root / "photos.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "path", "owner_id", "owner_location", "latitude", "longitude",
                         "tags", "download_url", "page_url", "license_name"])  # fmt: skip
        for name, source, owner, (place, lat, lon), tags in CORPUS:
            if not (root / name).exists():
                with Image.open(PHOTOS_DIR / source) as image:
                    flip = Image.Transpose.FLIP_LEFT_RIGHT
                    picture = image.transpose(flip) if "mirror" in name else image.copy()
                picture.save(root / name, quality=95)
            stem = name.removesuffix(".jpg")
            writer.writerow([stem, name, owner, place, lat, lon, tags,
                             f"https://photos.example/{stem}.jpg",
                             f"https://photos.example/p/{stem}", "CC BY 2.0"])  # fmt: skip
    return root


@dataclass
class World:
    ledger: Ledger
    settings: Settings
    vault: KeyVault
    corpus: Path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        workers=1, processor_location="US-FL", data_dir=tmp_path / "data", retention_limit_days=1095
    )


@pytest.fixture
def world(ledger: Ledger, tmp_path: Path, settings: Settings) -> World:
    """The corpus ingested, scanned, assessed and extracted for the default purpose."""
    corpus = write_corpus(tmp_path / "corpus")
    ingest_paths(ledger, [corpus])
    scan_pending(ledger, settings)
    assess_faces(ledger, settings, purpose=settings.purpose)
    vault = KeyVault.open(settings)
    extract_templates(ledger, vault, settings, purpose=settings.purpose)
    return World(ledger, settings, vault, corpus)


ALAN = PHOTOS_DIR / "Alan_Dershowitz_0001.jpg"


def owner_proof(owner_id: str) -> IdentityEvidence:
    """Verified ownership of ``owner_id`` (what the portal's profile-code check records)."""
    return IdentityEvidence(
        "owner-profile-code", True, {"owner_id": owner_id, "verifier": "test"}, datetime.now(UTC)
    )
