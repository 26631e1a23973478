"""Render a :class:`Decision` as plain prose a lawyer can check line by line.

Example::

    text = render_decision(decision)
    # DECISION: BLOCK extract-template for 'train-face-recognition' on 2025-03-01 ...
"""

from __future__ import annotations

from faceledger.core.law.decision import Decision

_GRADE = {
    "yes": "applies",
    "likely": "likely applies",
    "uncertain": "may apply (uncertain)",
    "no": "does not apply",
}


def render_decision(decision: Decision) -> str:
    """A multi-line text; one paragraph per law, citations inline."""
    lines = [
        f"DECISION: {decision.decision.upper()} {decision.action} for "
        f"{decision.purpose!r} on {decision.on.isoformat()} ({decision.mode} mode)",
    ]
    lines += [f"  - {reason}" for reason in decision.reasons]
    lines.append("")
    lines.append("Where the subject and the processing are:")
    if not decision.jurisdictions:
        lines.append("  no resolved location evidence")
    for j in decision.jurisdictions:
        clues = "; ".join(f"{e.kind}: {e.detail}" for e in j.evidence)
        lines.append(f"  {j.code} (confidence {j.confidence:.2f}) from {clues}")
    for e in decision.unresolved_evidence:
        lines.append(f"  unresolved {e.kind}: {e.detail}")
    for law in decision.laws:
        lines.append("")
        lines.append(f"{law.title} [{law.id}]: {_GRADE[law.applies]}.")
        lines += [f"  because: {reason}" for reason in law.reasons]
        for v in law.violations:
            lines.append(f"  VIOLATION {v.section} ({v.citation}): {v.reason}")
        if law.destroy_by is not None:
            lines.append(f"  destroy by: {law.destroy_by.isoformat()}")
    lines.append("")
    when = decision.destroy_by.isoformat() if decision.destroy_by else "no deadline computed"
    lines.append(f"Earliest destroy-by date across laws in scope: {when}")
    return "\n".join(lines)
