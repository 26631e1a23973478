"""Per-law checks: consent, disclosure, prohibitions, retention, 15(a) schedule. Each returns
violations; sale and profit live in :mod:`faceledger.core.law.sale`.

Example::

    problems = consent_violations(scenario, policy)
    [v.section for v in problems]       # ['15(b)']

A consent record counts for a law only if it is a collection consent (``kind: consent``;
a sale authorization is not one), is active on the action's date, names the scenario's
purpose, has a form the law accepts on the date it was granted (BIPA accepts an electronic
signature only from SB 2979, 2 Aug 2024: the ``electronic-signature-is-written-release``
effect), was informed where the law demands, and was given by someone the law accepts
for this person (:mod:`faceledger.core.law.givers`: never a photo owner for another's face).
"""

from __future__ import annotations

from datetime import date

from faceledger.core.law.decision import Violation
from faceledger.core.law.effects import amendments_with, effect_in_force
from faceledger.core.law.givers import describe_giver, giver_problem
from faceledger.core.law.model import Consent, Scenario
from faceledger.core.law.schema import Basis, ConsentRule, Policy
from faceledger.core.law.schema import Cited as _Cited

CONSENT_REQUIREMENTS = frozenset({"consent", "written-release", "explicit"})
#: Actions that keep or pass on templates already held (the retention clock applies).
USES_HELD_DATA = frozenset({"retain", "release", "disclose", "sell", "license"})
ESIG = "electronic-signature-is-written-release"


def violation(section: str, rule: _Cited, reason: str) -> Violation:
    return Violation(section=section, citation=rule.citation, reason=reason)


def accepted_forms(
    rule: ConsentRule, granted: date, policy: Policy | None = None
) -> frozenset[str]:
    """Forms the law accepts for a consent granted on ``granted``."""
    forms = set(rule.forms)
    for change in rule.form_changes:
        if granted >= change.starts:
            forms.update(change.add_forms)
    if policy is not None and effect_in_force(policy, ESIG, granted) is not None:
        forms.add("electronic")
    return frozenset(forms)


def _dates_problem(consent: Consent, on: date) -> str | None:
    if consent.form == "none" or consent.granted is None:
        return "no consent was given (form 'none' or never granted)"
    if consent.granted > on:
        return f"consent granted only on {consent.granted.isoformat()}, after the action"
    if consent.revoked is not None and consent.revoked <= on:
        return f"consent revoked on {consent.revoked.isoformat()}"
    if consent.expires is not None and consent.expires <= on:
        return f"consent expired on {consent.expires.isoformat()}"
    return None


def _form_problem(consent: Consent, allowed: frozenset[str], policy: Policy) -> str | None:
    if consent.form in allowed:
        return None
    assert consent.granted is not None
    names = ", ".join(sorted(allowed)) or "none"
    why = (f"a {consent.form} consent given {consent.granted.isoformat()} is not accepted "
           f"(accepted then: {names})")  # fmt: skip
    later = [a for a in amendments_with(policy, ESIG) if a.date > consent.granted]
    if consent.form == "electronic" and later:
        why += (
            f"; uncertain: {later[0].citation} is said to confirm that an electronic "
            f"signature is a written release, and earlier ones may be valid under the "
            f"Electronic Commerce Security Act; refused here as the conservative reading"
        )
    return why


def why_invalid(
    consent: Consent, scenario: Scenario, policy: Policy, *,
    rule: ConsentRule | None = None, forms: list[str] | None = None,
) -> str | None:  # fmt: skip
    """None if ``consent`` is a valid consent under ``policy`` for the scenario; else why."""
    rule = rule or policy.consent
    problem = _dates_problem(consent, scenario.on)
    if problem is not None:
        return problem
    assert consent.granted is not None
    allowed = frozenset(forms) if forms is not None else accepted_forms(
        rule, consent.granted, policy)  # fmt: skip
    problem = _form_problem(consent, allowed, policy)
    if problem is not None:
        return problem
    if rule.informed_required and not consent.informed:
        return "the person was not informed of the purpose and retention term"
    return giver_problem(consent, scenario, policy)


def find_consent(
    scenario: Scenario, policy: Policy, *,
    rule: ConsentRule | None = None, forms: list[str] | None = None,
    names: tuple[str, ...] = (), kinds: tuple[str, ...] = ("consent",),
) -> tuple[Consent | None, str | None]:  # fmt: skip
    """The first valid consent covering the purpose (or one of ``names``) whose kind is in
    ``kinds`` (a collection consent by default), or None and the closest miss."""
    wanted = (scenario.purpose, *names)
    covering = [c for c in scenario.consents if any(c.covers(p) for p in wanted)]
    relevant = [c for c in covering if c.kind in kinds]
    if not relevant:
        if covering:
            return None, "a sale authorization is not a consent to collect or process"
        named = " or ".join(repr(p) for p in wanted)
        return None, f"no consent record names the purpose {named}"
    problems: list[str] = []
    for consent in relevant:
        why = why_invalid(consent, scenario, policy, rule=rule, forms=forms)
        if why is None:
            return consent, None
        problems.append(why)
    return None, "; ".join(dict.fromkeys(problems))


def consent_problem(
    scenario: Scenario, policy: Policy, *, forms: list[str] | None = None
) -> str | None:
    """None if a valid consent covers the purpose; else why not (the closest miss)."""
    return find_consent(scenario, policy, forms=forms)[1]


def describe_consent(consent: Consent, scenario: Scenario) -> str:
    granted = consent.granted.isoformat() if consent.granted else "?"
    return (f"the {consent.form} consent given by {describe_giver(consent, scenario.subject)} "
            f"on {granted}")  # fmt: skip


def opted_out(scenario: Scenario, *, purposes: tuple[str, ...]) -> date | None:
    """The date the subject withdrew/opted out of any of ``purposes`` (on or before the action).

    Any recorded withdrawal counts, whoever recorded it (fail closed)."""
    dates = [
        c.revoked
        for c in scenario.consents
        if c.revoked is not None and c.revoked <= scenario.on
        and any(c.covers(p) for p in purposes)
    ]  # fmt: skip
    return min(dates) if dates else None


def was_informed(scenario: Scenario, policy: Policy) -> bool:
    """An informed record for the purpose, given by or to the depicted person, by the date."""
    return any(
        c.informed and c.covers(scenario.purpose) and c.granted is not None
        and c.granted <= scenario.on
        and not (c.given_by == "photo-owner" and not scenario.subject.is_photo_owner)
        for c in scenario.consents
    )  # fmt: skip


def consent_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    rule = policy.consent
    if scenario.action not in rule.actions or rule.requirement == "none":
        return []
    found: list[Violation] = []
    notice = rule.notice
    if notice is not None and (notice.starts is None or scenario.on >= notice.starts) \
            and not was_informed(scenario, policy):  # fmt: skip
        found.append(violation(notice.section, notice,
                               "no notice at collection recorded for this purpose"))  # fmt: skip
    if rule.requirement == "notice" or (rule.starts is not None and scenario.on < rule.starts):
        return found
    if rule.requirement == "opt-out":
        when = opted_out(scenario, purposes=(scenario.purpose,))
        if when is not None:
            found.append(violation(rule.section, rule, f"the subject opted out on {when}"))
        return found
    problem = consent_problem(scenario, policy)
    if problem is not None:
        kind = {"written-release": "written release", "explicit": "explicit consent"}.get(
            rule.requirement, "consent"
        )
        found.append(violation(rule.section, rule, f"{kind} required: {problem}"))
    return found


def consent_note(scenario: Scenario, policy: Policy) -> str | None:
    """Which consent satisfied the law's consent rule (who gave it), for the reasons."""
    rule = policy.consent
    if scenario.action not in rule.actions or rule.requirement not in CONSENT_REQUIREMENTS:
        return None
    if rule.starts is not None and scenario.on < rule.starts:
        return None
    consent, _ = find_consent(scenario, policy)
    if consent is None:
        return None
    return f"{rule.section} satisfied by {describe_consent(consent, scenario)}"


def sharing_problem(scenario: Scenario, policy: Policy) -> str | None:
    """MHMDA 19.373.030(1)(b): sharing needs a consent separate and distinct from the consent
    to collect: a valid consent record naming ``share`` or the action (``disclose``,
    ``release``). A consent that names only the collection purpose does not count."""
    names = ("share", scenario.action)
    records = [c for c in scenario.consents
               if c.kind == "consent" and any(c.covers(n) for n in names)]  # fmt: skip
    if not records:
        return ("sharing needs its own consent, separate and distinct from the consent to "
                f"collect: no consent record names 'share' or {scenario.action!r}")  # fmt: skip
    problems = []
    for consent in records:
        why = why_invalid(consent, scenario, policy)
        if why is None:
            return None
        problems.append(why)
    return "; ".join(dict.fromkeys(problems))


def basis_problem(
    scenario: Scenario, bases: list[Basis], policy: Policy, *, separate: bool = False
) -> str | None:
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
        return sharing_problem(scenario, policy) if separate else consent_problem(scenario, policy)
    return None


def disclosure_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    rule = policy.disclosure
    if rule is None or scenario.action not in rule.actions:
        return []
    problem = basis_problem(scenario, rule.bases, policy, separate=rule.separate_consent)
    return [] if problem is None else [violation(rule.section, rule, problem)]


def prohibition_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    found = []
    source = scenario.source or "unknown"
    for ban in policy.prohibitions:
        if ban.when_tdm_reserved and not scenario.tdm_reserved:
            continue
        if ban.starts is not None and scenario.on < ban.starts:
            continue
        if ban.commercial_only and not scenario.processor.commercial:
            continue
        if (
            scenario.action in ban.actions
            and scenario.purpose in ban.purposes
            and source in ban.sources
        ):
            what = "the photo carries a text-and-data-mining reservation" \
                if ban.when_tdm_reserved else f"source: {source}"  # fmt: skip
            found.append(violation(ban.section, ban, f"{ban.description.strip()} ({what})"))
    return found


def schedule_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    """BIPA 15(a): a public written retention schedule must exist before possession."""
    rule = policy.retention.schedule if policy.retention is not None else None
    if rule is None or scenario.action not in rule.actions:
        return []
    published = scenario.retention_schedule_published
    if published is None:
        why = ("no publicly available written retention schedule has been published "
               "(run faceledger policy publish); it must exist before possession")  # fmt: skip
    elif published > scenario.on:
        why = (f"the written retention schedule was published only on {published.isoformat()}, "
               f"after {scenario.on.isoformat()}: it must exist before possession")  # fmt: skip
    else:
        return []
    return [violation(rule.section, rule, why)]


def non_identifying_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    """GDPR, purpose identifying nobody: Art. 9 falls away; Art. 6 basis and Art. 14 notice."""
    rule = policy.non_identifying
    if rule is None or scenario.action not in rule.actions:
        return []
    found: list[Violation] = []
    consent, problem = find_consent(scenario, policy, forms=list(rule.forms))
    if consent is None:
        found.append(violation(rule.basis_section, rule,
                               "Art. 9 does not apply (not used to identify), but the photo is "
                               "still personal data: a lawful basis is needed and none is "
                               f"recorded (consent: {problem})"))  # fmt: skip
    if not was_informed(scenario, policy):
        found.append(violation(rule.notice_section, rule,
                               "the person must be told of the processing (data not obtained "
                               "from them) and no informed record names this purpose"))  # fmt: skip
    return found


def retention_violations(scenario: Scenario, policy: Policy, due: date | None) -> list[Violation]:
    rule = policy.retention
    if rule is None or due is None or scenario.on <= due:
        return []
    if scenario.action not in USES_HELD_DATA:
        return []  # a new extraction starts its own clock; it does not use held data
    why = f"the data had to be destroyed by {due.isoformat()}; {scenario.action} on "\
          f"{scenario.on.isoformat()} is too late"  # fmt: skip
    return [violation(rule.section, rule, why)]


def sensitive_violations(scenario: Scenario, policy: Policy) -> list[Violation]:
    """Special-category / sensitive data a dataset's labels infer (``policy.sensitive_data``):
    explicit consent (GDPR Art. 9(1)) or the right to limit and notice (CPRA), whatever the
    purpose. Empty unless the scenario's ``sensitive_labels`` name a kind the rule lists."""
    rule = policy.sensitive_data
    if rule is None or scenario.action not in rule.actions:
        return []
    if rule.starts is not None and scenario.on < rule.starts:
        return []
    kinds = [kind for kind in scenario.sensitive_labels if kind in rule.labels]
    if not kinds:
        return []
    what = f"{rule.description.strip()} (labels: {', '.join(kinds)})"
    if rule.requirement == "explicit":
        consent, problem = find_consent(scenario, policy, forms=list(rule.forms))
        if consent is not None:
            return []
        return [violation(rule.section, rule, f"{what}; explicit consent required: {problem}")]
    found: list[Violation] = []
    when = opted_out(scenario, purposes=(scenario.purpose,))
    if when is not None:
        found.append(violation(rule.section, rule,
                               f"{what}; the person limited its use on {when.isoformat()}"))  # fmt: skip
    if rule.notice_section and not was_informed(scenario, policy):
        found.append(violation(rule.notice_section, rule,
                               f"{what}; no notice at collection naming this purpose is recorded"))  # fmt: skip
    return found


def sensitive_note(scenario: Scenario, policy: Policy) -> str | None:
    """The sensitive-data fact in words, for a law whose rule the labels reach (or None)."""
    rule = policy.sensitive_data
    if rule is None or scenario.action not in rule.actions:
        return None
    kinds = [kind for kind in scenario.sensitive_labels if kind in rule.labels]
    if not kinds:
        return None
    return f"{rule.section} special-category data: {rule.description.strip()} (labels: {', '.join(kinds)}; {rule.citation})"
