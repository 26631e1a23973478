"""Policy files: shipped laws validate, broken files name file and field, overrides work."""

from __future__ import annotations

from pathlib import Path

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
    assert bipa.consent.form_changes[0].add_forms == ["electronic"]
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
