"""Property tests: deny by default, destroy-by bounds, determinism."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from faceledger.core.law import (
    Consent,
    Evidence,
    Policy,
    Processor,
    Scenario,
    Subject,
    evaluate,
    load_policies,
)
from faceledger.core.law.model import ACTIONS, CONSENT_FORMS, DISCLOSURE_BASES

POLICIES: list[Policy] = load_policies()
CODES = ["US-IL", "US-TX", "US-WA", "US-CO", "US-CA", "US-NY", "DE", "FR", "GB", "JP", None]
PURPOSES = ["train-face-recognition", "fairness-audit", "match-optout", "sell",
            "build-face-recognition-database"]  # fmt: skip
dates = st.dates(min_value=date(2005, 1, 1), max_value=date(2028, 12, 31))
maybe_dates = st.none() | dates

consents = st.builds(
    Consent,
    form=st.sampled_from(CONSENT_FORMS),
    purposes=st.lists(st.sampled_from(PURPOSES), max_size=2).map(tuple),
    informed=st.booleans(),
    granted=maybe_dates,
    expires=maybe_dates,
    revoked=maybe_dates,
)
evidence = st.builds(
    Evidence,
    kind=st.sampled_from(["geotag", "owner-location", "declared"]),
    code=st.sampled_from(CODES),
    confidence=st.floats(min_value=0.0, max_value=1.0),
)
scenarios = st.builds(
    Scenario,
    action=st.sampled_from(ACTIONS),
    purpose=st.sampled_from(PURPOSES),
    on=dates,
    processor=st.builds(Processor, location=st.sampled_from(CODES), commercial=st.booleans()),
    subject=st.builds(
        Subject,
        residence=st.sampled_from(CODES),
        evidence=st.lists(evidence, max_size=3).map(tuple),
    ),  # fmt: skip
    consents=st.lists(consents, max_size=3).map(tuple),
    collected=maybe_dates,
    last_interaction=maybe_dates,
    purpose_fulfilled=maybe_dates,
    disclosure_basis=st.none() | st.sampled_from(DISCLOSURE_BASES),
    source=st.none() | st.sampled_from(["scraped-untargeted", "scraped-targeted", "direct"]),
    derived_from_photo=st.booleans(),
)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(scenarios)
def test_given_a_violation_in_any_in_scope_law_then_never_allow(scenario: Scenario) -> None:
    decision = evaluate(scenario, POLICIES)
    in_scope_violations = [
        v for law in decision.laws if law.applies != "no" for v in law.violations
    ]
    if in_scope_violations:
        assert decision.decision == "block"
    else:
        assert decision.decision == "allow"


@FAST
@given(scenarios)
def test_given_consent_law_in_scope_without_valid_consent_then_extraction_blocks(
    scenario: Scenario,
) -> None:
    scenario = Scenario(**{**scenario.__dict__, "action": "extract-template", "consents": ()})
    decision = evaluate(scenario, POLICIES)
    needs_consent = [
        law for law, policy in zip(decision.laws, POLICIES, strict=True)
        if law.applies != "no"
        and policy.consent.requirement in {"consent", "written-release", "explicit"}
    ]  # fmt: skip
    if needs_consent:
        assert decision.decision == "block"


@FAST
@given(scenarios)
def test_destroy_by_is_never_after_any_applicable_law_limit(scenario: Scenario) -> None:
    decision = evaluate(scenario, POLICIES)
    limits = [law.destroy_by for law in decision.laws
              if law.applies != "no" and law.destroy_by is not None]  # fmt: skip
    if limits:
        assert decision.destroy_by is not None
        assert decision.destroy_by <= min(limits)
    else:
        assert decision.destroy_by is None


@FAST
@given(scenarios)
def test_evaluating_twice_gives_the_same_result(scenario: Scenario) -> None:
    assert evaluate(scenario, POLICIES).to_dict() == evaluate(scenario, POLICIES).to_dict()


@FAST
@given(scenarios, st.integers(min_value=1, max_value=400))
def test_retaining_past_destroy_by_always_blocks(scenario: Scenario, late: int) -> None:
    first = evaluate(Scenario(**{**scenario.__dict__, "action": "retain"}), POLICIES)
    if first.destroy_by is None or first.destroy_by + timedelta(days=late) > date(2099, 1, 1):
        return
    later = Scenario(**{**scenario.__dict__, "action": "retain",
                        "on": first.destroy_by + timedelta(days=late)})  # fmt: skip
    # moving the date can change which laws are in force, so only assert when one still binds
    decision = evaluate(later, POLICIES)
    bound = [law for law in decision.laws if law.applies != "no" and law.destroy_by is not None
             and law.destroy_by < later.on]  # fmt: skip
    if bound:
        assert decision.decision == "block"


def test_given_no_policies_then_block() -> None:
    scenario = Scenario(action="retain", purpose="x", on=date(2025, 1, 1))
    assert evaluate(scenario, []).decision == "block"
