"""The scenario codec (encode <-> decode), the decision memo, and the sensitive-dataset rule."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest
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
from faceledger.core.law.cache import DecisionCache
from faceledger.core.law.codec import decode_scenario, encode_scenario, scenario_mode
from faceledger.core.law.model import (
    ACTIONS,
    CONSENT_FORMS,
    CONSENT_KINDS,
    DISCLOSURE_BASES,
    EVIDENCE_KINDS,
    GIVEN_BY,
    SOURCES,
)
from faceledger.errors import PolicyError
from faceledger.services.decisions.policy import parse_scenario

POLICIES: list[Policy] = load_policies()
CODES = ["US-IL", "US-TX", "US-WA", "US-CA", "DE", "FR", "GB", "JP"]
PURPOSES = ["train-face-recognition", "fairness-audit", "match-optout", "share"]
dates = st.dates(min_value=date(2005, 1, 1), max_value=date(2028, 12, 31))
maybe_dates = st.none() | dates
words = st.none() | st.sampled_from(["parent", "guardian", "Acme Labs"])

consents = st.builds(
    Consent,
    form=st.sampled_from(CONSENT_FORMS),
    purposes=st.lists(st.sampled_from(PURPOSES), max_size=2).map(tuple),
    informed=st.booleans(),
    granted=maybe_dates,
    expires=maybe_dates,
    revoked=maybe_dates,
    given_by=st.sampled_from(GIVEN_BY),
    relationship=words,
    kind=st.sampled_from(CONSENT_KINDS),
    purchaser=words,
    signed=st.none() | st.booleans(),
)
evidence = st.builds(
    Evidence,
    kind=st.sampled_from(EVIDENCE_KINDS),
    code=st.none() | st.sampled_from(CODES),
    confidence=st.floats(min_value=0.0, max_value=1.0),
    detail=st.text(max_size=30),
)
scenarios = st.builds(
    Scenario,
    action=st.sampled_from(ACTIONS),
    purpose=st.sampled_from(PURPOSES),
    on=dates,
    processor=st.builds(
        Processor, location=st.none() | st.sampled_from(CODES), commercial=st.booleans()
    ),  # fmt: skip
    subject=st.builds(
        Subject,
        residence=st.none() | st.sampled_from(CODES),
        evidence=st.lists(evidence, max_size=3).map(tuple),
        minor=st.none() | st.booleans(),
        age=st.none() | st.integers(0, 150),
        is_photo_owner=st.booleans(),
    ),  # fmt: skip
    consents=st.lists(consents, max_size=3).map(tuple),
    collected=maybe_dates,
    last_interaction=maybe_dates,
    purpose_fulfilled=maybe_dates,
    disclosure_basis=st.none() | st.sampled_from(DISCLOSURE_BASES),
    source=st.none() | st.sampled_from(SOURCES),
    derived_from_photo=st.booleans(),
    retention_schedule_published=maybe_dates,
    tdm_reserved=st.booleans(),
    sensitive_labels=st.lists(
        st.sampled_from(["ethnic-group", "gender", "religion"]), unique=True, max_size=2
    ).map(tuple),  # fmt: skip
)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(scenarios)
def test_a_scenario_survives_encode_json_and_decode_unchanged(scenario: Scenario) -> None:
    document = json.loads(json.dumps(encode_scenario(scenario, mode="conservative")))
    assert decode_scenario(document) == scenario
    assert parse_scenario(document) == scenario  # the service decodes through the same codec
    assert scenario_mode(document) == "conservative"


@FAST
@given(scenarios, st.lists(st.text(max_size=20), min_size=3, max_size=3))
def test_the_memo_decides_like_the_engine_whatever_the_evidence_details(
    scenario: Scenario, details: list[str]
) -> None:
    cache = DecisionCache(POLICIES)
    first = cache.decide(scenario)
    assert first[0] == evaluate(scenario, POLICIES) and first[1] == first[0].to_dict()
    other = replace(scenario, subject=replace(scenario.subject, evidence=tuple(
        replace(e, detail=d) for e, d in zip(scenario.subject.evidence, details, strict=False))))  # fmt: skip
    decision, document = cache.decide(other)
    expected = evaluate(other, POLICIES)
    assert decision == expected and document == expected.to_dict()
    assert cache.misses == 1 and cache.hits == 1  # one evaluation served both


def test_raw_evidence_needs_a_reader_and_bad_fields_are_named() -> None:
    raw = {"action": "extract-template", "purpose": "x", "date": "2025-01-01",
           "subject": {"evidence": [{"kind": "geotag", "lat": 52.52, "lon": 13.40}]}}  # fmt: skip
    with pytest.raises(PolicyError, match=r"subject\.evidence\[0\]\.confidence"):
        decode_scenario(raw)
    assert parse_scenario(raw).subject.evidence[0].code == "DE"  # geo resolves raw clues
    bad = {"action": "extract-template", "purpose": "x", "date": "2025-01-01",
           "sensitive_labels": ["Ethnic Group"]}  # fmt: skip
    with pytest.raises(PolicyError, match=r"sensitive_labels\[0\]"):
        decode_scenario(bad)
    with pytest.raises(PolicyError, match=r"consents\[0\]\.form"):
        decode_scenario({**bad, "sensitive_labels": [], "consents": [{"form": "nod"}]})


BERLIN = Evidence("geotag", "DE", 0.95, "52.52,13.40 in Germany (contains)")
CALIFORNIA = Evidence("declared", "US-CA", 1.0, "declared residence US-CA")


def _scenario(evidence: Evidence, *, labels: tuple[str, ...], **changes: object) -> Scenario:
    base = Scenario(action="retain", purpose="fairness-audit", on=date(2025, 9, 1),
                    processor=Processor(location="US-WA"), subject=Subject(evidence=(evidence,)),
                    retention_schedule_published=date(2008, 1, 1), sensitive_labels=labels)  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_photo_in_an_ethnic_group_labelled_dataset_is_special_category_under_gdpr() -> None:
    plain = evaluate(_scenario(BERLIN, labels=()), POLICIES)
    assert plain.law("eu-gdpr").violations == ()  # holding a face photo: no Art. 9 question
    labelled = evaluate(_scenario(BERLIN, labels=("ethnic-group",)), POLICIES)
    assert labelled.decision == "block"  # the stricter outcome
    (art9,) = labelled.law("eu-gdpr").violations
    assert art9.section == "Art. 9(1)" and "racial or ethnic origin" in art9.citation
    assert "ethnic-group" in art9.reason and "explicit consent required" in art9.reason
    consent = Consent(form="written", purposes=("fairness-audit",), informed=True,
                      granted=date(2025, 1, 1))  # fmt: skip
    assert evaluate(_scenario(BERLIN, labels=("ethnic-group",), consents=(consent,)),
                    POLICIES).law("eu-gdpr").violations == ()  # fmt: skip
    # a gender label is no special category: no change
    assert evaluate(_scenario(BERLIN, labels=("gender",)), POLICIES) == plain


def test_identifying_use_already_blocked_by_art9_gains_the_reason_not_a_second_count() -> None:
    decision = evaluate(_scenario(BERLIN, labels=("ethnic-group",), action="extract-template",
                                  purpose="train-face-recognition"), POLICIES)  # fmt: skip
    gdpr = decision.law("eu-gdpr")
    assert [v.section for v in gdpr.violations] == ["Art. 9(1)"]
    assert any("special-category data" in r and "ethnic-group" in r for r in gdpr.reasons)


def test_cpra_treats_the_label_as_sensitive_personal_information() -> None:
    release = _scenario(CALIFORNIA, labels=("ethnic-group",), action="release",
                        disclosure_basis="consent")  # fmt: skip
    law = evaluate(release, POLICIES).law("us-ca-cpra")
    assert "1798.100(a)(2)" in [v.section for v in law.violations]
    assert "1798.140(ae)" in law.violations[-1].citation
    plain = evaluate(replace(release, sensitive_labels=()), POLICIES).law("us-ca-cpra")
    assert "1798.100(a)(2)" not in [v.section for v in plain.violations]
    limited = replace(release, consents=(Consent(form="written", purposes=("fairness-audit",),
                      informed=True, granted=date(2024, 1, 1), revoked=date(2025, 2, 1)),))  # fmt: skip
    reasons = [v.reason for v in evaluate(limited, POLICIES).law("us-ca-cpra").violations]
    assert any("limited its use on 2025-02-01" in r for r in reasons)
