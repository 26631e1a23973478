"""Retention: a frozen clock decides what is due; dry-run destroys nothing; a revoked
consent's templates are destroyed by the next sweep; the public policy is published; a closed
request's contact is forgotten after request_contact_days."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from tests.lifecycle.conftest import owner_proof

from faceledger.cli import main
from faceledger.config import load_settings
from faceledger.core.law import load_policies
from faceledger.errors import SweepNeedsConfirm
from faceledger.services.biometrics.extract import extract_templates
from faceledger.services.decisions.assess import assess_faces
from faceledger.services.decisions.policy_publish import publish_policy
from faceledger.services.lifecycle.requests import (
    confirm_request,
    execute_request,
    get_request,
    new_request,
    read_contact,
    reject_request,
    verify_request,
)
from faceledger.services.lifecycle.retention import sweep
from faceledger.services.people.claims import add_claim
from faceledger.services.people.consent import add_consent, revoke_consent
from faceledger.services.people.verification import IdentityEvidence
from faceledger.store.audit import verify_chain
from faceledger.store.schema import (
    AuditEvent,
    Destruction,
    Face,
    FaceDecision,
    Photo,
    Request,
    Subject,
    Template,
)

pytestmark = pytest.mark.integration
T, S, D = Template.__table__, Subject.__table__, Destruction.__table__


STATED = IdentityEvidence("attestation", False, {"statement": "this is me"})


def _consent_afton(world) -> int:  # type: ignore[no-untyped-def]
    """Afton (in Chicago) claims her face and signs a written release, so BIPA allows it and
    sets a destroy-by date."""
    with world.ledger.read() as conn:
        face_id = conn.execute(
            select(Face.__table__.c.id).join(Photo.__table__, Photo.__table__.c.id == Face.__table__.c.photo_id)
            .where(Photo.__table__.c.owner_id == "owner-c@N01")
        ).scalar_one()  # fmt: skip
    publish_policy(load_policies(), world.settings, out=world.settings.data_dir / "site",
                   published=date(2025, 1, 1), ledger=world.ledger)  # BIPA 15(a) schedule  # fmt: skip
    claim = add_claim(
        world.ledger,
        face_id=face_id,
        by="subject",
        evidence=STATED,
        actor="test",
        policies=load_policies(),
    )
    change = add_consent(world.ledger, claim_ids=[claim.id], given_by="subject", form="written",
                         purposes=[world.settings.purpose], informed=True, granted=date(2025, 1, 10),
                         signer="Afton", signed_on=date(2025, 1, 10), evidence_sha256="a" * 64, policies=load_policies())  # fmt: skip
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
    revoke_consent(ledger, consent_id, policies=load_policies())
    report = sweep(ledger, vault)
    assert (report.faces, report.by_reason, report.keys_shredded) == (1, {"revoked": 1}, 1)
    assert _count(ledger, T) == templates - 2
    with ledger.read() as conn:
        assert conn.execute(select(func.count()).where(S.c.status == "shredded")).scalar_one() == 1
        cert = conn.execute(select(D)).one()
    assert (cert.reason, cert.consent_id) == ("revoked", consent_id)  # the cause, named
    assert cert.destroy_by == datetime.now(UTC).date()  # revoked today


def test_a_wrong_assess_run_then_a_sweep_destroys_nothing(world) -> None:  # type: ignore[no-untyped-def]
    """Finding 17: one assess run with a wrong processing place blocks every face; the
    nightly sweep used to destroy every template. A block alone is not a cause."""
    ledger, vault = world.ledger, world.vault
    _consent_afton(world)
    templates = _count(ledger, T)
    assert templates > 2
    wrong = load_settings(workers=1, processor_location="DE", data_dir=world.settings.data_dir)
    assess_faces(ledger, wrong, purpose=world.settings.purpose)
    with ledger.read() as conn:
        blocked = conn.execute(
            select(func.count()).select_from(FaceDecision).where(FaceDecision.decision == "block")
        ).scalar_one()
    assert blocked >= 4  # the whole corpus is blocked now
    report = sweep(ledger, vault)
    assert (report.faces, report.templates, report.held) == (0, 0, templates // 2)
    assert _count(ledger, T) == templates and _count(ledger, D) == 0


def test_an_executed_request_is_named_on_the_certificate(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault = world.ledger, world.vault
    with ledger.begin() as conn:  # an exclusion whose templates the request left behind
        face_id = conn.execute(select(T.c.face_id).order_by(T.c.face_id).limit(1)).scalar_one()
        conn.execute(update(Face.__table__).where(Face.__table__.c.id == face_id)
                     .values(excluded_request_id=77))  # fmt: skip
    report = sweep(ledger, vault)
    assert (report.faces, report.by_reason) == (1, {"excluded": 1})
    with ledger.read() as conn:
        cert = conn.execute(select(D)).one()
    assert (cert.face_id, cert.reason, cert.request_id) == (face_id, "excluded", 77)


def test_a_sweep_far_larger_than_the_last_asks_for_confirm(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault = world.ledger, world.vault
    _consent_afton(world)
    with ledger.read() as conn:
        due = conn.execute(
            select(func.min(FaceDecision.destroy_by)).where(FaceDecision.destroy_by.is_not(None))
        ).scalar_one()
    later = due + timedelta(days=1)
    with pytest.raises(
        SweepNeedsConfirm, match=r"would destroy the templates of 1 faces \(1 retention\)"
    ):
        sweep(ledger, vault, on=later, confirm_faces=0)
    assert _count(ledger, D) == 0  # refused: nothing destroyed
    assert sweep(ledger, vault, on=later, confirm_faces=0, confirm=True).faces == 1


def test_the_cli_sweep_says_why_and_exits_2_without_confirm(world) -> None:  # type: ignore[no-untyped-def]
    _consent_afton(world)
    with world.ledger.read() as conn:
        due = conn.execute(
            select(func.min(FaceDecision.destroy_by)).where(FaceDecision.destroy_by.is_not(None))
        ).scalar_one()
    url = world.ledger.engine.url.render_as_string(hide_password=False)
    args = ["--database-url", url, "--data-dir", str(world.settings.data_dir), "retention", "sweep",
            "--as-of", (due + timedelta(days=1)).isoformat()]  # fmt: skip
    env = {"FACELEDGER_RETENTION_CONFIRM_FACES": "0", "FACELEDGER_MASTER_KEY": ""}
    refused = CliRunner().invoke(main, args, env=env)
    assert (
        refused.exit_code == 2
        and "--confirm" in refused.stderr
        and "Nothing was destroyed" in refused.stderr
    )
    done = CliRunner().invoke(main, [*args, "--confirm", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["by_reason"] == {"retention": 1}


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_policy_publish_writes_the_bipa_schedule(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = publish_policy(
        load_policies(), world.settings, out=tmp_path / "site", published=date(2025, 5, 1)
    )
    markdown, page = (p.read_text() for p in paths)
    assert "15(a)" in markdown and "36 months after the person's last interaction" in markdown
    assert "GDPR: 1 month" in markdown
    assert page.startswith("<!doctype html>") and "<table>" in page and "<ul>" in page


def test_a_template_no_law_gives_a_deadline_is_destroyed_at_the_organisation_limit(world) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 item 2: the Florida faces have no legal destroy-by date; with
    ``retention_limit_days`` the sweep destroys them that many days after they were stored,
    not a day before; without it, never (and extract would not have computed them)."""
    ledger, vault = world.ledger, world.vault
    limit = world.settings.retention_limit_days
    with ledger.read() as conn:
        clockless = set(
            conn.execute(
                select(T.c.face_id)
                .join(FaceDecision.__table__, FaceDecision.__table__.c.id == T.c.decision_id)
                .where(FaceDecision.__table__.c.destroy_by.is_(None))
            ).scalars()
        )
        stored = conn.execute(select(func.max(T.c.created_at))).scalar_one()
    assert clockless and limit
    stored_on = stored.date()
    early = sweep(
        ledger, vault, on=stored_on + timedelta(days=limit - 1), dry_run=True, limit_days=limit
    )
    assert clockless.isdisjoint(d["face_id"] for d in early.due)
    assert (
        sweep(ledger, vault, on=stored_on + timedelta(days=3650), dry_run=True).faces == 0
    )  # no limit: kept
    due = sweep(ledger, vault, on=stored_on + timedelta(days=limit), limit_days=limit, confirm=True)
    assert clockless <= {d["face_id"] for d in due.due}
    assert all(d["reason"] == "retention" for d in due.due if d["face_id"] in clockless)
    with ledger.read() as conn:
        left = set(conn.execute(select(T.c.face_id)).scalars())
    assert left.isdisjoint(clockless)


def test_a_closed_requests_contact_is_forgotten_after_request_contact_days(world) -> None:  # type: ignore[no-untyped-def]
    ledger, vault, settings = world.ledger, world.vault, world.settings
    R = Request.__table__

    def filed(owner: str) -> int:
        return new_request(ledger, settings, vault, kind="optout", key_type="owner", value=owner,
                           contact=f"{owner}@mail.example", evidence=owner_proof(owner)).id  # fmt: skip

    confirmed, rejected, still_open = (
        filed("owner-a@N01"),
        filed("owner-b@N01"),
        filed("owner-d@N01"),
    )
    for done in (confirmed, still_open):
        verify_request(ledger, done)
        execute_request(ledger, vault, settings, done)
    confirm_request(ledger, confirmed)
    reject_request(ledger, rejected, reason="not the account holder")
    closed_at = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    with ledger.begin() as conn:  # a frozen clock: both closed late on 1 January
        conn.execute(update(R).where(R.c.id == confirmed).values(confirmed_at=closed_at))
        conn.execute(update(R).where(R.c.id == rejected).values(rejected_at=closed_at))
        refs = dict(conn.execute(select(R.c.id, R.c.contact_key_ref)).all())

    day_before = sweep(ledger, vault, on=date(2026, 3, 31), contact_days=90)  # 89 days on
    assert day_before.contacts == []
    preview = sweep(ledger, vault, on=date(2026, 4, 1), dry_run=True, contact_days=90)
    assert preview.contacts == sorted([confirmed, rejected])
    assert read_contact(ledger, vault, confirmed, actor="test") == "owner-a@N01@mail.example"

    report = sweep(ledger, vault, on=date(2026, 4, 1), contact_days=90)
    assert report.contacts == sorted([confirmed, rejected])
    assert report.to_dict()["contact_requests"] == sorted([confirmed, rejected])
    for gone in (confirmed, rejected):
        assert read_contact(ledger, vault, gone, actor="test") is None
        assert not get_request(ledger, gone).has_contact
        assert vault.shred(refs[gone]) is False  # the contact's own key no longer exists
    assert get_request(ledger, confirmed).status == "confirmed"  # the request itself stays
    # an executed request not yet confirmed still needs its requester's address
    assert read_contact(ledger, vault, still_open, actor="test") == "owner-d@N01@mail.example"
    with ledger.read() as conn:
        payload = conn.execute(
            select(AuditEvent.payload).where(AuditEvent.name == "retention.sweep")
            .order_by(AuditEvent.id.desc())
        ).scalars().first()  # fmt: skip
        assert verify_chain(conn) is None
    assert payload["contacts_of_requests"] == sorted([confirmed, rejected])
    assert sweep(ledger, vault, on=date(2026, 4, 1), contact_days=90).contacts == []  # idempotent
    assert sweep(ledger, vault, on=date(2030, 1, 1)).contacts == []  # contact_days=None keeps all
    # the command takes the setting: the still-open one closes, and is forgotten 10 days on
    confirm_request(ledger, still_open)
    with ledger.begin() as conn:
        conn.execute(update(R).where(R.c.id == still_open).values(confirmed_at=closed_at))
    url = ledger.engine.url.render_as_string(hide_password=False)
    args = ["--database-url", url, "--data-dir", str(settings.data_dir), "retention", "sweep",
            "--as-of", "2026-01-11"]  # fmt: skip
    env = {"FACELEDGER_REQUEST_CONTACT_DAYS": "11", "FACELEDGER_MASTER_KEY": ""}
    kept = CliRunner().invoke(main, args, env=env)
    assert kept.exit_code == 0 and "contact" not in kept.stdout, kept.output
    env["FACELEDGER_REQUEST_CONTACT_DAYS"] = "10"
    done = CliRunner().invoke(main, args, env=env)
    assert done.exit_code == 0, done.output
    assert "forgot the requester's contact of 1 closed requests" in done.stdout
    assert read_contact(ledger, vault, still_open, actor="test") is None
