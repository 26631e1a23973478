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
from faceledger.core.law.model import Scenario
from faceledger.core.law.purposes import is_identifying
from faceledger.core.law.rules import (
    consent_violations,
    disclosure_violations,
    prohibition_violations,
    retention_violations,
    sale_violations,
)
from faceledger.core.law.schema import Policy
from faceledger.core.law.territory import candidate_jurisdictions, grade_territory


def _out_of_scope(scenario: Scenario, policy: Policy) -> str | None:
    """Why this law cannot apply at all (date, definition, scope), or None."""
    if scenario.on < policy.in_force.starts:
        return f"not in force until {policy.in_force.starts.isoformat()} ({policy.in_force.citation})"
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
    return None


def assess_law(scenario: Scenario, policy: Policy) -> LawResult:
    """How one law sees the scenario: grade, reasons, violations, destroy-by date."""
    out = _out_of_scope(scenario, policy)
    if out is not None:
        return LawResult(policy.id, policy.title, "no", (out,), version=policy.version)
    applies, reasons = grade_territory(scenario, policy.territory)
    if applies == "no":
        return LawResult(policy.id, policy.title, "no", reasons, version=policy.version)
    due, due_text = destroy_by(scenario, policy.retention)
    violations: list[Violation] = [
        *prohibition_violations(scenario, policy),
        *consent_violations(scenario, policy),
        *disclosure_violations(scenario, policy),
        *sale_violations(scenario, policy),
        *retention_violations(scenario, policy, due),
    ]
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
    if verdict == "allow":
        grades: dict[str, list[str]] = {}
        for law in in_scope:
            grades.setdefault(law.applies, []).append(law.id)
        reasons.append(
            "no in-scope law is violated"
            + ("" if not in_scope else ": " + "; ".join(f"{k}: {', '.join(v)}"
                                                         for k, v in grades.items()))
        )  # fmt: skip
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
