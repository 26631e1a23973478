"""Issue 10 rules: who consented, minors, sale authorizations, 15(a)/(c)/(e), CCPA dates,
GDPR non-identifying use, TDM reservations. One row per rule, through the scenario parser.

Each case starts from BASE (an Illinois resident, processing in Illinois, a published
retention schedule) and overrides keys; ``violations`` lists the sections expected for the
laws named (exact), ``says`` is text that must appear in the decision's reasons or in the
named law's reasons and violations.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from faceledger.core.law import Policy, evaluate
from faceledger.services.decisions.policy import parse_scenario

FRT = "train-face-recognition"
BASE: dict[str, Any] = {
    "action": "extract-template", "purpose": FRT, "date": "2025-03-01",
    "processor": {"location": "US-IL", "commercial": True},
    "subject": {"residence": "US-IL", "evidence": []},
    "consents": [], "retention_schedule_published": "2020-01-01",
}  # fmt: skip
IL, TX, MH, CO, CA = "us-il-bipa", "us-tx-cubi", "us-wa-mhmda", "us-co-biometric", "us-ca-cpra"
EU, UK, AI = "eu-gdpr", "uk-gdpr", "eu-ai-act"
NOT_OWNER = "consent given by the photo owner, who is not the depicted person"


def consent(form: str = "written", *, by: str | None = None, relationship: str | None = None,
            purposes: tuple[str, ...] = (FRT,), granted: str = "2024-01-01",
            expires: str | None = None, revoked: str | None = None, informed: bool = True,
            **extra: Any) -> dict[str, Any]:  # fmt: skip
    item: dict[str, Any] = {"form": form, "purposes": list(purposes), "informed": informed,
                            "granted": granted, "expires": expires, "revoked": revoked}  # fmt: skip
    if by is not None:
        item["given_by"] = by
    if relationship is not None:
        item["relationship"] = relationship
    return {**item, **extra}


def auth(**extra: Any) -> dict[str, Any]:
    """A valid MHMDA sale authorization (signed, names a purchaser, expires within a year)."""
    values: dict[str, Any] = {"kind": "sale-authorization", "signed": True,
                              "purchaser": "Acme Vision Inc.", "granted": "2024-06-01",
                              "expires": "2025-06-01"}  # fmt: skip
    values.update(extra)
    granted, expires = values.pop("granted"), values.pop("expires")
    return consent("electronic", granted=granted, expires=expires, **values)


def at(residence: str, processor: str, **subject: Any) -> dict[str, Any]:
    return {"subject": {"residence": residence, "evidence": [], **subject},
            "processor": {"location": processor, "commercial": True}}  # fmt: skip


def kid(age: int | None = None, **more: Any) -> dict[str, Any]:
    return {"minor": True, **({"age": age} if age is not None else {}), **more}


@dataclass
class Case:
    id: str
    overrides: dict[str, Any]
    decision: str
    violations: dict[str, list[str]] = field(default_factory=dict)
    says: dict[str, str] = field(default_factory=dict)  # law id or "decision" -> text

    def scenario(self) -> dict[str, Any]:
        data = copy.deepcopy(BASE)
        data.update(copy.deepcopy(self.overrides))
        return data


WA, TXS, DE = at("US-WA", "US-WA"), at("US-TX", "US-TX"), at("DE", "DE")
OWN = {"is_photo_owner": True}

CASES: list[Case] = [
    # --- a photo owner's consent covers only the owner's own face ---
    Case("bipa-owner-consent-over-non-owner-face-blocks",
         {"consents": [consent(by="photo-owner")]}, "block", {IL: ["15(b)"]},
         {IL: NOT_OWNER, "decision": NOT_OWNER}),
    Case("mhmda-owner-consent-over-non-owner-face-blocks",
         {**WA, "consents": [consent(by="photo-owner")]}, "block",
         {MH: ["19.373.030(1)(a)"]}, {MH: NOT_OWNER}),
    Case("gdpr-owner-consent-over-non-owner-face-blocks",
         {**DE, "source": "direct", "consents": [consent("electronic", by="photo-owner")]},
         "block", {EU: ["Art. 9(1)"]}, {EU: NOT_OWNER}),
    Case("cubi-owner-consent-over-non-owner-face-blocks-citing-b1",
         {**TXS, "date": "2026-02-01", "consents": [consent(by="photo-owner")]}, "block",
         {TX: ["503.001(b)"]}, {TX: "503.001(b-1)"}),
    Case("cubi-owner-consent-before-b1-still-not-the-individuals",
         {**TXS, "consents": [consent(by="photo-owner")]}, "block", {TX: ["503.001(b)"]},
         {TX: NOT_OWNER}),
    Case("bipa-owner-consent-for-own-face-allows",
         {**at("US-IL", "US-IL", **OWN), "consents": [consent(by="photo-owner")]}, "allow",
         {IL: []}, {"decision": "the photo owner, who is the depicted person"}),
    Case("mhmda-owner-consent-for-own-face-allows",
         {**at("US-WA", "US-WA", **OWN), "consents": [consent(by="photo-owner")]}, "allow",
         {MH: []}),
    Case("gdpr-owner-consent-for-own-face-allows",
         {**at("DE", "DE", **OWN), "source": "direct",
          "consents": [consent("electronic", by="photo-owner")]}, "allow", {EU: []}),
    Case("cubi-owner-consent-for-own-face-allows",
         {**at("US-TX", "US-TX", **OWN), "date": "2026-02-01",
          "consents": [consent(by="photo-owner")]}, "allow", {TX: []}),
    # --- who may consent for a minor ---
    Case("bipa-parent-consent-for-claimed-child-allows",
         {**at("US-IL", "US-IL", **kid(9)),
          "consents": [consent(by="legal-representative", relationship="parent")]}, "allow",
         {IL: []}, {"decision": "legal representative (parent)"}),
    Case("bipa-minors-own-release-does-not-count",
         {**at("US-IL", "US-IL", **kid(15)), "consents": [consent()]}, "block",
         {IL: ["15(b)"]}, {IL: "a minor's own consent does not count"}),
    Case("bipa-representative-of-adult-allows",
         {"consents": [consent(by="legal-representative", relationship="guardian")]}, "allow",
         {IL: []}),
    Case("bipa-unknown-age-own-release-allows-and-says-age-unknown",
         {"consents": [consent()]}, "allow", {IL: []}, {IL: "age is not known"}),
    Case("gdpr-art8-childs-own-consent-does-not-count",
         {**at("DE", "DE", **kid(14)), "source": "direct", "consents": [consent("electronic")]},
         "block", {EU: ["Art. 9(1)"]}, {EU: "holder of parental responsibility"}),
    Case("gdpr-art8-minor-without-age-own-consent-does-not-count",
         {**at("DE", "DE", **kid()), "source": "direct", "consents": [consent("electronic")]},
         "block", {EU: ["Art. 9(1)"]}),
    Case("gdpr-art8-parent-consent-for-child-allows",
         {**at("DE", "DE", **kid(14)), "source": "direct",
          "consents": [consent("electronic", by="legal-representative", relationship="parent")]},
         "allow", {EU: []}),
    Case("gdpr-representative-for-known-adult-does-not-count",
         {**at("DE", "DE", minor=False), "source": "direct",
          "consents": [consent("electronic", by="legal-representative", relationship="parent")]},
         "block", {EU: ["Art. 9(1)"]}, {EU: "only for a child"}),
    Case("gdpr-sixteen-year-olds-own-consent-allows",
         {**at("DE", "DE", minor=True, age=16), "source": "direct",
          "consents": [consent("electronic")]}, "allow", {EU: []}),
    Case("uk-gdpr-fourteen-year-olds-own-consent-allows-age-13-in-uk",
         {**at("GB", "GB", **kid(14)), "source": "direct", "consents": [consent("electronic")]},
         "allow", {UK: []}),
    Case("colorado-child-under-13-needs-parent",
         {**at("US-CO", "US-CO", **kid(12)), "date": "2025-08-01", "consents": [consent()]},
         "block", {CO: ["6-1-1314(3)(a)"]}),
    Case("colorado-teenagers-own-consent-allows",
         {**at("US-CO", "US-CO", **kid(14)), "date": "2025-08-01", "consents": [consent()]},
         "allow", {CO: []}),
    Case("cubi-minors-own-consent-does-not-count",
         {**at("US-TX", "US-TX", **kid(16)), "consents": [consent()]}, "block",
         {TX: ["503.001(b)"]}),
    # --- MHMDA 19.373.070 sale authorization; consent also gates retain ---
    Case("mhmda-sale-with-training-consent-blocks",
         {**WA, "action": "sell", "consents": [consent("electronic")]}, "block",
         {MH: ["19.373.070"]}, {MH: "not a sale authorization"}),
    Case("mhmda-sale-with-signed-authorization-naming-purchaser-allows",
         {**WA, "action": "sell", "consents": [auth()]}, "allow", {MH: []}),
    Case("mhmda-sale-authorization-expiring-after-a-year-blocks",
         {**WA, "action": "sell", "consents": [auth(expires="2025-06-02")]}, "block",
         {MH: ["19.373.070"]}, {MH: "more than 12 months after signing"}),
    Case("mhmda-sale-authorization-without-expiry-blocks",
         {**WA, "action": "sell", "consents": [auth(expires=None)]}, "block",
         {MH: ["19.373.070"]}, {MH: "states no expiry"}),
    Case("mhmda-sale-authorization-unsigned-blocks",
         {**WA, "action": "sell", "consents": [auth(signed=False)]}, "block",
         {MH: ["19.373.070"]}, {MH: "not signed"}),
    Case("mhmda-sale-authorization-without-purchaser-blocks",
         {**WA, "action": "sell", "consents": [auth(purchaser=None)]}, "block",
         {MH: ["19.373.070"]}, {MH: "names no purchaser"}),
    Case("mhmda-sale-authorization-by-photo-owner-blocks",
         {**WA, "action": "sell", "consents": [auth(given_by="photo-owner")]}, "block",
         {MH: ["19.373.070"]}, {MH: NOT_OWNER}),
    Case("mhmda-license-needs-authorization-too",
         {**WA, "action": "license", "consents": [consent("electronic")]}, "block",
         {MH: ["19.373.070"]}),
    Case("mhmda-sale-authorization-is-not-a-collection-consent",
         {**WA, "consents": [auth()]}, "block", {MH: ["19.373.030(1)(a)"]},
         {MH: "a sale authorization is not a consent to collect"}),
    Case("mhmda-retain-needs-consent-collect-includes-retain",
         {**WA, "action": "retain"}, "block", {MH: ["19.373.030(1)(a)"]}),
    Case("mhmda-retain-with-consent-allows", {**WA, "action": "retain",
                                              "consents": [consent("electronic")]}, "allow",
         {MH: []}),
    # --- BIPA 15(c) otherwise profit, 15(a) schedule, 15(e) security ---
    Case("bipa-license-of-templates-blocks-even-with-release",
         {"action": "license", "consents": [consent()]}, "block", {IL: ["15(c)"]}),
    Case("bipa-commercial-training-on-held-templates-blocks",
         {"action": "retain", "consents": [consent()]}, "block", {IL: ["15(c)"]},
         {IL: "otherwise profit"}),
    Case("bipa-retain-for-non-identifying-audit-allows",
         {"action": "retain", "purpose": "fairness-audit",
          "consents": [consent(purposes=("fairness-audit",))]}, "allow", {IL: []}),
    Case("bipa-no-published-retention-schedule-blocks-extraction",
         {"retention_schedule_published": None, "consents": [consent()]}, "block",
         {IL: ["15(a)"]}, {IL: "retention schedule"}),
    Case("bipa-schedule-published-after-the-action-blocks",
         {"retention_schedule_published": "2025-03-02", "consents": [consent()]}, "block",
         {IL: ["15(a)"]}, {IL: "published only on 2025-03-02"}),
    Case("bipa-schedule-published-on-the-action-date-allows",
         {"retention_schedule_published": "2025-03-01", "consents": [consent()]}, "allow",
         {IL: []}, {IL: "15(e) reasonable care: faceledger stores every template encrypted"}),
    Case("bipa-no-schedule-blocks-retain",
         {"action": "retain", "retention_schedule_published": None,
          "processor": {"location": "US-IL", "commercial": False}}, "block", {IL: ["15(a)"]}),
    Case("bipa-esignature-before-sb2979-refusal-is-labelled-uncertain",
         {"date": "2024-09-01", "consents": [consent("electronic", granted="2024-07-01")]},
         "block", {IL: ["15(b)"]}, {IL: "uncertain"}),
    Case("bipa-allow-names-who-consented", {"consents": [consent()]}, "allow", {IL: []},
         {"decision": "15(b) satisfied by the written consent given by the subject"}),
    # --- CCPA: in force 2020, right to limit 2023, minors' opt-in ---
    Case("ccpa-2021-sale-after-opt-out-blocks",
         {**at("US-CA", "US-CA", minor=False), "date": "2021-06-01", "action": "sell",
          "consents": [consent("none", purposes=("sell",), revoked="2021-03-01")]}, "block",
         {CA: ["1798.120"]}),
    Case("ccpa-2021-collection-without-notice-blocks",
         {**at("US-CA", "US-CA"), "date": "2021-06-01"}, "block", {CA: ["1798.100(a)"]}),
    Case("ccpa-2021-limit-not-yet-a-right",
         {**at("US-CA", "US-CA"), "date": "2021-06-01",
          "consents": [consent("none", granted="2021-01-01", revoked="2021-03-01")]}, "allow",
         {CA: []}),
    Case("ccpa-2023-limit-exercised-blocks",
         {**at("US-CA", "US-CA"), "date": "2023-06-01",
          "consents": [consent("none", granted="2021-01-01", revoked="2023-03-01")]}, "block",
         {CA: ["1798.121"]}),
    Case("ccpa-2019-not-in-force", {**at("US-CA", "US-CA"), "date": "2019-06-01"}, "allow",
         {CA: []}),
    Case("ccpa-adult-sale-without-opt-out-allows",
         {**at("US-CA", "US-CA", minor=False), "action": "sell"}, "allow", {CA: []}),
    Case("ccpa-unknown-age-sale-needs-opt-in",
         {**at("US-CA", "US-CA"), "action": "sell"}, "block", {CA: ["1798.120(c)"]}),
    Case("ccpa-14-year-old-sale-without-opt-in-blocks",
         {**at("US-CA", "US-CA", **kid(14)), "action": "sell"}, "block",
         {CA: ["1798.120(c)"]}),
    Case("ccpa-14-year-olds-own-opt-in-allows",
         {**at("US-CA", "US-CA", **kid(14)), "action": "sell",
          "consents": [consent(purposes=("sell",))]}, "allow", {CA: []}),
    Case("ccpa-10-year-olds-own-opt-in-does-not-count",
         {**at("US-CA", "US-CA", **kid(10)), "action": "sell",
          "consents": [consent(purposes=("sell",))]}, "block", {CA: ["1798.120(c)"]},
         {CA: "parent or guardian must opt in"}),
    Case("ccpa-parents-opt-in-for-10-year-old-allows",
         {**at("US-CA", "US-CA", **kid(10)), "action": "sell",
          "consents": [consent(purposes=("sell",), by="legal-representative",
                               relationship="parent")]}, "allow", {CA: []}),
    # --- GDPR non-identifying use; TDM reservation ---
    Case("gdpr-non-identifying-reads-art9-does-not-apply",
         {**DE, "purpose": "fairness-audit"}, "block", {EU: ["Art. 6(1)", "Art. 14"]},
         {EU: "Art. 9 does not apply"}),
    Case("uk-gdpr-non-identifying-reads-art9-does-not-apply",
         {**at("GB", "GB"), "purpose": "fairness-audit"}, "block",
         {UK: ["Art. 6(1)", "Art. 14"]}, {UK: "Art. 9 does not apply"}),
    Case("gdpr-tdm-reserved-photo-blocks-training",
         {**DE, "source": "direct", "tdm_reserved": True, "consents": [consent("electronic")]},
         "block", {EU: ["DSM Art. 4(3)"], AI: []}, {EU: "text-and-data-mining reservation"}),
    Case("ai-act-art53-tdm-reservation-from-august-2025",
         {**DE, "source": "direct", "tdm_reserved": True, "date": "2025-09-01",
          "consents": [consent("electronic")]}, "block",
         {EU: ["DSM Art. 4(3)"], AI: ["Art. 53(1)(c)"]}),
    Case("gdpr-tdm-reserved-photo-non-training-use-allowed",
         {**DE, "source": "direct", "tdm_reserved": True, "purpose": "match-optout",
          "action": "match-optout", "consents": [consent("electronic", purposes=("match-optout",))]},
         "allow", {EU: [], AI: []}),
    # --- lower-severity findings ---
    Case("cubi-disclosure-permitted-by-statute-allows",
         {**TXS, "action": "disclose", "disclosure_basis": "permitted-by-law"}, "allow",
         {TX: []}),
    Case("uk-gdpr-reach-over-foreign-processor-is-marked-contested",
         {**at("GB", "US-NY"), "source": "direct"}, "block", {UK: ["Art. 9(1)"]},
         {UK: "contested reach"}),
    Case("mhmda-deletion-within-30-days-of-withdrawal",
         {**WA, "action": "retain", "date": "2025-02-15",
          "consents": [consent("electronic", revoked="2025-02-01")]}, "block",
         {MH: ["19.373.030(1)(a)"]}, {MH: "consent revoked"}),
]  # fmt: skip


def _texts(decision: Any, key: str) -> str:
    if key == "decision":
        return "\n".join(decision.reasons)
    law = decision.law(key)
    return "\n".join([*law.reasons, *(v.reason for v in law.violations)])


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_who_consented_scenario(case: Case, policies: list[Policy]) -> None:
    decision = evaluate(parse_scenario(case.scenario()), policies)
    assert decision.decision == case.decision, "\n".join(decision.reasons)
    for law_id, sections in case.violations.items():
        found = sorted(v.section for v in decision.law(law_id).violations)
        assert found == sorted(sections), decision.law(law_id).violations
        if sections:
            assert decision.law(law_id).applies != "no"
    for key, text in case.says.items():
        assert text in _texts(decision, key), _texts(decision, key)


def test_case_ids_are_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES)


def test_mhmda_destroy_by_is_30_days_after_withdrawal(policies: list[Policy]) -> None:
    data = {**copy.deepcopy(BASE), **WA, "action": "retain",
            "consents": [consent("electronic", revoked="2025-02-01")]}  # fmt: skip
    law = evaluate(parse_scenario(data), policies).law(MH)
    assert law.destroy_by is not None and law.destroy_by.isoformat() == "2025-03-03"


def test_gdpr_non_identifying_is_never_graded_does_not_apply(policies: list[Policy]) -> None:
    data = {**copy.deepcopy(BASE), **DE, "purpose": "fairness-audit"}
    law = evaluate(parse_scenario(data), policies).law(EU)
    assert law.applies == "yes"
    assert not any("GDPR does not apply" in r for r in law.reasons)
