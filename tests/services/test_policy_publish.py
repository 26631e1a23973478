"""`policy publish` records the BIPA 15(a) publication in the ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from faceledger.config import load_settings
from faceledger.core.law import load_policies
from faceledger.services.decisions.policy_publish import (
    publish_policy,
    retention_schedule_published,
)
from faceledger.store.audit import verify_chain
from faceledger.store.tables import AUDIT


def test_publish_records_the_date_and_the_earliest_one_counts(ledger: Any, tmp_path: Path) -> None:
    policies, settings = load_policies(), load_settings()
    assert retention_schedule_published(ledger) is None
    for folder, day in (("a", date(2024, 3, 1)), ("b", date(2024, 1, 15))):
        publish_policy(policies, settings, out=tmp_path / folder, published=day, ledger=ledger)
    assert retention_schedule_published(ledger) == date(2024, 1, 15)
    with ledger.read() as conn:
        payloads = [row[0] for row in conn.execute(
            select(AUDIT.c.payload).where(AUDIT.c.name == "policy.publish"))]  # fmt: skip
    assert len(payloads) == 2
    assert payloads[0]["policy_versions"]["us-il-bipa"] == "2024-08-02-r2"
    assert set(payloads[0]) == {"published", "policy_versions", "sha256"}  # no paths
    with ledger.read() as conn:
        assert verify_chain(conn) is None


def test_publish_without_a_ledger_writes_files_only(tmp_path: Path) -> None:
    paths = publish_policy(load_policies(), load_settings(), out=tmp_path,
                           published=date(2025, 1, 1))  # fmt: skip
    assert [p.name for p in paths] == ["retention-policy.md", "retention-policy.html"]
