"""`faceledger policy ...` through click's CliRunner, and the service's input checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from faceledger.errors import PolicyError
from faceledger.services.decisions.policy import PolicyService, parse_scenario

VANCE: dict[str, Any] = {
    "action": "extract-template",
    "purpose": "train-face-recognition",
    "date": "2025-03-01",
    "processor": {"location": "US-WA", "commercial": True},
    "subject": {"residence": "US-IL", "evidence": [
        {"kind": "geotag", "lat": 41.8781, "lon": -87.6298},
        {"kind": "owner-location", "text": "Chicago, IL"},
        {"kind": "declared", "code": "US-IL"}]},
    "consents": [{"form": "written", "purposes": ["fairness-audit"], "informed": True,
                  "granted": "2024-01-01", "expires": None, "revoked": None}],
    "collected": "2019-01-15",
    "last_interaction": None,
    "purpose_fulfilled": None,
    "disclosure_basis": None,
}  # fmt: skip


def _write(tmp_path: Path, data: Any, name: str = "scenario.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _run(args: list[str]) -> Any:
    from faceledger.cli import main

    return CliRunner().invoke(main, args)


def test_evaluate_json_follows_the_contract(tmp_path: Path) -> None:
    result = _run(["policy", "evaluate", _write(tmp_path, VANCE), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["decision"] == "block"
    assert {"decision", "jurisdictions", "laws", "destroy_by"} <= set(doc)
    bipa = next(law for law in doc["laws"] if law["id"] == "us-il-bipa")
    assert bipa["applies"] == "uncertain"
    assert {"id", "applies", "reasons", "violations", "destroy_by"} <= set(bipa)
    assert bipa["violations"][0]["section"] == "15(b)"
    assert {"section", "citation", "reason"} == set(bipa["violations"][0])
    top = doc["jurisdictions"][0]
    assert top["code"] == "US-IL" and {"code", "confidence", "evidence"} <= set(top)
    assert doc["policy_versions"]["us-il-bipa"] == "2024-08-02-r2"


def test_evaluate_prose_names_laws_sections_and_citations(tmp_path: Path) -> None:
    result = _run(["policy", "evaluate", _write(tmp_path, VANCE)])
    assert result.exit_code == 0, result.output
    assert "DECISION: BLOCK" in result.output
    assert "VIOLATION 15(b) (740 ILCS 14/15(b)" in result.output
    assert "Vance" in result.output


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"action": "scan"}, "action"),
        ({"date": "03/01/2025"}, "date"),
        ({"purpose": ""}, "purpose"),
        ({"processor": {"location": "Illinois"}}, "processor.location"),
        ({"consents": [{"form": "handshake", "purposes": []}]}, "consents[0].form"),
        ({"consents": [{"form": "written", "purposes": ["x"], "granted": "soon"}]},
         "consents[0].granted"),
        ({"subject": {"evidence": [{"kind": "geotag", "lat": "north", "lon": 1}]}},
         "subject.evidence[0].lat"),
        ({"subject": {"evidence": [{"kind": "rumour"}]}}, "subject.evidence[0].kind"),
        ({"disclosure_basis": "friendship"}, "disclosure_basis"),
        ({"surprise": 1}, "surprise"),
        ({"consents": [{"form": "written", "purposes": ["x"], "given_by": "friend"}]},
         "consents[0].given_by"),
        ({"consents": [{"form": "written", "purposes": ["x"], "kind": "gift"}]},
         "consents[0].kind"),
        ({"consents": [{"form": "written", "purposes": ["x"], "signed": "yes"}]},
         "consents[0].signed"),
        ({"consents": [{"form": "written", "purposes": ["x"], "purchaser": 7}]},
         "consents[0].purchaser"),
        ({"consents": [{"form": "written", "purposes": ["x"], "relationship": ["mum"]}]},
         "consents[0].relationship"),
        ({"consents": [{"form": "written", "purposes": ["x"], "givenby": "subject"}]},
         "consents[0].givenby"),
        ({"subject": {"minor": "yes"}}, "subject.minor"),
        ({"subject": {"age": -1}}, "subject.age"),
        ({"subject": {"age": "ten"}}, "subject.age"),
        ({"subject": {"is_photo_owner": "no"}}, "subject.is_photo_owner"),
        ({"subject": {"owner": True}}, "subject.owner"),
        ({"retention_schedule_published": "last year"}, "retention_schedule_published"),
        ({"tdm_reserved": "yes"}, "tdm_reserved"),
        ({"disclosure_basis": "permitted-by-law", "action": "scan"}, "action"),
    ],
)  # fmt: skip
def test_bad_scenario_exits_2_naming_the_field(tmp_path: Path, patch: dict[str, Any],
                                               field: str) -> None:  # fmt: skip
    result = _run(["policy", "evaluate", _write(tmp_path, {**VANCE, **patch}), "--json"])
    assert result.exit_code == 2
    assert f"'{field}'" in result.output


def test_unreadable_scenario_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    result = _run(["policy", "evaluate", str(tmp_path / "bad.json")])
    assert result.exit_code == 2 and "not valid JSON" in result.output
    result = _run(["policy", "evaluate", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_list_and_show(tmp_path: Path) -> None:
    listed = _run(["policy", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.output)["policies"]) == 9
    assert "us-il-bipa" in _run(["policy", "list"]).output
    shown = _run(["policy", "show", "us-tx-cubi", "--json"])
    assert json.loads(shown.output)["retention"]["clocks"][0]["months"] == 12
    assert "503.001(c)(3)" in _run(["policy", "show", "us-tx-cubi"]).output
    missing = _run(["policy", "show", "xx-nowhere"])
    assert missing.exit_code == 2 and "no policy with id" in missing.output


def test_policy_dir_option_overrides_a_law(tmp_path: Path) -> None:
    from faceledger.core.law.loader import SHIPPED_PACKAGE

    shipped = Path(__import__(SHIPPED_PACKAGE, fromlist=["x"]).__file__).parent
    laws = tmp_path / "laws"
    laws.mkdir()
    text = (shipped / "us-il-bipa.yaml").read_text(encoding="utf-8")
    (laws / "us-il-bipa.yaml").write_text(text.replace("[US-IL]", "[US-NY]"), encoding="utf-8")
    args = ["policy", "evaluate", _write(tmp_path, {**VANCE, "processor": {"location": "US-NY"}}),
            "--json", "--policy-dir", str(laws)]  # fmt: skip
    doc = json.loads(_run(args).output)
    assert next(law for law in doc["laws"] if law["id"] == "us-il-bipa")["applies"] == "likely"


def test_policy_dir_setting_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACELEDGER_POLICY_DIR", str(tmp_path / "absent"))
    result = _run(["policy", "list"])
    assert result.exit_code == 2 and "not a folder" in result.output


def test_every_policy_command_has_help_with_an_example() -> None:
    for command in (["policy"], ["policy", "evaluate"], ["policy", "list"], ["policy", "show"]):
        result = _run([*command, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output


def test_service_resolves_geotags_and_place_text() -> None:
    scenario = parse_scenario(VANCE)
    kinds = [(e.kind, e.code) for e in scenario.subject.evidence]
    assert kinds == [("geotag", "US-IL"), ("owner-location", "US-IL"), ("declared", "US-IL")]


def test_service_rejects_non_object_document() -> None:
    with pytest.raises(PolicyError, match="JSON object"):
        parse_scenario([1, 2])


def test_service_mode_likely_is_accepted() -> None:
    decision = PolicyService().evaluate_data({**VANCE, "mode": "likely",
                                              "processor": {"location": "US-NY"}})  # fmt: skip
    assert decision.mode == "likely" and decision.decision == "allow"


ISSUE10: dict[str, Any] = {
    "action": "extract-template", "purpose": "train-face-recognition", "date": "2025-03-01",
    "processor": {"location": "US-IL", "commercial": True},
    "subject": {"residence": "US-IL", "minor": True, "age": 9, "is_photo_owner": False},
    "consents": [
        {"form": "written", "purposes": ["train-face-recognition"], "informed": True,
         "granted": "2024-01-01", "given_by": "legal-representative", "relationship": "parent",
         "kind": "consent"},
    ],
    "collected": "2019-01-15",
    "retention_schedule_published": "2019-01-01",
    "tdm_reserved": False,
}  # fmt: skip


def test_evaluate_accepts_the_issue_10_keys_and_names_who_consented(tmp_path: Path) -> None:
    result = _run(["policy", "evaluate", _write(tmp_path, ISSUE10), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["decision"] == "allow", doc["reasons"]
    said = " ".join(doc["reasons"])
    assert "given by the subject's legal representative (parent)" in said
    prose = _run(["policy", "evaluate", _write(tmp_path, ISSUE10)]).output
    assert "legal representative (parent)" in prose


def test_evaluate_explains_an_owner_consent_for_someone_else(tmp_path: Path) -> None:
    owner = {**ISSUE10, "subject": {"residence": "US-IL"},
             "consents": [{**ISSUE10["consents"][0], "given_by": "photo-owner"}]}  # fmt: skip
    doc = json.loads(_run(["policy", "evaluate", _write(tmp_path, owner), "--json"]).output)
    assert doc["decision"] == "block"
    bipa = next(law for law in doc["laws"] if law["id"] == "us-il-bipa")
    assert [v["section"] for v in bipa["violations"]] == ["15(b)"]
    assert "consent given by the photo owner, who is not the depicted person" in \
        bipa["violations"][0]["reason"]  # fmt: skip
    assert any("photo owner, who is not the depicted person" in r for r in doc["reasons"])


def test_new_keys_default_to_the_old_meaning() -> None:
    scenario = parse_scenario(VANCE)
    assert scenario.subject.minor is None and scenario.subject.age is None
    assert scenario.subject.is_photo_owner is False and scenario.tdm_reserved is False
    assert scenario.retention_schedule_published is None
    first = scenario.consents[0]
    assert (first.given_by, first.kind, first.purchaser, first.signed) == (
        "subject", "consent", None, None)  # fmt: skip
