"""Retention: a frozen clock decides what is due; dry-run destroys nothing; a revoked
consent's templates are destroyed by the next sweep; the public policy is published."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from faceledger.core.law import load_policies
from faceledger.services.consent import add_consent, revoke_consent
from faceledger.services.extract import extract_templates
from faceledger.services.policy_publish import publish_policy
from faceledger.services.retention import sweep
from faceledger.store.audit import verify_chain
from faceledger.store.schema import Destruction, FaceDecision, Subject, Template

pytestmark = pytest.mark.integration
T, S, D = Template.__table__, Subject.__table__, Destruction.__table__


def _consent_afton(world) -> int:  # type: ignore[no-untyped-def]
    """Chicago's owner consents, so BIPA allows afton's face and sets a destroy-by date."""
    change = add_consent(world.ledger, owner_id="owner-c@N01", form="written",
                         purposes=[world.settings.purpose], informed=True, granted=date(2025, 1, 10))  # fmt: skip
    extract_templates(world.ledger, world.vault, world.settings, purpose=world.settings.purpose)
    return change.consent.id


def _count(ledger, table) -> int:  # type: ignore[no-untyped-def]
    with ledger.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_sweep_with_a_frozen_clock_destroys_only_what_is_due(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault = world.ledger, world.vault
    _consent_afton(world)
    with ledger.read() as conn:
        due = conn.execute(
            select(func.min(FaceDecision.destroy_by)).where(FaceDecision.destroy_by.is_not(None))
        ).scalar_one()
    today = datetime.now(UTC).date()
    assert due is not None and due > today + timedelta(days=365 * 2)  # BIPA: 3 years
    templates = _count(ledger, T)

    assert sweep(ledger, vault, on=today).faces == 0
    later = due + timedelta(days=1)
    preview = sweep(ledger, vault, on=later, dry_run=True)
    assert (preview.faces, preview.by_reason) == (1, {"retention": 1})
    assert _count(ledger, T) == templates and _count(ledger, D) == 0  # dry run: nothing goes

    report = sweep(ledger, vault, on=later)
    assert (report.faces, report.templates, report.keys_shredded) == (1, 2, 1)
    assert _count(ledger, T) == templates - 2
    with ledger.read() as conn:
        cert = conn.execute(select(D)).one()
        assert (cert.reason, cert.destroy_by, cert.key_shredded) == ("retention", due, True)
        assert len(cert.certificate) == 64
        assert verify_chain(conn) is None
    assert sweep(ledger, vault, on=later).faces == 0  # idempotent
    again = extract_templates(ledger, vault, world.settings, purpose=world.settings.purpose)
    assert again.extracted == 0  # a face destroyed for retention is not extracted again


def test_revoked_consent_templates_are_destroyed_by_the_next_sweep(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault = world.ledger, world.vault
    consent_id = _consent_afton(world)
    templates = _count(ledger, T)
    revoke_consent(ledger, consent_id)
    report = sweep(ledger, vault)
    assert (report.faces, report.by_reason, report.keys_shredded) == (1, {"blocked": 1}, 1)
    assert _count(ledger, T) == templates - 2
    with ledger.read() as conn:
        assert conn.execute(select(func.count()).where(S.c.status == "shredded")).scalar_one() == 1


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_policy_publish_writes_the_bipa_schedule(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = publish_policy(load_policies(), world.settings, out=tmp_path / "site", published=date(2025, 5, 1))
    markdown, page = (p.read_text() for p in paths)
    assert "15(a)" in markdown and "36 months after the person's last interaction" in markdown
    assert "GDPR: 1 month" in markdown
    assert page.startswith("<!doctype html>") and "<table>" in page and "<ul>" in page
