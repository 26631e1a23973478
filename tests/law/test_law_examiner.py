"""Examiner scenarios: who consented x age x law x action x date, edge dates, old documents.

Each row is one scenario document run through the same parser as `faceledger policy
evaluate`. ``blocks`` lists, per law named, the exact sections that must be violated (an
empty list: that law must not object); ``says`` is text that must appear in the decision's
reasons ("decision") or in one law's reasons and violations. Rows start from BASE (an
Illinois resident processed in Illinois, schedule published, in 2026 so every law is in
force) unless they start from OLD: a document written before issue 10 (no given_by, kind,
minor, age, is_photo_owner, retention_schedule_published or tdm_reserved key).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from faceledger.core.law import Policy, estimate_exposure, evaluate
from faceledger.services.decisions.policy import parse_scenario

FRT = "train-face-recognition"
BASE: dict[str, Any] = {
    "action": "extract-template", "purpose": FRT, "date": "2026-02-01",
    "processor": {"location": "US-IL", "commercial": True},
    "subject": {"residence": "US-IL", "evidence": []}, "source": "direct",
    "consents": [], "retention_schedule_published": "2020-01-01",
}  # fmt: skip
OLD: dict[str, Any] = {
    "action": "extract-template", "purpose": FRT, "date": "2025-03-01",
    "processor": {"location": "US-IL", "commercial": True},
    "subject": {"residence": "US-IL", "evidence": []},
    "consents": [], "collected": "2019-01-15", "last_interaction": None,
    "purpose_fulfilled": None, "disclosure_basis": None,
}  # fmt: skip
IL, TX, MH, CO, CA = "us-il-bipa", "us-tx-cubi", "us-wa-mhmda", "us-co-biometric", "us-ca-cpra"
EU, UK, AI = "eu-gdpr", "uk-gdpr", "eu-ai-act"
NOT_OWNER = "consent given by the photo owner, who is not the depicted person"
IS_OWNER = "the photo owner, who is the depicted person"
BY_SUBJECT = "given by the subject (the depicted person)"
BY_PARENT = "given by the subject's legal representative (parent)"
B1 = "an image being public is not consent"


def c(form: str = "written", *, purposes: tuple[str, ...] = (FRT,), granted: str = "2024-09-01",
      informed: bool = True, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A consent record; ``extra`` adds given_by, relationship, kind, expires, revoked..."""
    return {"form": form, "purposes": list(purposes), "informed": informed,
            "granted": granted, **extra}  # fmt: skip


def rep(**extra: Any) -> dict[str, Any]:
    return c("electronic", given_by="legal-representative", relationship="parent", **extra)


def owner(**extra: Any) -> dict[str, Any]:
    return c("electronic", given_by="photo-owner", **extra)


def auth(**extra: Any) -> dict[str, Any]:
    """A valid MHMDA sale authorization signed 2025-06-01, expiring exactly a year later."""
    values: dict[str, Any] = {"kind": "sale-authorization", "signed": True,
                              "purchaser": "Acme Vision Inc.", "granted": "2025-06-01",
                              "expires": "2026-06-01"}  # fmt: skip
    values.update(extra)
    return c("electronic", **values)


def at(where: str, processor: str | None = None, **subject: Any) -> dict[str, Any]:
    return {"subject": {"residence": where, "evidence": [], **subject},
            "processor": {"location": processor or where, "commercial": True}}  # fmt: skip


PLACES = {IL: "US-IL", TX: "US-TX", MH: "US-WA", CO: "US-CO", EU: "DE", UK: "GB"}
CONSENT_SECTION = {IL: "15(b)", TX: "503.001(b)", MH: "19.373.030(1)(a)",
                   CO: "6-1-1314(3)(a)", EU: "Art. 9(1)", UK: "Art. 9(1)"}  # fmt: skip
#: Age under which the person's own consent does not count, per law (BIPA/CUBI/MHMDA 18 [R]).
OWN_FROM = {IL: 18, TX: 18, MH: 18, CO: 13, EU: 16, UK: 13}


@dataclass
class Case:
    id: str
    overrides: dict[str, Any]
    decision: str
    blocks: dict[str, list[str]] = field(default_factory=dict)
    says: dict[str, str] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=lambda: BASE)
    absent: dict[str, str] = field(default_factory=dict)  # text that must NOT appear

    def scenario(self) -> dict[str, Any]:
        data = copy.deepcopy(self.base)
        data.update(copy.deepcopy(self.overrides))
        return data


def _grid() -> list[Case]:
    """given_by x is_photo_owner x age, for every law with a consent rule (extraction)."""
    rows: list[Case] = []
    for law, place in PLACES.items():
        sec, own_from = CONSENT_SECTION[law], OWN_FROM[law]
        minors_rep = law in (EU, UK)  # GDPR Art. 8: a representative only for a child
        rows += [
            Case(
                f"{law}-subjects-own-consent-adult-allows",
                {**at(place, minor=False), "consents": [c("electronic")]},
                "allow",
                {law: []},
                {"decision": f"{sec} satisfied by the electronic consent {BY_SUBJECT}"},
            ),
            Case(
                f"{law}-photo-owner-consent-not-owners-face-blocks",
                {**at(place), "consents": [owner()]},
                "block",
                {law: [sec]},
                {
                    law: NOT_OWNER,
                    "decision": "consent records: electronic consent given by "
                    "the photo owner, who is not the depicted person",
                },
            ),
            Case(
                f"{law}-photo-owner-consent-owners-own-face-allows",
                {**at(place, is_photo_owner=True, minor=False), "consents": [owner()]},
                "allow",
                {law: []},
                {"decision": f"{sec} satisfied by the electronic consent given by {IS_OWNER}"},
            ),
            Case(
                f"{law}-photo-owner-is-owner-false-explicit-blocks",
                {**at(place, is_photo_owner=False, minor=False), "consents": [owner()]},
                "block",
                {law: [sec]},
                {law: NOT_OWNER},
            ),
            Case(
                f"{law}-representative-for-known-adult",
                {**at(place, minor=False, age=30), "consents": [rep()]},
                "block" if minors_rep else "allow",
                {law: [sec] if minors_rep else []},
                {law: "only for a child"} if minors_rep else {"decision": BY_PARENT},
            ),
            Case(
                f"{law}-representative-for-unknown-age",
                {**at(place), "consents": [rep()]},
                "block" if minors_rep else "allow",
                {law: [sec] if minors_rep else []},
                {law: "not known to be a child"} if minors_rep else {"decision": BY_PARENT},
            ),
            Case(
                f"{law}-twelve-year-olds-own-consent-blocks",
                {**at(place, minor=True, age=12), "consents": [c("electronic")]},
                "block",
                {law: [sec]},
                {law: "a minor's own consent does not count"},
            ),
            Case(
                f"{law}-parent-for-twelve-year-old-allows",
                {**at(place, minor=True, age=12), "consents": [rep()]},
                "allow",
                {law: []},
                {"decision": BY_PARENT},
            ),
            Case(
                f"{law}-fifteen-year-olds-own-consent",
                {**at(place, minor=True, age=15), "consents": [c("electronic")]},
                "block" if own_from > 15 else "allow",
                {law: [sec] if own_from > 15 else []},
            ),
            Case(
                f"{law}-own-consent-at-the-age-line-{own_from}",
                {**at(place, age=own_from), "consents": [c("electronic")]},
                "allow",
                {law: []},
            ),
            Case(
                f"{law}-own-consent-a-year-below-the-age-line",
                {**at(place, age=own_from - 1), "consents": [c("electronic")]},
                "block",
                {law: [sec]},
            ),
            Case(
                f"{law}-minor-without-age-own-consent-blocks",
                {**at(place, minor=True), "consents": [c("electronic")]},
                "block",
                {law: [sec]},
            ),
            Case(
                f"{law}-self-portrait-of-a-twelve-year-old-owner-blocks",
                {**at(place, is_photo_owner=True, age=12), "consents": [owner()]},
                "block",
                {law: [sec]},
                {law: IS_OWNER},
            ),
        ]
    return rows


WA, CAL, DE = at("US-WA"), at("US-CA"), at("DE")

CASES: list[Case] = [
    *_grid(),
    # --- effective dates ---
    Case("bipa-day-before-in-force-allows",
         {"date": "2008-10-02"}, "allow", {IL: []}, {IL: "not in force until 2008-10-03"}),
    Case("bipa-first-day-in-force-blocks-without-release",
         {"date": "2008-10-03", "retention_schedule_published": "2008-10-01"}, "block",
         {IL: ["15(b)"]}),
    Case("bipa-esignature-day-before-sb2979-blocks-labelled-uncertain",
         {"date": "2024-09-01", "consents": [c("electronic", granted="2024-08-01")]}, "block",
         {IL: ["15(b)"]}, {IL: "uncertain"}),
    Case("bipa-esignature-on-sb2979-day-allows",
         {"date": "2024-09-01", "consents": [c("electronic", granted="2024-08-02")]}, "allow",
         {IL: []}),
    Case("ccpa-sale-day-before-2020-allows", {**CAL, "date": "2019-12-31", "action": "sell"},
         "allow", {CA: []}, {CA: "not in force until 2020-01-01"}),
    Case("ccpa-sale-unknown-age-from-2020-needs-opt-in",
         {**CAL, "date": "2020-01-01", "action": "sell"}, "block", {CA: ["1798.120(c)"]}),
    Case("ccpa-limit-exercised-2022-not-yet-a-right",
         {**CAL, "date": "2022-12-31", "consents": [c("none", granted="2021-01-01",
                                                       revoked="2022-06-01")]},
         "allow", {CA: []}),
    Case("cpra-limit-exercised-from-2023-blocks",
         {**CAL, "date": "2023-01-01", "consents": [c("none", granted="2021-01-01",
                                                       revoked="2022-06-01")]},
         "block", {CA: ["1798.121"]}),
    Case("colorado-day-before-in-force-allows", {**at("US-CO"), "date": "2025-06-30"}, "allow",
         {CO: []}),
    Case("colorado-first-day-blocks-without-consent", {**at("US-CO"), "date": "2025-07-01"},
         "block", {CO: ["6-1-1314(3)(a)"]}),
    Case("cubi-b1-not-cited-before-2026", {**at("US-TX"), "date": "2025-12-31",
                                           "consents": [owner()]},
         "block", {TX: ["503.001(b)"]}, {TX: NOT_OWNER}, absent={TX: B1}),
    Case("cubi-b1-cited-from-2026-01-01", {**at("US-TX"), "date": "2026-01-01",
                                           "consents": [owner()]},
         "block", {TX: ["503.001(b)"]}, {TX: B1}),
    Case("ai-act-day-before-prohibition-allows-scraping",
         {**DE, "date": "2025-02-01", "source": "scraped-untargeted",
          "consents": [c("electronic")]}, "allow", {AI: [], EU: []},
         {AI: "not in force until 2025-02-02"}),
    Case("ai-act-prohibition-from-2025-02-02",
         {**DE, "date": "2025-02-02", "source": "scraped-untargeted",
          "consents": [c("electronic")]}, "block", {AI: ["Art. 5(1)(e)"], EU: []}),
    Case("ai-act-unknown-source-is-the-worst-case",
         {**DE, "source": None, "consents": [c("electronic")]}, "block",
         {AI: ["Art. 5(1)(e)"]}),
    Case("mhmda-day-before-in-force-allows", {**WA, "date": "2024-03-30"}, "allow", {MH: []}),
    Case("mhmda-first-day-blocks-without-consent", {**WA, "date": "2024-03-31"}, "block",
         {MH: ["19.373.030(1)(a)"]}),
    # --- consent timing ---
    Case("consent-granted-after-the-action-blocks",
         {"consents": [c(granted="2026-02-02")]}, "block", {IL: ["15(b)"]},
         {IL: "after the action"}),
    Case("consent-granted-on-the-action-date-allows",
         {"consents": [c(granted="2026-02-01")]}, "allow", {IL: []}),
    Case("consent-expiring-on-the-action-date-blocks",
         {"consents": [c(expires="2026-02-01")]}, "block", {IL: ["15(b)"]},
         {IL: "expired on 2026-02-01"}),
    Case("consent-expiring-the-day-after-allows",
         {"consents": [c(expires="2026-02-02")]}, "allow", {IL: []}),
    Case("consent-revoked-on-the-action-date-blocks",
         {"consents": [c(revoked="2026-02-01")]}, "block", {IL: ["15(b)"]},
         {IL: "revoked on 2026-02-01"}),
    Case("consent-revoked-after-the-action-allows",
         {"consents": [c(revoked="2026-03-01")]}, "allow", {IL: []}),
    Case("gdpr-revoked-consent-blocks", {**DE, "consents": [c("electronic",
                                                              revoked="2026-01-01")]},
         "block", {EU: ["Art. 9(1)"]}, {EU: "revoked"}),
    Case("consent-for-another-purpose-blocks",
         {"consents": [c(purposes=("fairness-audit",))]}, "block", {IL: ["15(b)"]}),
    Case("uninformed-release-blocks", {"consents": [c(informed=False)]}, "block",
         {IL: ["15(b)"]}, {IL: "not informed"}),
    # --- MHMDA 19.373.070 sale authorization ---
    Case("mhmda-sale-authorization-with-purchaser-allows",
         {**WA, "action": "sell", "consents": [auth()]}, "allow", {MH: []}),
    Case("mhmda-sale-authorization-without-purchaser-blocks",
         {**WA, "action": "sell", "consents": [auth(purchaser=None)]}, "block",
         {MH: ["19.373.070"]}, {MH: "names no purchaser"}),
    Case("mhmda-sale-authorization-signed-false-blocks",
         {**WA, "action": "sell", "consents": [auth(signed=False)]}, "block",
         {MH: ["19.373.070"]}, {MH: "not signed"}),
    Case("mhmda-sale-authorization-signed-absent-blocks",
         {**WA, "action": "sell", "consents": [{k: v for k, v in auth().items()
                                                 if k != "signed"}]},
         "block", {MH: ["19.373.070"]}, {MH: "not signed"}),
    Case("mhmda-sale-authorization-expiring-exactly-12-months-allows",
         {**WA, "action": "sell", "consents": [auth(expires="2026-06-01")]}, "allow", {MH: []}),
    Case("mhmda-sale-authorization-12-months-plus-a-day-blocks",
         {**WA, "action": "sell", "consents": [auth(expires="2026-06-02")]}, "block",
         {MH: ["19.373.070"]}, {MH: "more than 12 months after signing"}),
    Case("mhmda-sale-authorization-leap-day-12-months-allows",
         {**WA, "action": "sell", "date": "2024-12-01",
          "consents": [auth(granted="2024-02-29", expires="2025-02-28")]}, "allow", {MH: []}),
    Case("mhmda-sale-authorization-leap-day-12-months-plus-a-day-blocks",
         {**WA, "action": "sell", "date": "2024-12-01",
          "consents": [auth(granted="2024-02-29", expires="2025-03-01")]}, "block",
         {MH: ["19.373.070"]}),
    Case("mhmda-sale-authorization-without-expiry-blocks",
         {**WA, "action": "sell", "consents": [auth(expires=None)]}, "block",
         {MH: ["19.373.070"]}, {MH: "states no expiry"}),
    Case("mhmda-sale-authorization-signed-after-the-sale-blocks",
         {**WA, "action": "sell", "consents": [auth(granted="2026-03-01",
                                                    expires="2027-03-01")]},
         "block", {MH: ["19.373.070"]}, {MH: "after the action"}),
    Case("mhmda-sale-on-the-authorizations-expiry-date-blocks",
         {**WA, "action": "sell", "date": "2026-06-01", "consents": [auth()]}, "block",
         {MH: ["19.373.070"]}, {MH: "authorization expired on 2026-06-01"}),
    Case("mhmda-revoked-sale-authorization-blocks-sale-only",
         {**WA, "action": "sell", "consents": [auth(revoked="2025-12-01")]}, "block",
         {MH: ["19.373.070"]}, {MH: "authorization revoked on 2025-12-01"}),
    Case("mhmda-collection-consent-is-not-a-sale-authorization",
         {**WA, "action": "sell", "consents": [c("electronic")]}, "block",
         {MH: ["19.373.070"]}, {MH: "not a sale authorization"}),
    Case("mhmda-sale-authorization-from-photo-owner-of-another-face-blocks",
         {**WA, "action": "sell", "consents": [auth(given_by="photo-owner")]}, "block",
         {MH: ["19.373.070"]}, {MH: NOT_OWNER}),
    Case("mhmda-sale-authorization-by-a-fifteen-year-old-blocks",
         {**at("US-WA", minor=True, age=15), "action": "sell", "consents": [auth()]},
         "block", {MH: ["19.373.070"]}, {MH: "a minor's own consent does not count"}),
    Case("mhmda-sale-authorization-by-parent-of-fifteen-year-old-allows",
         {**at("US-WA", minor=True, age=15), "action": "sell",
          "consents": [auth(given_by="legal-representative", relationship="parent")]},
         "allow", {MH: []}, {"decision": "sale authorization given by the subject's legal "
                                         "representative (parent)"}),
    Case("mhmda-license-needs-a-sale-authorization",
         {**WA, "action": "license", "consents": [c("electronic")]}, "block",
         {MH: ["19.373.070"]}),
    Case("mhmda-sale-authorization-is-not-a-collection-consent",
         {**WA, "consents": [auth()]}, "block", {MH: ["19.373.030(1)(a)"]},
         {MH: "a sale authorization is not a consent to collect"}),
    # --- MHMDA 19.373.030(1)(b): sharing needs its own consent ---
    Case("mhmda-disclose-under-collection-consent-only-blocks",
         {**WA, "action": "disclose", "disclosure_basis": "consent",
          "consents": [c("electronic")]}, "block", {MH: ["19.373.030(1)(b)"]},
         {MH: "separate and distinct"}),
    Case("mhmda-disclose-with-a-consent-to-share-allows",
         {**WA, "action": "disclose", "disclosure_basis": "consent",
          "consents": [c("electronic"), c("electronic", purposes=("share",))]}, "allow",
         {MH: []}),
    Case("mhmda-release-with-a-consent-naming-release-allows",
         {**WA, "action": "release", "disclosure_basis": "consent",
          "consents": [c("electronic", purposes=("release",))]}, "allow", {MH: []}),
    Case("mhmda-consent-to-share-from-photo-owner-of-another-face-blocks",
         {**WA, "action": "disclose", "disclosure_basis": "consent",
          "consents": [owner(purposes=("share",))]}, "block", {MH: ["19.373.030(1)(b)"]},
         {MH: NOT_OWNER}),
    # --- GDPR sale: the data subject's explicit consent ---
    Case("gdpr-sale-with-subjects-sale-authorization-allows",
         {**DE, "action": "sell", "consents": [auth(purposes=("sell",))]}, "allow", {EU: []}),
    Case("gdpr-sale-without-consent-blocks", {**DE, "action": "sell"}, "block",
         {EU: ["Art. 9(1)"]}),
    Case("gdpr-sale-authorization-from-photo-owner-of-another-face-blocks",
         {**DE, "action": "sell", "consents": [auth(purposes=("sell",),
                                                    given_by="photo-owner")]},
         "block", {EU: ["Art. 9(1)"]}, {EU: NOT_OWNER}),
    # --- CCPA 1798.120(c): under-16 opt-in ---
    Case("ccpa-parent-for-fifteen-year-old-sale-blocks",
         {**at("US-CA", minor=True, age=15), "action": "sell",
          "consents": [rep(purposes=("sell",))]}, "block", {CA: ["1798.120(c)"]},
         {CA: "the consumer must opt in themselves"}),
    Case("ccpa-fifteen-year-olds-own-opt-in-allows-and-says-who",
         {**at("US-CA", minor=True, age=15), "action": "sell",
          "consents": [c(purposes=("sell",))]}, "allow", {CA: []},
         {"decision": f"1798.120(c) satisfied by the opt-in {BY_SUBJECT}"}),
    Case("ccpa-twelve-year-old-parents-opt-in-allows-and-says-who",
         {**at("US-CA", minor=True, age=12), "action": "sell",
          "consents": [rep(purposes=("sell",))]}, "allow", {CA: []},
         {"decision": f"1798.120(c) satisfied by the opt-in {BY_PARENT}"}),
    Case("ccpa-twelve-year-olds-own-opt-in-blocks",
         {**at("US-CA", minor=True, age=12), "action": "sell",
          "consents": [c(purposes=("sell",))]}, "block", {CA: ["1798.120(c)"]},
         {CA: "parent or guardian must opt in"}),
    Case("ccpa-thirteen-year-olds-own-opt-in-allows",
         {**at("US-CA", age=13), "action": "sell", "consents": [c(purposes=("sell",))]},
         "allow", {CA: []}),
    Case("ccpa-sixteen-year-old-needs-no-opt-in", {**at("US-CA", age=16), "action": "sell"},
         "allow", {CA: []}),
    Case("ccpa-known-adult-needs-no-opt-in", {**at("US-CA", minor=False), "action": "sell"},
         "allow", {CA: []}),
    Case("ccpa-unknown-age-sale-without-opt-in-blocks", {**CAL, "action": "sell"}, "block",
         {CA: ["1798.120(c)"]}, {CA: "age unknown"}),
    Case("ccpa-unknown-age-own-opt-in-allows",
         {**CAL, "action": "sell", "consents": [c(purposes=("sell",))]}, "allow", {CA: []}),
    Case("ccpa-unknown-age-photo-owner-opt-in-for-another-face-blocks-and-says-so",
         {**CAL, "action": "sell", "consents": [owner(purposes=("sell",))]}, "block",
         {CA: ["1798.120(c)"]},
         {CA: "opt-in by the photo owner, who is not the depicted person does not count"}),
    Case("ccpa-unknown-age-photo-owner-opt-in-for-own-face-allows",
         {**at("US-CA", is_photo_owner=True), "action": "sell",
          "consents": [owner(purposes=("sell",))]}, "allow", {CA: []}),
    Case("ccpa-minor-without-age-needs-a-parent",
         {**at("US-CA", minor=True), "action": "sell", "consents": [c(purposes=("sell",))]},
         "block", {CA: ["1798.120(c)"]}),
    Case("ccpa-withdrawn-opt-in-of-fourteen-year-old-blocks",
         {**at("US-CA", age=14), "action": "sell",
          "consents": [c(purposes=("sell",), revoked="2026-01-01")]}, "block",
         {CA: ["1798.120"]}, {CA: "opted out of sale on 2026-01-01"}),
    Case("ccpa-license-of-a-minors-data-needs-opt-in-too",
         {**at("US-CA", age=14), "action": "license"}, "block", {CA: ["1798.120(c)"]}),
    # --- AI Act: licensing scraped templates is placing them on the market ---
    Case("ai-act-license-of-scraped-templates-blocks",
         {**DE, "action": "license", "source": "scraped-untargeted",
          "consents": [c("electronic", purposes=(FRT, "sell"))]}, "block",
         {AI: ["Art. 5(1)(e)"]}),
    Case("ai-act-sell-of-scraped-templates-blocks",
         {**DE, "action": "sell", "source": "scraped-untargeted",
          "consents": [c("electronic", purposes=(FRT, "sell"))]}, "block",
         {AI: ["Art. 5(1)(e)"]}),
    # --- Texas public image (b-1) ---
    Case("cubi-2026-self-published-self-portrait-with-owners-consent-allows",
         {**at("US-TX", is_photo_owner=True, minor=False), "consents": [owner()]}, "allow",
         {TX: []}),
    Case("cubi-2026-public-image-without-consent-blocks",
         {**at("US-TX"), "source": "scraped-untargeted"}, "block", {TX: ["503.001(b)"]}),
    Case("cubi-2026-consent-form-none-is-no-consent",
         {**at("US-TX"), "consents": [c("none")]}, "block", {TX: ["503.001(b)"]},
         {TX: "no consent was given"}),
    Case("cubi-2026-non-identifying-ai-use-exempt",
         {**at("US-TX"), "purpose": "fairness-audit"}, "allow", {TX: []}, {TX: "exempt"}),
    Case("cubi-2025-non-identifying-use-not-yet-exempt",
         {**at("US-TX"), "date": "2025-12-31", "purpose": "fairness-audit"}, "block",
         {TX: ["503.001(b)"]}),
    # --- BIPA 15(a) and 15(c) ---
    Case("bipa-license-with-release-blocks", {"action": "license", "consents": [c()]},
         "block", {IL: ["15(c)"]}),
    Case("bipa-commercial-training-on-held-templates-blocks",
         {"action": "retain", "consents": [c()]}, "block", {IL: ["15(c)"]},
         {IL: "otherwise profit"}),
    Case("bipa-schedule-published-the-day-after-blocks",
         {"retention_schedule_published": "2026-02-02", "consents": [c()]}, "block",
         {IL: ["15(a)"]}),
    # --- GDPR non-identifying use: Art. 9 does not apply, GDPR does ---
    Case("gdpr-non-identifying-photo-owner-consent-for-another-face-blocks",
         {**DE, "purpose": "fairness-audit",
          "consents": [owner(purposes=("fairness-audit",))]}, "block",
         {EU: ["Art. 6(1)", "Art. 14"]}, {EU: "Art. 9 does not apply"}),
    Case("gdpr-non-identifying-subjects-informed-consent-allows",
         {**DE, "purpose": "fairness-audit",
          "consents": [c("electronic", purposes=("fairness-audit",))]}, "allow", {EU: []}),
    # --- nothing known: deny by default ---
    Case("no-evidence-no-processor-place-no-consent-blocks",
         {"subject": {"evidence": []}, "processor": {"commercial": True}}, "block",
         {IL: ["15(b)"]}),
    # --- old documents (no issue-10 keys): given_by absent = subject, kind absent = consent
    Case("old-bipa-document-consent-counts-as-subjects-but-15a-blocks",
         {"consents": [{"form": "written", "purposes": [FRT], "informed": True,
                        "granted": "2024-01-01", "expires": None, "revoked": None}]},
         "block", {IL: ["15(a)"]}, {"decision": f"15(b) satisfied by the written consent "
                                                f"{BY_SUBJECT}"}, base=OLD),
    Case("old-mhmda-document-consent-allows-and-names-the-subject",
         {**WA, "consents": [{"form": "electronic", "purposes": [FRT], "informed": True,
                              "granted": "2024-05-01"}]},
         "allow", {MH: []}, {"decision": f"19.373.030(1)(a) satisfied by the electronic "
                                         f"consent {BY_SUBJECT}"}, base=OLD),
    Case("old-mhmda-document-null-given-by-and-kind-read-as-absent",
         {**WA, "consents": [{"form": "electronic", "purposes": [FRT], "informed": True,
                              "granted": "2024-05-01", "given_by": None, "kind": None}]},
         "allow", {MH: []}, {"decision": BY_SUBJECT}, base=OLD),
    Case("old-mhmda-document-sale-consent-is-a-consent-not-an-authorization",
         {**WA, "action": "sell", "consents": [{"form": "written", "purposes": [FRT, "sell"],
                                                "informed": True, "granted": "2024-05-01"}]},
         "block", {MH: ["19.373.070"]}, {MH: "not a sale authorization"}, base=OLD),
    Case("old-gdpr-document-consent-allows",
         {**DE, "source": "direct", "consents": [{"form": "written", "purposes": [FRT],
                                                  "informed": True,
                                                  "granted": "2024-05-01"}]},
         "allow", {EU: []}, {"decision": BY_SUBJECT}, base=OLD),
    Case("old-gdpr-document-unknown-age-is-read-as-adult-and-says-so",
         {**DE, "source": "direct", "consents": [{"form": "written", "purposes": [FRT],
                                                  "informed": True,
                                                  "granted": "2024-05-01"}]},
         "allow", {EU: []}, {EU: "age is not known"}, base=OLD),
]  # fmt: skip


def _texts(decision: Any, key: str) -> str:
    if key == "decision":
        return "\n".join(decision.reasons)
    law = decision.law(key)
    return "\n".join([*law.reasons, *(v.reason for v in law.violations)])


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_examiner_scenario(case: Case, policies: list[Policy]) -> None:
    decision = evaluate(parse_scenario(case.scenario()), policies)
    assert decision.decision == case.decision, "\n".join(decision.reasons)
    for law_id, sections in case.blocks.items():
        law = decision.law(law_id)
        assert sorted(v.section for v in law.violations) == sorted(sections), law.violations
        if sections:
            assert law.applies != "no"
            assert any(r.startswith(f"{law_id} ") for r in decision.reasons)
    for key, text in case.says.items():
        assert text in _texts(decision, key), _texts(decision, key)
    for key, text in case.absent.items():
        assert text not in _texts(decision, key), _texts(decision, key)


def test_examiner_case_ids_are_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES)


def test_withdrawing_a_sale_authorization_is_not_a_deletion_request(
    policies: list[Policy],
) -> None:
    """MHMDA 19.373.040 / GDPR Art. 17: only a withdrawn consent starts the erasure clock."""
    for where, law in (("US-WA", MH), ("DE", EU)):
        data = {**copy.deepcopy(BASE), **at(where), "action": "retain",
                "consents": [c("electronic"), auth(revoked="2025-12-01")]}  # fmt: skip
        result = evaluate(parse_scenario(data), policies).law(law)
        assert result.destroy_by is None, result.reasons
        assert result.violations == ()


@pytest.mark.parametrize(("on", "fined"), [("2025-08-01", False), ("2025-08-02", True)])
def test_ai_act_fine_only_from_2025_08_02(on: str, fined: bool, policies: list[Policy]) -> None:
    policy = next(p for p in policies if p.id == AI)
    exposure = estimate_exposure(policy, subjects=10, faces=10, on=date.fromisoformat(on))
    assert (exposure is not None and exposure.high > 0) is fined


def test_old_document_through_the_cli_names_who_consented(tmp_path: Path) -> None:
    from faceledger.cli import main

    data = {**copy.deepcopy(OLD), **WA,
            "consents": [{"form": "electronic", "purposes": [FRT], "informed": True,
                          "granted": "2024-05-01", "expires": None, "revoked": None}]}  # fmt: skip
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(main, ["policy", "evaluate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["decision"] == "allow"
    assert any(BY_SUBJECT in r for r in doc["reasons"]), doc["reasons"]


@pytest.mark.parametrize("key", ["given_by", "kind"])
def test_empty_given_by_or_kind_is_an_error_not_the_default(key: str) -> None:
    from faceledger.errors import PolicyError

    data = {**copy.deepcopy(BASE), "consents": [c(**{key: ""})]}
    with pytest.raises(PolicyError, match=f"consents\\[0\\].{key}"):
        parse_scenario(data)
