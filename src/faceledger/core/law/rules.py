"""Per-law checks: consent, disclosure, sale, prohibitions, retention. Each returns violations.

Example::

    problems = consent_violations(scenario, policy)
    [v.section for v in problems]       # ['15(b)']

A consent record counts for a law only if it is active on the action's date, names the
scenario's purpose, has a form the law accepts on the date it was granted (BIPA accepts an
electronic signature only from SB 2979, 2 Aug 2024), and was informed where the law demands.
"""

from __future__ import annotations

from datetime import date

from faceledger.core.law.decision import Violation
from faceledger.core.law.model import Consent, Scenario
from faceledger.core.law.schema import Basis, ConsentRule, Policy, SaleRule
from faceledger.core.law.schema import Cited as _Cited

CONSENT_REQUIREMENTS = frozenset({"consent", "written-release", "explicit"})
#: Actions that keep or pass on templates already held (the retention clock applies).
USES_HELD_DATA = frozenset({"retain", "release", "disclose", "sell"})


def _violation(section: str, rule: _Cited, reason: str) -> Violation:
    return Violation(section=section, citation=rule.citation, reason=reason)


def accepted_forms(rule: ConsentRule, granted: date) -> frozenset[str]:
    """Forms the law accepts for a consent granted on ``granted``."""
    forms = set(rule.forms)
    for change in rule.form_changes:
        if granted >= change.starts:
            forms.update(change.add_forms)
    return frozenset(forms)


def consent_problem(
    scenario: Scenario, rule: ConsentRule, *, forms: list[str] | None = None
) -> str | None:
    """None if a valid consent covers the purpose; else why not (the closest miss)."""
    relevant = [c for c in scenario.consents if c.covers(scenario.purpose)]
    if not relevant:
        return f"no consent record names the purpose {scenario.purpose!r}"
    problems: list[str] = []
    for consent in relevant:
        why = _why_invalid(consent, scenario.on, rule, forms)
        if why is None:
            return None
        problems.append(why)
    return "; ".join(dict.fromkeys(problems))


def _why_invalid(
    consent: Consent, on: date, rule: ConsentRule, forms: list[str] | None
) -> str | None:
    if consent.form == "none" or consent.granted is None:
        return "no consent was given (form 'none' or never granted)"
    if consent.granted > on:
        return f"consent granted only on {consent.granted.isoformat()}, after the action"
    if consent.revoked is not None and consent.revoked <= on:
        return f"consent revoked on {consent.revoked.isoformat()}"
    if consent.expires is not None and consent.expires <= on:
        return f"consent expired on {consent.expires.isoformat()}"
    allowed = frozenset(forms) if forms is not None else accepted_forms(rule, consent.granted)
    if consent.form not in allowed:
        names = ", ".join(sorted(allowed)) or "none"
        return f"a {consent.form} consent given {consent.granted.isoformat()} is not accepted "\
               f"(accepted then: {names})"  # fmt: skip
    if rule.informed_required and not consent.informed:
        return "the person was not informed of the purpose and retention term"
    return None


def opted_out(scenario: Scenario, *, purposes: tuple[str, ...]) -> date | None:
    """The date the subject withdrew/opted out of any of ``purposes`` (on or before the action)."""
    dates = [
        c.revoked
        for c in scenario.consents
        if c.revoked is not None and c.revoked <= scenario.on
        and any(c.covers(p) for p in purposes)
    ]  # fmt: skip
    return min(dates) if dates else None


def consent_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    rule = policy.consent
    if scenario.action not in rule.actions or rule.requirement == "none":
        return []
    found: list[Violation] = []
    if rule.notice is not None and not any(
        c.informed and c.covers(scenario.purpose) and c.granted is not None
        and c.granted <= scenario.on for c in scenario.consents
    ):  # fmt: skip
        found.append(_violation(rule.notice.section, rule.notice,
                                "no notice at collection recorded for this purpose"))  # fmt: skip
    if rule.requirement == "notice":
        return found
    if rule.requirement == "opt-out":
        when = opted_out(scenario, purposes=(scenario.purpose,))
        if when is not None:
            found.append(_violation(rule.section, rule, f"the subject opted out on {when}"))
        return found
    problem = consent_problem(scenario, rule)
    if problem is not None:
        kind = {"written-release": "written release", "explicit": "explicit consent"}.get(
            rule.requirement, "consent"
        )
        found.append(_violation(rule.section, rule, f"{kind} required: {problem}"))
    return found


def _basis_problem(scenario: Scenario, bases: list[Basis], policy: Policy) -> str | None:
    basis = scenario.disclosure_basis
    if basis is None:
        return "no disclosure basis given"
    match = [b for b in bases if b.basis == basis]
    if not match:
        allowed = ", ".join(b.basis for b in bases) or "none"
        return f"basis {basis!r} is not allowed (allowed: {allowed})"
    if not any(b.purposes is None or scenario.purpose in b.purposes for b in match):
        return f"basis {basis!r} covers only specific purposes, not {scenario.purpose!r}"
    if basis == "consent":
        return consent_problem(scenario, policy.consent)
    return None


def disclosure_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    rule = policy.disclosure
    if rule is None or scenario.action not in rule.actions:
        return []
    problem = _basis_problem(scenario, rule.bases, policy)
    return [] if problem is None else [_violation(rule.section, rule, problem)]


def sale_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    rule: SaleRule | None = policy.sale
    if rule is None or scenario.action != "sell":
        return []
    problem: str | None = None
    if rule.rule == "forbidden":
        problem = "selling, leasing or trading biometric data is prohibited outright"
    elif rule.rule == "bases":
        problem = _basis_problem(scenario, rule.bases, policy)
    elif rule.rule == "authorization":
        problem = consent_problem(scenario, policy.consent, forms=list(rule.forms))
        problem = None if problem is None else f"a signed authorization is required: {problem}"
    else:
        when = opted_out(scenario, purposes=(scenario.purpose, "sell"))
        problem = None if when is None else f"the subject opted out of sale on {when}"
    return [] if problem is None else [_violation(rule.section, rule, problem)]


def prohibition_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    found = []
    source = scenario.source or "unknown"
    for ban in policy.prohibitions:
        if (
            scenario.action in ban.actions
            and scenario.purpose in ban.purposes
            and source in ban.sources
        ):
            why = f"{ban.description.strip()} (source: {source})"
            found.append(_violation(ban.section, ban, why))
    return found


def retention_violations(
    scenario: Scenario, policy: Policy, due: date | None
) -> list[Violation]:
    rule = policy.retention
    if rule is None or due is None or scenario.on <= due:
        return []
    if scenario.action not in USES_HELD_DATA:
        return []  # a new extraction starts its own clock; it does not use held data
    why = f"the data had to be destroyed by {due.isoformat()}; {scenario.action} on "\
          f"{scenario.on.isoformat()} is too late"  # fmt: skip
    return [_violation(rule.section, rule, why)]
