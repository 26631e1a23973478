"""One law set per deployment (issue 11 item 2): the shipped laws plus ``policy_dir``, built
from Settings by ``laws_for`` and handed to every service by the CLI and the portal alike. No
service falls back to the shipped laws on its own, so a consent imported in the console is
decided under the same laws as one imported with ``faceledger consent import``."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from faceledger.core.law.loader import SHIPPED_PACKAGE
from faceledger.errors import PolicyError
from faceledger.services.decisions.policy import laws_for

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
OVERRIDE = "2099-01-01-local"


def _override_bipa(folder: Path, version: str = OVERRIDE) -> Path:
    """A copy of the shipped BIPA file under ``folder`` with its own version string."""
    from importlib.resources import files

    text = (files(SHIPPED_PACKAGE) / "us-il-bipa.yaml").read_text(encoding="utf-8")
    shipped = next(line for line in text.splitlines() if line.startswith("version:"))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "us-il-bipa.yaml"
    target.write_text(text.replace(shipped, f'version: "{version}"'), encoding="utf-8")
    return target


def _settings(tmp_path: Path, **more: Any) -> Any:
    from faceledger.config import load_settings

    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", data_dir=tmp_path / "data",
        processor_location="US-IL", retention_limit_days=1095, **more,
    )  # fmt: skip


def _bipa(policies: list[Any]) -> str:
    return str({p.id: p for p in policies}["us-il-bipa"].version)


def test_the_law_set_is_the_shipped_laws_plus_policy_dir_and_follows_its_files(
    tmp_path: Path,
) -> None:
    shipped = laws_for(_settings(tmp_path))
    assert _bipa(shipped) != OVERRIDE
    target = _override_bipa(tmp_path / "laws")
    settings = _settings(tmp_path, policy_dir=tmp_path / "laws")
    assert _bipa(laws_for(settings)) == OVERRIDE
    assert len(laws_for(settings)) == len(shipped)
    # an edited file is read again (same size, a later mtime), never served stale
    _override_bipa(tmp_path / "laws", version="2099-01-02-local")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert _bipa(laws_for(settings)) == "2099-01-02-local"
    # a broken file fails closed, naming the file
    target.write_text("id: [", encoding="utf-8")
    with pytest.raises(PolicyError, match="us-il-bipa"):
        laws_for(settings)


def test_cli_and_portal_hold_the_same_law_set(tmp_path: Path) -> None:
    from faceledger.cli._common import CliState
    from faceledger.store import open_ledger
    from faceledger.web import create_app

    _override_bipa(tmp_path / "laws")
    settings = _settings(tmp_path, policy_dir=tmp_path / "laws")
    state = CliState(overrides={"database_url": settings.database_url, "data_dir": settings.data_dir,
                                "policy_dir": tmp_path / "laws"})  # fmt: skip
    app = create_app(settings, ledger=open_ledger(settings.database_url, create=True))
    cli_laws = {p.id: p.version for p in state.policies()}
    portal_laws = {p.id: p.version for p in app.state.portal.policies}
    assert cli_laws == portal_laws and cli_laws["us-il-bipa"] == OVERRIDE


@pytest.mark.parametrize(
    "service",
    ["faceledger.services.people.claims:add_claim", "faceledger.services.people.claims:revoke_claim",
     "faceledger.services.people.consent:add_consent", "faceledger.services.people.consent:revoke_consent",
     "faceledger.services.people.consent:import_consents", "faceledger.services.decisions.explain:explain_face",
     "faceledger.services.portal.face_view:face_view", "faceledger.services.decisions.exposure:ledger_exposure",
     "faceledger.services.decisions.redecide:reassess_decided", "faceledger.services.decisions.assess:assess_face_ids",
     "faceledger.services.oversight.report_numbers:report_numbers"],
)  # fmt: skip
def test_no_service_without_settings_defaults_its_laws(service: str) -> None:
    """A service that cannot see Settings must be handed the law set: no silent default."""
    import importlib

    module, name = service.split(":")
    parameter = inspect.signature(getattr(importlib.import_module(module), name)).parameters[
        "policies"
    ]
    assert parameter.default is inspect.Parameter.empty, f"{service} defaults policies"


def test_a_consent_imported_in_the_console_is_decided_under_policy_dir(
    tmp_path: Path, fake_scan: Any
) -> None:
    """The console's import re-decides the owner's faces with the deployment's laws (the
    override's version is recorded), exactly as ``faceledger consent import`` does."""
    from fastapi.testclient import TestClient

    from faceledger.services.collection.ingest import ingest_paths
    from faceledger.services.decisions.assess import assess_faces
    from faceledger.services.portal.users import add_user
    from faceledger.store import open_ledger
    from faceledger.store.tables import AUDIT
    from faceledger.web import create_app

    _override_bipa(tmp_path / "laws")
    settings = _settings(
        tmp_path, policy_dir=tmp_path / "laws", web_trusted_hosts=["127.0.0.1", "testserver"],
        web_flickr_profiles=tmp_path / "profiles.json",
    )  # fmt: skip
    ledger = open_ledger(settings.database_url, create=True)
    ingest_paths(ledger, [EXAMPLES / "photos.csv"])
    fake_scan(ledger)
    assess_faces(ledger, settings, actor="test")
    token = add_user(ledger, "ada", role="admin")[1]
    csv = b"owner_id,form,purposes,informed,granted\n70000003@N01,written,train-face-recognition,yes,2024-01-01\n"
    with TestClient(create_app(settings, ledger=ledger), base_url="http://127.0.0.1") as client:
        response = client.post(
            "/api/v1/console/consents/import", headers={"Authorization": f"Bearer {token}"},
            files={"file": ("consents.csv", csv, "text/csv")},
        )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1
    with ledger.read() as conn:
        runs = conn.execute(
            select(AUDIT.c.payload).where(AUDIT.c.name == "assess.run").order_by(AUDIT.c.id)
        ).scalars().all()  # fmt: skip
    payloads = [p if isinstance(p, dict) else json.loads(p) for p in runs]
    redecided = [p for p in payloads if p.get("scope") == "faces"]
    assert redecided, f"the import re-decided nothing: {payloads}"
    assert all(p["policy_versions"]["us-il-bipa"] == OVERRIDE for p in payloads)
