"""An unknown processing place is never read as "outside": deny by default."""

from __future__ import annotations

from datetime import date

from faceledger.core.law import Evidence, Policy, Processor, Scenario, Subject, evaluate

HAMMOND = (Evidence("geotag", "US-IN", 0.95, "41.62,-87.50 in Indiana"),)


def _decide(policies: list[Policy], location: str | None) -> object:
    scenario = Scenario(action="extract-template", purpose="train-face-recognition",
                        on=date(2025, 9, 1), processor=Processor(location=location),
                        subject=Subject(evidence=HAMMOND), source="scraped-targeted")  # fmt: skip
    return evaluate(scenario, policies)


def test_unknown_processor_keeps_processing_laws_uncertain(policies: list[Policy]) -> None:
    decision = _decide(policies, None)
    for law_id in ("us-il-bipa", "eu-gdpr", "uk-gdpr", "us-wa-mhmda", "eu-ai-act"):
        law = decision.law(law_id)  # type: ignore[attr-defined]
        assert law.applies == "uncertain", (law_id, law.reasons)
        assert any("where processing runs is unknown" in r for r in law.reasons)
    assert decision.decision == "block"  # type: ignore[attr-defined]
    # laws that look only at the subject are not touched by the processor
    assert decision.law("us-tx-cubi").applies == "no"  # type: ignore[attr-defined]


def test_known_processor_elsewhere_is_out_of_scope(policies: list[Policy]) -> None:
    decision = _decide(policies, "US-IN")
    assert decision.law("us-il-bipa").applies == "no"  # type: ignore[attr-defined]
    assert decision.decision == "allow"  # type: ignore[attr-defined]


def test_prohibition_reasons_are_single_line(policies: list[Policy]) -> None:
    scenario = Scenario(action="extract-template", purpose="train-face-recognition",
                        on=date(2025, 9, 1), processor=Processor(location="DE"))  # fmt: skip
    for reason in evaluate(scenario, policies).reasons:
        assert "\n" not in reason
