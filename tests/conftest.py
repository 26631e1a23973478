"""Shared fixtures: a clean environment, a fresh ledger per test on every backend, the real
detector loaded once per session, and paths to test data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SHARED_DATA = Path(os.environ.get("FACELEDGER_SHARED_DATA", REPO.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get(
    "FACELEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FACELEDGER_* setting leaks in from the developer's shell; work in a temp folder."""
    for name in list(os.environ):
        if name.startswith("FACELEDGER_") and name not in (
            "FACELEDGER_TEST_POSTGRES_URL",
            "FACELEDGER_SHARED_DATA",
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _postgres_or_skip() -> None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        message = (
            f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}). "
            "Set FACELEDGER_TEST_POSTGRES_URL to a server you can create schemas on."
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty ledger database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[object]:
    from faceledger.store import open_ledger

    handle = open_ledger(ledger_url)
    yield handle
    handle.dispose()


@pytest.fixture(scope="session")
def detector() -> object:
    """The real CenterFace detector, loaded once for the whole session."""
    from faceledger.vision.centerface import CenterFace

    return CenterFace(threshold=0.4, threads=2)


def shared_data(name: str) -> Path:
    """A folder of ../shared/data; required in CI, skipped with a message elsewhere."""
    path = SHARED_DATA / name
    if not path.is_dir():
        message = (
            f"test data {path} not found; set FACELEDGER_SHARED_DATA to the shared/data folder"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def wider_dir() -> Path:
    return shared_data("wider_face_val_subset")


@pytest.fixture
def dlib_dir() -> Path:
    return shared_data("dlib_pascal_group_faces")


@pytest.fixture
def yfcc_tsv() -> Path:
    return shared_data("yfcc100m_sample") / "yfcc100m_rows_0000-0499.tsv"


@pytest.fixture
def lfw_dir() -> Path:
    return shared_data("lfw_verification")


@pytest.fixture
def publish_schedule():  # type: ignore[no-untyped-def]
    """A callable ``publish(ledger, on="2024-01-15")`` that records a published retention
    schedule (BIPA 15(a)) through ``policy publish``'s own ``record_publication`` (a
    ``policy.publish`` audit event; assess reads the earliest date)."""
    from datetime import date

    from faceledger.core.law import load_policies
    from faceledger.services.decisions.policy_publish import record_publication

    def publish(ledger, on: str = "2024-01-15") -> None:  # type: ignore[no-untyped-def]
        record_publication(ledger, load_policies(), published=date.fromisoformat(on),
                           document="test schedule", actor="test")  # fmt: skip

    return publish


@pytest.fixture
def diveface_dir() -> Path:
    """DiveFace / MegaFace identity lists: GroupN_{Male,Female}_subset.txt and diveface_sample.csv."""
    return shared_data("diveface_megaface_sample")


@pytest.fixture
def subject_consent(publish_schedule):  # type: ignore[no-untyped-def]
    """A callable ``consent(ledger, face_ids, purpose, granted=date)`` with which each
    depicted person claims their own face (an attestation, no template) and signs a written,
    informed release for ``purpose`` (given by the subject, with signer, date and the form's
    hash), after a retention schedule is published (BIPA 15(a)). Returns the consent change."""
    from datetime import date

    from faceledger.core.law import load_policies
    from faceledger.services.people.claims import add_claim
    from faceledger.services.people.consent import add_consent
    from faceledger.services.people.verification import IdentityEvidence

    def consent(ledger, face_ids, purpose: str, granted: date = date(2025, 1, 10)):  # type: ignore[no-untyped-def]
        publish_schedule(ledger)
        attest = IdentityEvidence(
            kind="attestation", verified=False, detail={"statement": "this is me"}
        )
        claims = [
            add_claim(
                ledger,
                face_id=int(face),
                by="subject",
                evidence=attest,
                actor="test",
                policies=load_policies(),
            ).id
            for face in face_ids
        ]
        return add_consent(
            ledger, given_by="subject", claim_ids=claims, form="written", purposes=[purpose],
            informed=True, granted=granted, signer="Test Person", signed_on=granted,
            evidence_sha256="ab" * 32, policies=load_policies(),
        )  # fmt: skip

    return consent


#: Two fake face boxes per photo (x1, y1, x2, y2): index 0 and 1, side by side.
FAKE_BOXES = ((0.0, 0.0, 50.0, 50.0), (10.0, 0.0, 60.0, 50.0))


class FakeDetector:
    """A :class:`faceledger.vision.Detector` with no model: the same ``boxes`` in every image
    it is shown (in that image's pixels, score 0.9, five landmarks inside each box), or, for an
    image file named in ``by_image``, that file's own boxes. Named ``fake``, version ``0``."""

    def __init__(self, boxes=FAKE_BOXES, by_image=None, *, max_side=1600) -> None:  # type: ignore[no-untyped-def]
        from faceledger.core.faces import DetectorInfo

        self.info = DetectorInfo("fake", "0", 0.4)
        self.boxes = tuple(boxes)
        self.calls = 0
        self._by_pixels = {
            self._key(path, max_side): tuple(b) for path, b in (by_image or {}).items()
        }

    @staticmethod
    def _key(path: Path, max_side: int) -> str:
        import hashlib

        from faceledger.vision.images import load_image

        rgb = load_image(Path(path), max_pixels=10**9, max_side=max_side).rgb
        return hashlib.sha256(rgb.tobytes()).hexdigest()

    def detect(self, rgb):  # type: ignore[no-untyped-def]
        import hashlib

        from faceledger.core.faces import BBox, FaceDetection

        self.calls += 1
        boxes = self._by_pixels.get(hashlib.sha256(rgb.tobytes()).hexdigest(), self.boxes)
        faces = []
        for x1, y1, x2, y2 in boxes:
            w, h = x2 - x1, y2 - y1
            points = ((x1 + 0.3 * w, y1 + 0.4 * h), (x1 + 0.7 * w, y1 + 0.4 * h), (x1 + 0.5 * w, y1 + 0.6 * h),
                      (x1 + 0.35 * w, y1 + 0.8 * h), (x1 + 0.65 * w, y1 + 0.8 * h))  # fmt: skip
            faces.append(FaceDetection(BBox(x1, y1, x2, y2), 0.9, points))
        return faces


@pytest.fixture
def fake_detector():  # type: ignore[no-untyped-def]
    """A callable ``fake_detector(boxes=FAKE_BOXES, by_image=None)`` giving a
    :class:`FakeDetector` to inject into scan, detect or matching (``detector=``)."""
    return FakeDetector


@pytest.fixture
def fake_scan(fake_detector):  # type: ignore[no-untyped-def]
    """A callable ``fake_scan(ledger, boxes=FAKE_BOXES, size=None, by_image=None)`` standing in
    for the detector in tests of the policy layer (claims, consent, the face view): the real
    scan (``scan_pending``) runs over every pending photo with a :class:`FakeDetector`, so each
    gets one face per box (index = position), recorded as the scan records any face, by a
    detector named ``fake``. ``size`` (width, height) then overrides the photos' recorded pixel
    size. Returns the scan's report. The real detector's own tests are in
    test_detection_quality.py and tests/services/test_scan.py."""
    from faceledger.config import load_settings
    from faceledger.services.collection.scan import scan_pending
    from faceledger.store.tables import PHOTOS

    def scan(ledger, boxes=FAKE_BOXES, size=None, by_image=None):  # type: ignore[no-untyped-def]
        report = scan_pending(
            ledger, load_settings(), actor="test", detector=fake_detector(boxes, by_image)
        )
        assert report.photos_failed == 0, report.errors
        if size:
            with ledger.begin() as conn:
                conn.execute(PHOTOS.update().where(PHOTOS.c.scan_run_id == report.run_id)
                             .values(width=size[0], height=size[1]))  # fmt: skip
        return report

    return scan
