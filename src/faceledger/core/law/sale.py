"""Sale, licence and profit checks: forbidden sales, bases, MHMDA sale authorizations, CCPA
opt-out with the under-16 opt-in, BIPA 15(c) "otherwise profit".

Example::

    [v.section for v in sale_violations(scenario, policy)]     # ['19.373.070']

- ``forbidden``: no sale, lease or licence at all (BIPA 15(c), Colorado).
- ``bases``: only on a listed basis (CUBI, RCW 19.375).
- ``authorization``: a consent in ``forms`` (GDPR); with an ``authorization`` block (MHMDA
  RCW 19.373.070) only a separate ``sale-authorization`` record counts: signed, naming the
  purchaser, expiring within a year of signing; a collection consent never does.
- ``opt-out``: allowed until the subject opts out (CCPA 1798.120), except that a minor's data
  needs an opt-in (1798.120(c)): the consumer's own at 13-15, a parent's under 13.
- ``profit``: commercial uses of held data for listed purposes (training a face-recognition
  model on held templates) are "otherwise profit" under BIPA 15(c).
"""

from __future__ import annotations

from faceledger.core.law.clock import add_months
from faceledger.core.law.decision import Violation
from faceledger.core.law.givers import age_band, describe_giver, giver_problem
from faceledger.core.law.model import Consent, Scenario, Subject
from faceledger.core.law.rules import (
    USES_HELD_DATA,
    _dates_problem,
    basis_problem,
    find_consent,
    opted_out,
    violation,
)
from faceledger.core.law.schema import Authorization, Cited, MinorOptIn, Policy, SaleRule


def _authorization_why(auth: Consent, scenario: Scenario, policy: Policy, rule: Authorization,
                       forms: list[str]) -> str | None:  # fmt: skip
    if not (auth.covers(scenario.purpose) or auth.covers("sell")):
        return f"the authorization does not name the purpose {scenario.purpose!r} or 'sell'"
    problem = _dates_problem(auth, scenario.on)
    if problem is not None:
        return problem.replace("consent", "authorization")
    assert auth.granted is not None
    if auth.form not in forms:
        return f"a {auth.form} authorization is not accepted (accepted: {', '.join(forms)})"
    if rule.signed and auth.signed is not True:
        return "the authorization is not signed"
    if rule.purchaser and not auth.purchaser:
        return "the authorization names no purchaser"
    limit = add_months(auth.granted, rule.max_months)
    if auth.expires is None:
        return (f"the authorization states no expiry; it must expire within {rule.max_months} "
                f"months of signing (by {limit.isoformat()})")  # fmt: skip
    if auth.expires > limit:
        return (
            f"the authorization expires {auth.expires.isoformat()}, more than "
            f"{rule.max_months} months after signing on {auth.granted.isoformat()}"
        )
    return giver_problem(auth, scenario, policy)


def authorization_problem(scenario: Scenario, policy: Policy, sale: SaleRule) -> str | None:
    """MHMDA 19.373.070: None when a valid separate sale authorization exists; else why."""
    rule = sale.authorization
    assert rule is not None
    auths = [c for c in scenario.consents if c.kind == "sale-authorization"]
    if not auths:
        if any(c.kind == "consent" and c.granted is not None for c in scenario.consents):
            return ("a consent to collect or process is not a sale authorization: a separate, "
                    "signed authorization naming the purchaser and expiring within a year "
                    "is required")  # fmt: skip
        return "no signed sale authorization is recorded"
    problems = []
    for auth in auths:
        why = _authorization_why(auth, scenario, policy, rule, list(sale.forms))
        if why is None:
            return None
        problems.append(why)
    return "; ".join(dict.fromkeys(problems))


def _opted_in(consent: Consent, scenario: Scenario) -> bool:
    """An affirmative opt-in record for this sale, active on the date (whoever gave it)."""
    if consent.form == "none" or _dates_problem(consent, scenario.on) is not None:
        return False
    return consent.covers(scenario.purpose) or consent.covers("sell")


def _counts(consent: Consent, scenario: Scenario, needed: frozenset[str]) -> bool:
    if consent.given_by == "photo-owner" and not scenario.subject.is_photo_owner:
        return False  # a photo owner speaks only for their own face
    return consent.given_by in needed


def _opt_in_needs(subject: Subject, rule: MinorOptIn) -> tuple[frozenset[str], str] | None:
    """Who must opt in (givers) and why, or None when no opt-in is needed."""
    band = age_band(subject, rule.below)
    if band == "at-or-above" or (band == "unknown" and rule.if_age_unknown == "opt-out"):
        return None
    if band == "unknown":
        return (frozenset({"subject", "legal-representative", "photo-owner"}),
                "age unknown, read conservatively as under 16: an affirmative opt-in by the "
                "consumer or a parent is required")  # fmt: skip
    if age_band(subject, rule.parent_below) == "below":
        return (frozenset({"legal-representative"}),
                f"consumer under {rule.parent_below}: a parent or guardian must opt in "
                "(the child's own opt-in does not count)")  # fmt: skip
    return (frozenset({"subject", "photo-owner"}),
            f"consumer aged {rule.parent_below}-{rule.below - 1}: the consumer must opt in "
            "themselves")  # fmt: skip


def _opt_in(scenario: Scenario, rule: MinorOptIn) -> tuple[Consent | None, str | None]:
    """(the opt-in that satisfies 1798.120(c), None) or (None, why not); (None, None): none
    is needed."""
    needs = _opt_in_needs(scenario.subject, rule)
    if needs is None:
        return None, None
    needed, who = needs
    given = [c for c in scenario.consents if _opted_in(c, scenario)]
    for consent in given:
        if _counts(consent, scenario, needed):
            return consent, None
    got = "; ".join(f"opt-in by {describe_giver(c, scenario.subject)} does not count"
                    for c in given)  # fmt: skip
    why = f"selling or sharing a minor's data needs an opt-in ({who})"
    return None, why + (f": {got}" if got else "")


def minor_opt_in_problem(scenario: Scenario, rule: MinorOptIn) -> str | None:
    """CCPA 1798.120(c): None when no opt-in is needed or one was given; else why."""
    return _opt_in(scenario, rule)[1]


def sale_note(scenario: Scenario, policy: Policy) -> str | None:
    """Who opted in, when a minor's sale was allowed by an opt-in (for the reasons)."""
    rule = policy.sale
    if rule is None or rule.minors is None or scenario.action not in rule.actions:
        return None
    consent, _ = _opt_in(scenario, rule.minors)
    if consent is None:
        return None
    granted = consent.granted.isoformat() if consent.granted else "?"
    return (
        f"{rule.minors.section} satisfied by the opt-in given by "
        f"{describe_giver(consent, scenario.subject)} on {granted}"
    )


def _profit_problem(scenario: Scenario, sale: SaleRule) -> str | None:
    rule = sale.profit
    if rule is None or scenario.action not in rule.actions or scenario.action in sale.actions:
        return None
    if scenario.purpose not in rule.purposes:
        return None
    if rule.commercial_only and not scenario.processor.commercial:
        return None
    return (f"{rule.description.strip()} ({scenario.action} of held data for "
            f"{scenario.purpose!r} by a commercial processor)")  # fmt: skip


def sale_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    rule = policy.sale
    if rule is None:
        return []
    found: list[Violation] = []
    profit = _profit_problem(scenario, rule)
    if profit is not None and rule.profit is not None:
        found.append(violation(rule.profit.section, rule.profit, profit))
    if scenario.action not in rule.actions:
        return found
    problem: str | None = None
    section: str = rule.section
    cited_rule: Cited = rule
    if rule.rule == "forbidden":
        problem = f"selling, leasing, licensing or trading biometric data is prohibited "\
                  f"outright ({scenario.action}); consent does not cure it"  # fmt: skip
    elif rule.rule == "bases":
        problem = basis_problem(scenario, rule.bases, policy)
    elif rule.rule == "authorization" and rule.authorization is not None:
        problem = authorization_problem(scenario, policy, rule)
        section, cited_rule = rule.authorization.section, rule.authorization
    elif rule.rule == "authorization":
        # the data subject's consent to the sale: a consent for the purpose, or a consent or
        # sale authorization naming 'sell' (a subject's sale authorization is such a consent)
        problem = find_consent(scenario, policy, forms=list(rule.forms), names=("sell",),
                               kinds=("consent", "sale-authorization"))[1]  # fmt: skip
        problem = None if problem is None else f"a signed authorization is required: {problem}"
    else:
        when = opted_out(scenario, purposes=(scenario.purpose, "sell"))
        problem = None if when is None else f"the subject opted out of sale on {when}"
        if problem is None and rule.minors is not None:
            minor = minor_opt_in_problem(scenario, rule.minors)
            if minor is not None:
                found.append(violation(rule.minors.section, rule.minors, minor))
    if problem is not None:
        found.append(violation(section, cited_rule, problem))
    return found


__all__ = [
    "USES_HELD_DATA", "authorization_problem", "minor_opt_in_problem", "sale_note",
    "sale_violations",
]  # fmt: skip
