"""The scenario table, run through the service and the engine: one row per case, readable ids, expected decision/applies/sections.

Each case is built on BASE (an Illinois resident, processing in Illinois, no consent) with
overrides; ``applies`` and ``violations`` list only the laws the case is about (every other
law's grade is not asserted), ``destroy_by`` is the top-level earliest date (None: none).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from faceledger.core.law import Policy, evaluate
from faceledger.services.decisions.policy import parse_scenario

BASE: dict[str, Any] = {
    "action": "extract-template",
    "purpose": "train-face-recognition",
    "date": "2025-03-01",
    "processor": {"location": "US-IL", "commercial": True},
    "subject": {"residence": "US-IL", "evidence": []},
    "consents": [],
    "collected": None,
    "last_interaction": None,
    "purpose_fulfilled": None,
    "disclosure_basis": None,
    "retention_schedule_published": "2020-01-01",
}

FRT = "train-face-recognition"


def consent(form: str = "written", *, informed: bool = True, granted: str = "2024-01-01",
            purposes: tuple[str, ...] = (FRT,), expires: str | None = None,
            revoked: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"form": form, "purposes": list(purposes), "informed": informed,
            "granted": granted, "expires": expires, "revoked": revoked}  # fmt: skip


def where(residence: str | None, processor: str | None, *evidence: dict[str, Any],
          commercial: bool = True) -> dict[str, Any]:  # fmt: skip
    return {
        "subject": {"residence": residence, "evidence": list(evidence)},
        "processor": {"location": processor, "commercial": commercial},
    }


def geotag(lat: float, lon: float) -> dict[str, Any]:
    return {"kind": "geotag", "lat": lat, "lon": lon, "accuracy": 16}


def owner(text: str) -> dict[str, Any]:
    return {"kind": "owner-location", "text": text}


@dataclass
class Case:
    id: str
    overrides: dict[str, Any]
    decision: str
    applies: dict[str, str] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)
    destroy_by: str | None = None
    codes: list[str] | None = None  # expected candidate jurisdiction codes (subset)

    def scenario(self) -> dict[str, Any]:
        data = copy.deepcopy(BASE)
        data.update(copy.deepcopy(self.overrides))
        return data


IL = "us-il-bipa"
TX = "us-tx-cubi"
WA = "us-wa-19375"
MH = "us-wa-mhmda"
CO = "us-co-biometric"
CA = "us-ca-cpra"
EU = "eu-gdpr"
UK = "uk-gdpr"
AI = "eu-ai-act"
NONCOM: dict[str, Any] = {"processor": {"location": "US-IL", "commercial": False}}
VANCE = where("US-IL", "US-WA", geotag(41.8781, -87.6298), owner("Chicago, IL"))

CASES: list[Case] = [
    # --- Illinois BIPA: consent forms, the SB 2979 e-signature change, scope ---
    Case("bipa-no-release-blocks", {}, "block", {IL: "yes"}, {IL: ["15(b)"]}),
    Case("bipa-written-informed-release-allows", {"consents": [consent()]}, "allow",
         {IL: "yes"}, {IL: []}),
    Case("bipa-written-but-uninformed-blocks", {"consents": [consent(informed=False)]},
         "block", {IL: "yes"}, {IL: ["15(b)"]}),
    Case("bipa-esignature-before-sb2979-blocks",
         {"date": "2024-09-01", "consents": [consent("electronic", granted="2024-07-01")]},
         "block", {IL: "yes"}, {IL: ["15(b)"]}),
    Case("bipa-esignature-on-sb2979-day-allows",
         {"date": "2024-09-01", "consents": [consent("electronic", granted="2024-08-02")]},
         "allow", {IL: "yes"}, {IL: []}),
    Case("bipa-verbal-consent-blocks", {"consents": [consent("verbal")]}, "block",
         {IL: "yes"}, {IL: ["15(b)"]}),
    Case("bipa-form-none-blocks", {"consents": [consent("none")]}, "block",
         {IL: "yes"}, {IL: ["15(b)"]}),
    Case("bipa-release-for-other-purpose-blocks",
         {"consents": [consent(purposes=("fairness-audit",))]}, "block", {IL: "yes"},
         {IL: ["15(b)"]}),
    Case("bipa-revoked-release-blocks", {"consents": [consent(revoked="2025-01-01")]},
         "block", {IL: "yes"}, {IL: ["15(b)"]}),
    Case("bipa-revocation-after-action-date-allows",
         {"consents": [consent(revoked="2025-06-01")]}, "allow", {IL: "yes"}, {IL: []}),
    Case("bipa-expired-release-blocks", {"consents": [consent(expires="2025-02-01")]},
         "block", {IL: "yes"}, {IL: ["15(b)"]}),
    Case("bipa-release-granted-after-action-blocks",
         {"consents": [consent(granted="2025-04-01")]}, "block", {IL: "yes"}, {IL: ["15(b)"]}),
    Case("bipa-not-in-force-2007-allows", {"date": "2007-06-01"}, "allow", {IL: "no"}),
    Case("bipa-match-optout-with-consent-allows",
         {"action": "match-optout", "purpose": "match-optout",
          "consents": [consent(purposes=("match-optout",))]}, "allow", {IL: "yes"}, {IL: []}),
    Case("bipa-match-optout-without-consent-blocks",
         {"action": "match-optout", "purpose": "match-optout"}, "block", {IL: "yes"},
         {IL: ["15(b)"]}),
    # --- BIPA sale and disclosure ---
    Case("bipa-sale-forbidden-even-with-release",
         {"action": "sell", "consents": [consent()]}, "block", {IL: "yes"}, {IL: ["15(c)"]}),
    Case("bipa-disclose-without-basis-blocks", {"action": "disclose"}, "block",
         {IL: "yes"}, {IL: ["15(d)"]}),
    Case("bipa-disclose-under-warrant-allows",
         {"action": "disclose", "disclosure_basis": "warrant"}, "allow", {IL: "yes"}, {IL: []}),
    Case("bipa-disclose-financial-transaction-allows",
         {"action": "disclose", "disclosure_basis": "financial-transaction"}, "allow",
         {IL: "yes"}, {IL: []}),
    Case("bipa-disclose-required-by-law-allows",
         {"action": "disclose", "disclosure_basis": "required-by-law"}, "allow",
         {IL: "yes"}, {IL: []}),
    Case("bipa-disclose-with-consent-allows",
         {"action": "disclose", "disclosure_basis": "consent", "consents": [consent()]},
         "allow", {IL: "yes"}, {IL: []}),
    Case("bipa-disclose-consent-basis-without-consent-blocks",
         {"action": "disclose", "disclosure_basis": "consent"}, "block", {IL: "yes"},
         {IL: ["15(d)"]}),
    Case("bipa-release-dataset-without-basis-blocks", {"action": "release"}, "block",
         {IL: "yes"}, {IL: ["15(d)"]}),
    # --- BIPA retention: earlier of purpose satisfied or 3 years after last interaction ---
    # (a non-commercial processor: keeping templates for commercial training is 15(c) profit)
    Case("bipa-retain-within-three-years-allows",
         {"action": "retain", "collected": "2023-01-01", "last_interaction": "2023-06-01", **NONCOM},
         "allow", {IL: "yes"}, {IL: []}, "2026-06-01"),
    Case("bipa-retain-past-three-years-blocks",
         {"action": "retain", "collected": "2021-01-01", "last_interaction": "2021-06-01", **NONCOM},
         "block", {IL: "yes"}, {IL: ["15(a)"]}, "2024-06-01"),
    Case("bipa-retain-purpose-satisfied-first-blocks",
         {"action": "retain", "last_interaction": "2024-06-01",
          "purpose_fulfilled": "2024-12-31", **NONCOM}, "block", {IL: "yes"}, {IL: ["15(a)"]},
         "2024-12-31"),
    Case("bipa-retain-no-interaction-uses-collection-date",
         {"action": "retain", "collected": "2023-05-01", **NONCOM}, "allow", {IL: "yes"}, {IL: []},
         "2026-05-01"),
    Case("bipa-retain-leap-day-clock",
         {"action": "retain", "last_interaction": "2024-02-29", **NONCOM}, "allow", {IL: "yes"},
         {IL: []}, "2027-02-28"),
    # --- BIPA territorial scope: Vance facts and friends ---
    Case("vance-il-residents-wa-processor-uncertain-blocks", VANCE, "block",
         {IL: "uncertain", MH: "yes"}, {IL: ["15(b)"]}, codes=["US-IL", "US-WA"]),
    Case("vance-il-residents-ny-processor-uncertain-blocks",
         where("US-IL", "US-NY", geotag(41.8781, -87.6298), owner("Chicago, IL")), "block",
         {IL: "uncertain", MH: "no"}, {IL: ["15(b)"]}),
    Case("vance-ny-processor-likely-mode-allows",
         {**where("US-IL", "US-NY", owner("Chicago, IL")), "mode": "likely"}, "allow",
         {IL: "uncertain"}),
    Case("bipa-il-processing-of-german-resident-likely",
         {**where("DE", "US-IL"), "source": "direct"}, "block", {IL: "likely", EU: "likely"},
         {IL: ["15(b)"], EU: ["Art. 9(1)"]}),
    Case("no-location-evidence-everything-uncertain-blocks", where(None, None), "block",
         {IL: "uncertain", TX: "uncertain", EU: "uncertain", AI: "uncertain"},
         {IL: ["15(b)"], TX: ["503.001(b)"]}),
    Case("il-geotag-unknown-processor-likely",
         where(None, None, geotag(42.147639, -87.787681)), "block", {IL: "likely"},
         {IL: ["15(b)"]}, codes=["US-IL"]),
    # --- border geotags ---
    Case("border-hammond-indiana-not-bipa-allows",
         where(None, "US-IN", geotag(41.62, -87.50)), "allow", {IL: "no"}, codes=["US-IN"]),
    Case("border-chicago-geotag-in-processor-uncertain",
         where(None, "US-IN", geotag(41.8781, -87.6298)), "block", {IL: "uncertain"},
         {IL: ["15(b)"]}, codes=["US-IL"]),
    Case("border-st-louis-missouri-not-bipa-allows",
         where(None, "US-MO", geotag(38.591166, -90.303667)), "allow", {IL: "no"},
         codes=["US-MO"]),
    Case("border-east-st-louis-illinois-uncertain",
         where(None, "US-MO", geotag(38.6245, -90.1507)), "block", {IL: "uncertain"},
         {IL: ["15(b)"]}, codes=["US-IL"]),
    # --- place-text ambiguity ---
    Case("place-springfield-alone-is-unknown-blocks",
         where(None, "US-MO", owner("Springfield")), "block", {IL: "uncertain"},
         {IL: ["15(b)"]}, codes=["US-MO"]),
    Case("place-springfield-illinois-uncertain-blocks",
         where(None, "US-MO", owner("Springfield, Illinois")), "block", {IL: "uncertain"},
         {IL: ["15(b)"]}, codes=["US-IL"]),
    Case("place-springfield-mo-allows", where(None, "US-MO", owner("Springfield, MO")),
         "allow", {IL: "no", TX: "no"}, codes=["US-MO"]),
    Case("place-berlin-germany-gdpr-and-ai-act",
         where(None, "US-MO", owner("Berlin, Germany")), "block",
         {EU: "likely", AI: "uncertain", IL: "no"}, {EU: ["Art. 9(1)"], AI: ["Art. 5(1)(e)"]},
         codes=["DE"]),
    Case("place-nyc-allows", where(None, "US-NY", owner("NYC")), "allow", {IL: "no"},
         codes=["US-NY"]),
    Case("declared-texas-residence-cubi-blocks",
         where(None, "US-TX", {"kind": "declared", "code": "US-TX"}), "block", {TX: "yes"},
         {TX: ["503.001(b)"]}),
    # --- Texas CUBI ---
    Case("cubi-verbal-informed-consent-allows",
         {**where("US-TX", "US-TX"), "consents": [consent("verbal")]}, "allow", {TX: "yes"},
         {TX: []}),
    Case("cubi-uninformed-consent-blocks",
         {**where("US-TX", "US-TX"), "consents": [consent("written", informed=False)]},
         "block", {TX: "yes"}, {TX: ["503.001(b)"]}),
    Case("cubi-non-commercial-out-of-scope-allows", where("US-TX", "US-TX", commercial=False),
         "allow", {TX: "no"}),
    Case("cubi-2026-non-identifying-ai-exempt-allows",
         {**where("US-TX", "US-TX"), "purpose": "fairness-audit", "date": "2026-02-01"},
         "allow", {TX: "no"}),
    Case("cubi-2025-non-identifying-not-yet-exempt-blocks",
         {**where("US-TX", "US-TX"), "purpose": "fairness-audit", "date": "2025-06-01"},
         "block", {TX: "yes"}, {TX: ["503.001(b)"]}),
    Case("cubi-2026-identifying-purpose-not-exempt-blocks",
         {**where("US-TX", "US-TX"), "date": "2026-02-01"}, "block", {TX: "yes"},
         {TX: ["503.001(b)"]}),
    Case("cubi-retain-within-year-after-purpose-allows",
         {**where("US-TX", "US-TX"), "action": "retain", "purpose_fulfilled": "2024-06-01"},
         "allow", {TX: "yes"}, {TX: []}, "2025-06-01"),
    Case("cubi-retain-past-year-after-purpose-blocks",
         {**where("US-TX", "US-TX"), "action": "retain", "purpose_fulfilled": "2023-06-01"},
         "block", {TX: "yes"}, {TX: ["503.001(c)(3)"]}, "2024-06-01"),
    Case("cubi-consent-is-not-a-general-disclosure-basis",
         {**where("US-TX", "US-TX"), "action": "disclose", "disclosure_basis": "consent",
          "consents": [consent()]}, "block", {TX: "yes"}, {TX: ["503.001(c)(1)"]}),
    Case("cubi-disclose-under-warrant-allows",
         {**where("US-TX", "US-TX"), "action": "disclose", "disclosure_basis": "warrant"},
         "allow", {TX: "yes"}, {TX: []}),
    Case("cubi-sell-without-exception-blocks", {**where("US-TX", "US-TX"), "action": "sell"},
         "block", {TX: "yes"}, {TX: ["503.001(c)(1)"]}),
    # --- Washington ---
    Case("wa-19375-excludes-photo-derived-mhmda-blocks", where("US-WA", "US-WA"), "block",
         {WA: "no", MH: "yes"}, {MH: ["19.373.030(1)(a)"]}),
    Case("wa-19375-applies-to-non-photo-data",
         {**where("US-WA", "US-WA"), "derived_from_photo": False}, "block",
         {WA: "yes", MH: "yes"}, {WA: ["19.375.020(1)"], MH: ["19.373.030(1)(a)"]}),
    Case("wa-mhmda-not-in-force-before-2024-03-31",
         {**where("US-WA", "US-OR"), "date": "2024-01-01"}, "allow", {MH: "no", WA: "no"}),
    Case("wa-mhmda-collected-in-wa-for-oregon-resident",
         where("US-OR", "US-WA"), "block", {MH: "yes"}, {MH: ["19.373.030(1)(a)"]}),
    # a collection consent is not the separate signed sale authorization (review finding 3)
    Case("wa-mhmda-sale-with-collection-consent-blocks",
         {**where("US-WA", "US-WA"), "action": "sell", "consents": [consent("electronic")]},
         "block", {MH: "yes"}, {MH: ["19.373.070"]}),
    Case("wa-mhmda-sale-with-signed-authorization-allows",
         {**where("US-WA", "US-WA"), "action": "sell",
          "consents": [{**consent("electronic", granted="2024-06-01", expires="2025-06-01"),
                        "kind": "sale-authorization", "signed": True,
                        "purchaser": "Acme Vision Inc."}]},
         "allow", {MH: "yes"}, {MH: []}),
    Case("wa-mhmda-sale-verbal-authorization-blocks",
         {**where("US-WA", "US-WA"), "action": "sell", "consents": [consent("verbal")]},
         "block", {MH: "yes"}, {MH: ["19.373.070"]}),
    Case("wa-mhmda-sharing-needs-consent",
         {**where("US-WA", "US-WA"), "action": "disclose",
          "disclosure_basis": "financial-transaction"}, "block", {MH: "yes"},
         {MH: ["19.373.030(1)(b)"]}),
    # --- Colorado ---
    Case("co-not-in-force-until-2025-07-01",
         {**where("US-CO", "US-CO"), "date": "2025-06-30"}, "allow", {CO: "no"}),
    Case("co-in-force-2025-07-01-blocks",
         {**where("US-CO", "US-CO"), "date": "2025-07-01"}, "block", {CO: "yes"},
         {CO: ["6-1-1314(3)(a)"]}),
    Case("co-non-identifying-photo-use-excluded",
         {**where("US-CO", "US-CO"), "date": "2025-08-01", "purpose": "fairness-audit"},
         "allow", {CO: "no"}),
    Case("co-retain-past-24-months-blocks",
         {**where("US-CO", "US-CO"), "date": "2025-09-01", "action": "retain",
          "last_interaction": "2023-08-01"}, "block", {CO: "yes"}, {CO: ["6-1-1314(2)(a)"]},
         "2025-08-01"),
    Case("co-sale-forbidden",
         {**where("US-CO", "US-CO"), "date": "2025-09-01", "action": "sell",
          "consents": [consent()]}, "block", {CO: "yes"}, {CO: ["6-1-1314(4)(a)"]}),
    # --- California CPRA ---
    Case("cpra-notice-given-no-opt-out-allows",
         {**where("US-CA", "US-CA"), "consents": [consent("none")]}, "allow", {CA: "yes"},
         {CA: []}),
    Case("cpra-no-notice-blocks", where("US-CA", "US-CA"), "block", {CA: "yes"},
         {CA: ["1798.100(a)"]}),
    Case("cpra-limit-exercised-blocks",
         {**where("US-CA", "US-CA"), "consents": [consent("none", revoked="2025-01-01")]},
         "block", {CA: "yes"}, {CA: ["1798.121"]}),
    Case("cpra-sale-after-opt-out-blocks",
         {**where("US-CA", "US-CA"), "action": "sell",
          "consents": [consent("none", purposes=("sell",), revoked="2025-01-01")]},
         "block", {CA: "yes"}, {CA: ["1798.120"]}),
    Case("cpra-non-business-out-of-scope", where("US-CA", "US-CA", commercial=False), "allow",
         {CA: "no"}),
    # --- GDPR / UK GDPR ---
    Case("gdpr-explicit-electronic-consent-allows",
         {**where("DE", "DE"), "source": "direct", "consents": [consent("electronic")]},
         "allow", {EU: "yes", AI: "yes"}, {EU: [], AI: []}),
    Case("gdpr-no-consent-blocks", {**where("DE", "DE"), "source": "direct"}, "block",
         {EU: "yes"}, {EU: ["Art. 9(1)"]}),
    Case("gdpr-verbal-consent-not-explicit-enough",
         {**where("FR", "FR"), "source": "direct", "consents": [consent("verbal")]}, "block",
         {EU: "yes"}, {EU: ["Art. 9(1)"]}),
    Case("gdpr-not-in-force-before-2018-05-25",
         {**where("DE", "DE"), "source": "direct", "date": "2018-05-24"}, "allow",
         {EU: "no", AI: "no"}),
    # Art. 9 falls away for non-identifying use, Art. 6 and 14 do not (review finding 19)
    Case("gdpr-non-identifying-photo-use-needs-art6-basis-and-art14-notice",
         {**where("DE", "DE"), "purpose": "fairness-audit"}, "block", {EU: "yes"},
         {EU: ["Art. 6(1)", "Art. 14"]}),
    Case("gdpr-non-identifying-photo-use-with-informed-consent-allows",
         {**where("DE", "DE"), "purpose": "fairness-audit",
          "consents": [consent("electronic", purposes=("fairness-audit",))]}, "allow",
         {EU: "yes"}, {EU: []}),
    Case("gdpr-retain-after-withdrawal-month-passed-blocks",
         {**where("DE", "DE"), "source": "direct", "action": "retain",
          "consents": [consent("electronic", revoked="2025-01-10")]}, "block", {EU: "yes"},
         {EU: ["Art. 5(1)(e)"]}, "2025-02-10"),
    Case("gdpr-retain-within-month-after-withdrawal-allows",
         {**where("DE", "DE"), "source": "direct", "action": "retain", "date": "2025-02-01",
          "consents": [consent("electronic", revoked="2025-01-10")]}, "allow", {EU: "yes"},
         {EU: []}, "2025-02-10"),
    Case("gdpr-paris-geotag-us-processor-likely",
         {**where(None, "US-NY", geotag(48.862173, 2.394075)), "source": "direct"}, "block",
         {EU: "likely", IL: "no"}, {EU: ["Art. 9(1)"]}, codes=["FR"]),
    Case("gdpr-financial-transaction-not-an-art9-basis",
         {**where("DE", "DE"), "source": "direct", "action": "disclose",
          "disclosure_basis": "financial-transaction"}, "block", {EU: "yes"},
         {EU: ["Art. 9(1)"]}),
    Case("uk-gdpr-london-resident-blocks", {**where("GB", "GB"), "source": "direct"},
         "block", {UK: "yes", EU: "no"}, {UK: ["Art. 9(1)"]}),
    # --- EU AI Act Art. 5(1)(e) ---
    Case("ai-act-untargeted-scraping-fr-database-blocks",
         {**where("DE", "DE"), "purpose": "build-face-recognition-database",
          "source": "scraped-untargeted",
          "consents": [consent("electronic", purposes=("build-face-recognition-database",))]},
         "block", {AI: "yes", EU: "yes"}, {AI: ["Art. 5(1)(e)"], EU: []}),
    Case("ai-act-not-applicable-before-2025-02-02",
         {**where("DE", "DE"), "purpose": "build-face-recognition-database",
          "source": "scraped-untargeted", "date": "2025-01-15",
          "consents": [consent("electronic", purposes=("build-face-recognition-database",))]},
         "allow", {AI: "no", EU: "yes"}),
    Case("ai-act-targeted-collection-allows",
         {**where("DE", "DE"), "source": "scraped-targeted", "consents": [consent("electronic")]},
         "allow", {AI: "yes"}, {AI: []}),
    Case("ai-act-unknown-source-denied-by-default",
         {**where("DE", "DE"), "consents": [consent("electronic")]}, "block", {AI: "yes"},
         {AI: ["Art. 5(1)(e)"]}),
    Case("ai-act-selfie-matching-on-scraped-eu-faces-blocks",
         {**where("DE", "DE"), "action": "match-optout", "purpose": "match-optout",
          "source": "scraped-untargeted",
          "consents": [consent("electronic", purposes=("match-optout",))]}, "block",
         {AI: "yes"}, {AI: ["Art. 5(1)(e)"]}),
]  # fmt: skip


def test_the_table_is_large_and_covers_every_shipped_law(policies: list[Policy]) -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)
    covered = {law for case in CASES for law in case.applies}
    assert covered == {p.id for p in policies}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_scenario(case: Case, policies: list[Policy]) -> None:
    data = case.scenario()
    mode = data.pop("mode", "conservative")
    decision = evaluate(parse_scenario(data), policies, mode=mode)
    explain = "\n".join(decision.reasons)
    assert decision.decision == case.decision, explain
    for law_id, grade in case.applies.items():
        assert decision.law(law_id).applies == grade, decision.law(law_id).reasons
    for law_id, sections in case.violations.items():
        found = sorted(v.section for v in decision.law(law_id).violations)
        assert found == sorted(sections), decision.law(law_id).violations
    expected = case.destroy_by
    got = decision.destroy_by.isoformat() if decision.destroy_by else None
    assert got == expected
    if case.codes is not None:
        codes = {j.code for j in decision.jurisdictions}
        assert set(case.codes) <= codes, codes
