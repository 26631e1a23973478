"""Policy files: shipped laws validate, broken files name file and field, overrides work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from faceledger.core.law import load_policies, parse_policy
from faceledger.core.law.loader import SHIPPED_PACKAGE
from faceledger.errors import PolicyError

SHIPPED = Path(__import__(SHIPPED_PACKAGE, fromlist=["x"]).__file__).parent
EXPECTED = {"us-il-bipa", "us-tx-cubi", "us-wa-19375", "us-wa-mhmda", "us-co-biometric",
            "us-ca-cpra", "eu-gdpr", "uk-gdpr", "eu-ai-act"}  # fmt: skip


def test_every_shipped_law_loads_with_citations_and_confidence() -> None:
    policies = load_policies()
    assert {p.id for p in policies} == EXPECTED
    for policy in policies:
        rules = [policy.in_force, policy.biometric, policy.territory, policy.scope,
                 policy.consent, policy.enforcement, *policy.enforcement.penalties,
                 *policy.amendments, *policy.prohibitions]  # fmt: skip
        rules += [r for r in (policy.disclosure, policy.sale, policy.retention) if r]
        for rule in rules:
            assert rule.citation.strip() and rule.confidence in {"verified", "secondary",
                                                                 "recalled"}  # fmt: skip


def test_bipa_records_sb2979_and_retention_clock() -> None:
    bipa = {p.id: p for p in load_policies()}["us-il-bipa"]
    assert bipa.amendments[0].date.isoformat() == "2024-08-02"
    assert "electronic-signature-is-written-release" in bipa.amendments[0].effects
    assert bipa.amendments[0].sections == ["15(b)", "15(d)"]
    assert [(c.start, c.months) for c in bipa.retention.clocks] == [
        ("purpose_fulfilled", 0), ("last_interaction", 36)]  # fmt: skip


def _copy(tmp_path: Path, law_id: str, replace: tuple[str, str] | None = None) -> Path:
    text = (SHIPPED / f"{law_id}.yaml").read_text(encoding="utf-8")
    if replace:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    target = tmp_path / f"{law_id}.yaml"
    target.write_text(text, encoding="utf-8")
    return target


def test_broken_policy_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    _copy(tmp_path, "us-il-bipa", ("requirement: written-release", "requirement: maybe"))
    with pytest.raises(PolicyError) as caught:
        load_policies(policy_dir=tmp_path)
    message = str(caught.value)
    assert "us-il-bipa.yaml" in message and "consent.requirement" in message


def test_missing_citation_is_refused(tmp_path: Path) -> None:
    _copy(tmp_path, "us-tx-cubi", ("  citation: Tex. Bus. & Com. Code § 503.001(a)\n", ""))
    with pytest.raises(PolicyError, match=r"us-tx-cubi.yaml.*biometric\.citation"):
        load_policies(policy_dir=tmp_path)


def test_unknown_key_is_refused() -> None:
    text = (SHIPPED / "eu-gdpr.yaml").read_text(encoding="utf-8") + "\nsurprise: true\n"
    with pytest.raises(PolicyError, match="field 'surprise'"):
        parse_policy(text, source="eu-gdpr.yaml")


def test_invalid_yaml_and_non_mapping_are_refused() -> None:
    with pytest.raises(PolicyError, match="x.yaml: not valid YAML"):
        parse_policy("a: [", source="x.yaml")
    with pytest.raises(PolicyError, match="mapping"):
        parse_policy("- 1\n- 2\n", source="x.yaml")


def test_id_must_match_file_name(tmp_path: Path) -> None:
    text = (SHIPPED / "eu-gdpr.yaml").read_text(encoding="utf-8")
    (tmp_path / "my-law.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="field 'id'"):
        load_policies(policy_dir=tmp_path)


def test_policy_dir_overrides_a_shipped_law(tmp_path: Path) -> None:
    _copy(tmp_path, "us-il-bipa", ("      months: 36", "      months: 12"))
    bipa = {p.id: p for p in load_policies(policy_dir=tmp_path)}["us-il-bipa"]
    assert bipa.retention is not None and bipa.retention.clocks[1].months == 12
    assert len(load_policies(policy_dir=tmp_path)) == len(EXPECTED)


def test_policy_dir_adds_a_new_law(tmp_path: Path) -> None:
    text = (SHIPPED / "us-il-bipa.yaml").read_text(encoding="utf-8")
    text = text.replace("id: us-il-bipa", "id: us-xx-test").replace("[US-IL]", "[US-NY]")
    (tmp_path / "us-xx-test.yaml").write_text(text, encoding="utf-8")
    ids = [p.id for p in load_policies(policy_dir=tmp_path)]
    assert "us-xx-test" in ids and len(ids) == len(EXPECTED) + 1


def test_missing_policy_dir_and_no_laws_fail_closed(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not a folder"):
        load_policies(policy_dir=tmp_path / "nope")
    with pytest.raises(PolicyError, match="no policy files"):
        load_policies(policy_dir=tmp_path, shipped=False)


def test_an_unknown_or_inert_declared_effect_fails_to_load(tmp_path: Path) -> None:
    _copy(tmp_path, "us-tx-cubi", ("effects: [public-image-not-consent, non-identifying-ai-exempt]",
                                   "effects: [public-image-not-consent, shiny-new-rule]"))  # fmt: skip
    with pytest.raises(PolicyError) as caught:
        load_policies(policy_dir=tmp_path)
    message = str(caught.value)
    assert "us-tx-cubi.yaml" in message and "amendments.0.effects" in message
    assert "shiny-new-rule" in message and "not an effect the engine implements" in message


def test_every_shipped_effect_is_implemented() -> None:
    from faceledger.core.law.effects import EFFECTS

    declared = {e for p in load_policies() for a in p.amendments for e in a.effects}
    assert declared and declared <= set(EFFECTS)


def _evaluate(policies: list[Any], data: dict[str, Any]) -> Any:
    from faceledger.core.law import evaluate
    from faceledger.services.decisions.policy import parse_scenario

    return evaluate(parse_scenario(data), policies)


ESIG_SCENARIO = {
    "action": "extract-template", "purpose": "train-face-recognition", "date": "2024-09-01",
    "processor": {"location": "US-IL"}, "subject": {"residence": "US-IL"},
    "retention_schedule_published": "2020-01-01",
    "consents": [{"form": "electronic", "purposes": ["train-face-recognition"],
                  "informed": True, "granted": "2024-08-10"}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("law", "effects_line", "without", "scenario", "law_id"),
    [
        ("us-il-bipa", "effects: [electronic-signature-is-written-release, per-person-accrual]",
         "effects: [per-person-accrual]", ESIG_SCENARIO, "us-il-bipa"),
        ("us-tx-cubi", "effects: [public-image-not-consent, non-identifying-ai-exempt]",
         "effects: [public-image-not-consent]",
         {"action": "extract-template", "purpose": "fairness-audit", "date": "2026-02-01",
          "processor": {"location": "US-TX"}, "subject": {"residence": "US-TX"}},
         "us-tx-cubi"),
    ],
)  # fmt: skip
def test_removing_a_declared_effect_changes_the_decision(
    tmp_path: Path,
    law: str,
    effects_line: str,
    without: str,
    scenario: dict[str, Any],
    law_id: str,
) -> None:
    with_effect = _evaluate(load_policies(), scenario)
    _copy(tmp_path, law, (effects_line, without))
    without_effect = _evaluate(load_policies(policy_dir=tmp_path), scenario)
    assert with_effect.law(law_id).violations == ()
    assert without_effect.decision == "block" and without_effect.law(law_id).violations


def test_public_image_effect_cites_b1_only_when_declared(tmp_path: Path) -> None:
    scenario = {"action": "extract-template", "purpose": "train-face-recognition",
                "date": "2026-02-01", "processor": {"location": "US-TX"},
                "subject": {"residence": "US-TX"},
                "consents": [{"form": "written", "purposes": ["train-face-recognition"],
                              "informed": True, "granted": "2025-01-01",
                              "given_by": "photo-owner"}]}  # fmt: skip

    def why(policies: list[Any]) -> str:
        law = _evaluate(policies, scenario).law("us-tx-cubi")
        return " ".join(v.reason for v in law.violations)

    assert "503.001(b-1)" in why(load_policies())
    _copy(tmp_path, "us-tx-cubi", ("effects: [public-image-not-consent, non-identifying-ai-exempt]",
                                   "effects: [non-identifying-ai-exempt]"))  # fmt: skip
    text = why(load_policies(policy_dir=tmp_path))
    assert "503.001(b-1)" not in text and "not the depicted person" in text
