"""Request intake rules (issue 11 item 3): one ``file_request`` for the CLI and the portal,
refusing before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from faceledger.errors import RequestError
from faceledger.services.lifecycle.request_intake import Intake, file_request
from faceledger.store.tables import REQUESTS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def settings(tmp_path: Path, ledger_url: str) -> Any:
    from faceledger.config import load_settings

    return load_settings(database_url=ledger_url, data_dir=tmp_path / "data")


def _count(ledger: Any) -> int:
    with ledger.read() as conn:
        return int(conn.execute(select(func.count()).select_from(REQUESTS)).scalar_one())


@pytest.mark.parametrize(
    ("intake", "needle"),
    [
        (Intake(kind="erasure"), "exactly one of"),
        (Intake(kind="erasure", photo="1", url="http://x/1.jpg"), "exactly one of"),
        (Intake(kind="optout", tag="holiday"), "give the owner too"),
        (Intake(kind="optout", claims=(1,), selfie=Path("me.jpg")), "not both"),
        (Intake(kind="access", owner="70000001@N01", channel="portal"), "kind: 'access' cannot be filed here"),
        (Intake(kind="optout", owner="70000001@N01", channel="fax"), "channel 'fax'"),
        (Intake(kind="optout", owner="70000001@N01", law="bipa"), "law: 'bipa' has no deadline"),
    ],
)  # fmt: skip
def test_a_bad_intake_is_refused_naming_the_field_and_files_nothing(
    ledger: Any, settings: Any, intake: Intake, needle: str
) -> None:
    from faceledger.services.collection.ingest import ingest_paths

    ingest_paths(ledger, [EXAMPLES / "photos.csv"])
    opened: list[int] = []
    with pytest.raises(RequestError, match=needle):
        file_request(ledger, settings, lambda: opened.append(1), intake)  # type: ignore[arg-type, func-returns-value]
    assert _count(ledger) == 0 and opened == []


def test_an_owner_request_and_a_tag_request_are_filed_without_opening_the_vault(
    ledger: Any, settings: Any
) -> None:
    from faceledger.services.collection.ingest import ingest_paths

    ingest_paths(ledger, [EXAMPLES / "photos.csv"])
    opened: list[int] = []
    vault = lambda: opened.append(1)  # noqa: E731 - no contact, nothing to encrypt
    owner = file_request(
        ledger, settings, vault, Intake(kind="erasure", owner="70000001@N01", law="gdpr")
    )  # type: ignore[arg-type]
    tag = file_request(
        ledger, settings, vault, Intake(kind="optout", owner="70000001@N01", tag="holiday")
    )  # type: ignore[arg-type]
    assert (owner.key_type, owner.key_value, owner.law) == ("owner", "70000001@N01", "gdpr")
    assert (tag.key_type, tag.key_value) == ("tag", "holiday")
    assert opened == [] and _count(ledger) == 2


@pytest.mark.parametrize(
    ("consent", "status"),
    [
        ({"granted": "2999-01-01"}, "pending"),  # granted in the future: not valid yet
        ({"form": "none"}, "refused"),  # a refusal is never a consent
        ({"granted": "2024-01-01", "revoked": "2024-06-01"}, "revoked"),
    ],
)  # fmt: skip
def test_a_selfie_request_needs_a_consent_valid_today_by_the_one_rule(
    ledger: Any, settings: Any, tmp_path: Path, consent: dict[str, str], status: str
) -> None:
    """The selfie request uses ConsentRecord.status_on (== the engine's Consent.active_on), not
    a rule of its own: a consent granted in the future, a refusal or a revoked one is refused
    before any face is compared."""
    from datetime import date

    from faceledger.services.people.consent import add_consent, revoke_consent

    values = {"granted": date.fromisoformat(consent.get("granted", "2024-01-01"))}
    change = add_consent(
        ledger, owner_id="selfie-requester:test", form=consent.get("form", "electronic"),
        purposes=["match-optout"], informed=True, actor="test", policies=[], **values,
    )  # fmt: skip
    if "revoked" in consent:
        revoke_consent(
            ledger, change.consent.receipt, on=date.fromisoformat(consent["revoked"]), policies=[]
        )
    unused_vault = object()  # the consent is checked before the vault or the selfie is touched
    with pytest.raises(RequestError, match=f"does not cover 'match-optout' today \\({status}\\)"):
        file_request(
            ledger,
            settings,
            unused_vault,  # type: ignore[arg-type]
            Intake(kind="erasure", selfie=tmp_path / "missing.jpg", consent=change.consent.receipt),
        )
    assert _count(ledger) == 0
