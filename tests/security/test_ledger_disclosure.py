"""Finding 19: marking a consumer notified wrote no audit event; every disclosure step is
audited now (consumer.add, the notices due in request.executed, consumer.notified)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from faceledger.config import load_settings
from faceledger.errors import ReleaseError
from faceledger.services.lifecycle.release_consumers import add_consumer, mark_notified
from faceledger.services.lifecycle.releases import create_release
from faceledger.store import Ledger
from faceledger.store.audit import verify_chain
from faceledger.store.schema import AuditEvent, ConsumerNotice, Request
from faceledger.store.vault import KeyVault


def _events(ledger: Ledger, name: str) -> list[AuditEvent]:
    with ledger.read() as conn:
        return list(conn.execute(select(AuditEvent.__table__).where(AuditEvent.name == name)).all())


def test_marking_a_consumer_notified_is_audited(ledger: Ledger, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    version = create_release(
        ledger,
        KeyVault.open(settings),
        settings,
        name="r",
        purpose="fairness-audit",
        allow_empty=True,
    )  # an empty ledger: an empty version, on purpose
    consumer = add_consumer(ledger, name="lab", ref=version.ref, contact="dpo@lab.example")
    now = datetime.now(UTC)
    with ledger.begin() as conn:  # a notice owed, as an executed request leaves it
        request_id = conn.execute(
            Request.__table__.insert().values(receipt="r1", kind="erasure", key_type="photo", key_value="x",
                                              law="gdpr", status="executed", received_at=now,
                                              deadline=date.today()).returning(Request.__table__.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(ConsumerNotice.__table__.insert().values(
            consumer_id=consumer["id"], request_id=request_id, version_id=None, due_at=now))  # fmt: skip

    assert mark_notified(ledger, consumer_id=consumer["id"], actor="dpo") == 1
    (event,) = _events(ledger, "consumer.notified")
    assert (event.actor, event.object_type, event.object_id) == (
        "dpo",
        "consumer",
        str(consumer["id"]),
    )
    assert event.payload == {"consumer": consumer["id"], "notices": 1, "requests": [request_id]}
    assert "dpo@lab.example" not in str(event.payload)
    assert mark_notified(ledger, consumer_id=consumer["id"]) == 0  # told again: still recorded
    assert len(_events(ledger, "consumer.notified")) == 2
    with ledger.read() as conn:
        assert verify_chain(conn) is None


def test_an_unknown_consumer_cannot_be_marked_notified(ledger: Ledger) -> None:
    with pytest.raises(ReleaseError, match="no consumer 999"):
        mark_notified(ledger, consumer_id=999)
    assert _events(ledger, "consumer.notified") == []
