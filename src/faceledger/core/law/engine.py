"""The decision engine: one scenario + the laws as data -> a reasoned :class:`Decision`.

Example::

    decision = evaluate(scenario, load_policies())
    decision.decision, decision.law("us-il-bipa").applies     # ('block', 'uncertain')

Pure: no files, no database, no clock (the scenario carries its date). Conservative by
default: every law graded ``yes``/``likely``/``uncertain`` is in scope, and any violation in
any in-scope law blocks. ``mode="likely"`` drops ``uncertain`` laws (for what-if analysis,
never for gating extraction). A law not yet in force on the action's date does not apply.
"""

from __future__ import annotations

from faceledger.core.law.clock import destroy_by
from faceledger.core.law.decision import (
    IN_SCOPE,
    Decision,
    LawResult,
    Mode,
    Verdict,
    Violation,
)
from faceledger.core.law.effects import effect_in_force
from faceledger.core.law.givers import age_note, describe_giver
from faceledger.core.law.model import Consent, Scenario
from faceledger.core.law.purposes import is_identifying
from faceledger.core.law.rules import (
    consent_note,
    consent_violations,
    disclosure_violations,
    non_identifying_violations,
    prohibition_violations,
    retention_violations,
    schedule_violations,
    sensitive_note,
    sensitive_violations,
)
from faceledger.core.law.sale import sale_note, sale_violations
from faceledger.core.law.schema import Policy
from faceledger.core.law.territory import candidate_jurisdictions, grade_territory


def _out_of_scope(scenario: Scenario, policy: Policy) -> str | None:
    """Why this law cannot apply at all (date, definition, scope), or None."""
    if scenario.on < policy.in_force.starts:
        return (
            f"not in force until {policy.in_force.starts.isoformat()} ({policy.in_force.citation})"
        )
    if policy.in_force.until is not None and scenario.on >= policy.in_force.until:
        return f"no longer in force from {policy.in_force.until.isoformat()}"
    bio = policy.biometric
    if scenario.derived_from_photo and bio.photo_derived_excluded:
        return f"data generated from photographs is excluded from the definition ({bio.citation})"
    if (
        scenario.derived_from_photo
        and bio.excluded_unless_identifying
        and not is_identifying(scenario.purpose)
    ):
        return f"photo-derived data not used to identify is excluded ({bio.citation})"
    if policy.scope.commercial_only and not scenario.processor.commercial:
        return f"applies only to processing for a commercial purpose ({policy.scope.citation})"
    for exemption in policy.scope.exemptions:
        if (
            exemption.kind == "non-identifying-ai"
            and scenario.on >= exemption.starts
            and not is_identifying(scenario.purpose)
        ):
            return (f"exempt from {exemption.starts.isoformat()}: AI use not identifying "
                    f"anyone ({exemption.section}, {exemption.citation})")  # fmt: skip
    amendment = effect_in_force(policy, "non-identifying-ai-exempt", scenario.on)
    if amendment is not None and not is_identifying(scenario.purpose):
        return (f"exempt from {amendment.date.isoformat()}: AI use not identifying anyone "
                f"({amendment.citation})")  # fmt: skip
    return None


def _non_identifying(scenario: Scenario, policy: Policy) -> bool:
    """GDPR-style: Art. 9 falls away for photo data not used to identify (Art. 6/14 stay)."""
    return (policy.non_identifying is not None and scenario.derived_from_photo
            and not is_identifying(scenario.purpose))  # fmt: skip


def _notes(scenario: Scenario, policy: Policy, applies: str) -> list[str]:
    """Reasons that explain without blocking: who consented, age, security, contested reach."""
    notes: list[str] = []
    if _non_identifying(scenario, policy):
        assert policy.non_identifying is not None
        notes.append(
            f"Art. 9 does not apply: photo-derived data not used to identify is not biometric "
            f"data ({policy.biometric.citation}); GDPR still applies: "
            f"{policy.non_identifying.basis_section} (lawful basis) and "
            f"{policy.non_identifying.notice_section} (information) ({policy.non_identifying.citation})"
        )
    else:
        used = consent_note(scenario, policy)
        if used is not None:
            notes.append(used)
        if scenario.action in policy.consent.actions:
            age = age_note(scenario, policy)
            if age is not None:
                notes.append(age)
        sold = sale_note(scenario, policy)
        if sold is not None:
            notes.append(sold)
    security = policy.security
    if security is not None and scenario.action in security.actions:
        text = f"{security.section} reasonable care: {security.safeguard.strip()}"
        if scenario.action in security.outside:
            text += f"; a {scenario.action} leaves that safeguard: the recipient must protect it"
        notes.append(f"{text} ({security.citation})")
    territory = policy.territory
    if territory.contested and applies in ("likely", "uncertain"):
        notes.append(f"contested reach: {territory.contested.strip()}")
    return notes


def _record(consent: Consent, scenario: Scenario) -> str:
    """One consent record in words: kind, form, who gave it, dates, purposes."""
    kind = "sale authorization" if consent.kind == "sale-authorization" else "consent"
    text = f"{consent.form} {kind} given by {describe_giver(consent, scenario.subject)}"
    if consent.granted is not None:
        text += f" on {consent.granted.isoformat()}"
    if consent.revoked is not None:
        text += f", withdrawn {consent.revoked.isoformat()}"
    if consent.purchaser:
        text += f", naming purchaser {consent.purchaser!r}"
    return f"{text} (for {', '.join(consent.purposes) or 'no purpose'})"


def assess_law(scenario: Scenario, policy: Policy) -> LawResult:
    """How one law sees the scenario: grade, reasons, violations, destroy-by date."""
    out = _out_of_scope(scenario, policy)
    if out is not None:
        return LawResult(policy.id, policy.title, "no", (out,), version=policy.version)
    applies, reasons = grade_territory(scenario, policy.territory)
    if applies == "no":
        return LawResult(policy.id, policy.title, "no", reasons, version=policy.version)
    due, due_text = destroy_by(scenario, policy.retention)
    if _non_identifying(scenario, policy):
        gated: list[Violation] = non_identifying_violations(scenario, policy)
    else:
        gated = [
            *consent_violations(scenario, policy),
            *disclosure_violations(scenario, policy),
            *sale_violations(scenario, policy),
        ]
    sections = {v.section for v in gated}
    gated += [v for v in sensitive_violations(scenario, policy) if v.section not in sections]
    violations: list[Violation] = [
        *prohibition_violations(scenario, policy),
        *gated,
        *schedule_violations(scenario, policy),
        *retention_violations(scenario, policy, due),
    ]
    reasons = (*reasons, *_notes(scenario, policy, applies))
    special = sensitive_note(scenario, policy)
    if special is not None:
        reasons = (*reasons, special)
    if due_text:
        reasons = (*reasons, due_text)
    return LawResult(
        policy.id, policy.title, applies, reasons, tuple(violations), due, policy.version
    )


def evaluate(
    scenario: Scenario, policies: list[Policy] | tuple[Policy, ...], *, mode: Mode = "conservative"
) -> Decision:
    """Decide whether ``scenario.action`` may happen; deny by default."""
    evidence = scenario.all_evidence()
    jurisdictions = candidate_jurisdictions(evidence)
    unresolved = tuple(e for e in evidence if e.code is None)
    laws = tuple(assess_law(scenario, policy) for policy in policies)
    in_scope = [law for law in laws if law.applies in IN_SCOPE[mode]]
    reasons: list[str] = []
    if not policies:
        reasons.append("no laws loaded: deny by default")
    for law in in_scope:
        for v in law.violations:
            reasons.append(f"{law.id} {v.section} ({law.applies}): {v.reason}")
    dates = [law.destroy_by for law in in_scope if law.destroy_by is not None]
    verdict: Verdict = "block" if reasons else "allow"
    if verdict == "block":
        for law in in_scope:
            reasons += [f"{law.id}: {r}" for r in law.reasons if " satisfied by " in r]
    else:
        grades: dict[str, list[str]] = {}
        for law in in_scope:
            grades.setdefault(law.applies, []).append(law.id)
        reasons.append(
            "no in-scope law is violated"
            + ("" if not in_scope else ": " + "; ".join(f"{k}: {', '.join(v)}"
                                                         for k, v in grades.items()))
        )  # fmt: skip
        for law in in_scope:
            reasons += [f"{law.id}: {r}" for r in law.reasons if " satisfied by " in r]
    if scenario.consents:
        reasons.append("consent records: " + "; ".join(_record(c, scenario)
                                                      for c in scenario.consents))  # fmt: skip
    return Decision(
        decision=verdict,
        action=scenario.action,
        purpose=scenario.purpose,
        on=scenario.on,
        mode=mode,
        jurisdictions=jurisdictions,
        laws=laws,
        destroy_by=min(dates) if dates else None,
        reasons=tuple(reasons),
        unresolved_evidence=unresolved,
    )
