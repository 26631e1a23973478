"""The library object (issue 11 item 6): ``faceledger.FaceLedger(settings)`` runs the lifecycle
with the real detector and the deployment's one law set; the CLI and the portal wrap it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import faceledger
from faceledger import FaceLedger, Intake, load_settings
from faceledger.errors import NoLedgerError
from faceledger.store.tables import AUDIT, FACES, REQUESTS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _settings(tmp_path: Path, **more: Any) -> Any:
    return load_settings(**{
        "database_url": f"sqlite:///{tmp_path / 'ledger.db'}", "data_dir": tmp_path / "data",
        "processor_location": "US-IL", "retention_limit_days": 1095, **more,
    })  # fmt: skip


def test_reading_never_creates_a_ledger(tmp_path: Path) -> None:
    fl = FaceLedger(_settings(tmp_path))
    assert fl.settings.purpose == "train-face-recognition" and not fl.is_open
    with pytest.raises(NoLedgerError):
        _ = fl.ledger
    assert not (tmp_path / "ledger.db").exists()


def test_the_lifecycle_through_the_library(tmp_path: Path) -> None:
    with FaceLedger(_settings(tmp_path), create=True) as fl:
        assert fl.ingest(EXAMPLES / "photos.csv").added == 10
        scanned = fl.scan()
        assert scanned.faces_found >= 10, scanned
        assessed = fl.assess()
        assert assessed.faces == scanned.faces_found
        assert assessed.policy_versions == {p.id: p.version for p in fl.policies}
        with fl.ledger.read() as conn:
            first = conn.execute(select(func.min(FACES.c.id))).scalar_one()
        explained = fl.explain(int(first))
        assert explained["face"]["id"] == first and not explained["changed"]
        assert explained["recorded"]["policy_versions"] == assessed.policy_versions
        record = fl.file_request(Intake(kind="erasure", owner="70000001@N01", law="gdpr"))
        assert record.receipt and record.key_value == "70000001@N01"
        report = fl.report()
        assert report["collection"]["totals"]["photos"] == 10
        assert report["collection"]["totals"]["faces"] == scanned.faces_found
        ledger = fl.ledger
    assert not fl.is_open  # closed, with the audit log checkpointed
    with ledger.read() as conn:
        assert conn.execute(select(func.count()).select_from(REQUESTS)).scalar_one() == 1
        actors = set(conn.execute(select(AUDIT.c.actor)).scalars())
    assert "library" in actors


def test_a_ledger_handed_in_is_left_open_for_its_owner(tmp_path: Path, ledger: Any) -> None:
    fl = FaceLedger(_settings(tmp_path, database_url=str(ledger.engine.url.render_as_string(hide_password=False))),
                    ledger=ledger)  # fmt: skip
    fl.ingest(EXAMPLES / "photos.csv")
    fl.close()
    with ledger.read() as conn:  # still usable
        assert conn.execute(select(func.count()).select_from(FACES)).scalar_one() == 0


def test_the_cli_and_the_portal_wrap_the_same_object(tmp_path: Path) -> None:
    from faceledger.cli._common import CliState
    from faceledger.web import create_app

    settings = _settings(tmp_path)
    state = CliState(
        overrides={"database_url": settings.database_url, "data_dir": settings.data_dir}
    )
    assert isinstance(state.app(create=True), faceledger.FaceLedger)
    app = create_app(settings, ledger=state.ledger())
    assert isinstance(app.state.portal.app, faceledger.FaceLedger)
    assert app.state.portal.ledger is state.ledger()
    state.close()


def test_a_detector_can_be_injected(tmp_path: Path, fake_detector: Any) -> None:
    """The library takes a detector (here the test fake with two boxes) instead of CenterFace."""
    with FaceLedger(
        _settings(tmp_path),
        create=True,
        detector=fake_detector(boxes=[(10, 10, 60, 70), (80, 10, 130, 70)]),
    ) as fl:
        fl.ingest(EXAMPLES / "photos.csv")
        report = fl.scan()
        assert report.faces_found == 2 * 10 and report.detector.name == "fake"
