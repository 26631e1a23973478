"""Output values of the law engine: :class:`Decision` and its parts, with the contract JSON.

Example::

    decision = evaluate(scenario, policies)
    decision.decision            # 'block'
    decision.to_dict()           # the `faceledger policy evaluate --json` document

Keys of :meth:`Decision.to_dict` are a public contract: add keys, never rename or remove.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from faceledger.core.law.model import Evidence

Applies = Literal["yes", "likely", "uncertain", "no"]
Verdict = Literal["allow", "block"]
Mode = Literal["conservative", "likely"]

#: Which grades count as "in scope" for each mode.
IN_SCOPE: dict[str, frozenset[str]] = {
    "conservative": frozenset({"yes", "likely", "uncertain"}),
    "likely": frozenset({"yes", "likely"}),
}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class Violation:
    """A rule the action would break: ``section`` as the statute numbers it (``15(b)``)."""

    section: str
    citation: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"section": self.section, "citation": self.citation, "reason": self.reason}


@dataclass(frozen=True)
class LawResult:
    """How one law sees the scenario."""

    id: str
    title: str
    applies: Applies
    reasons: tuple[str, ...]
    violations: tuple[Violation, ...] = ()
    destroy_by: date | None = None
    version: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "applies": self.applies,
            "reasons": list(self.reasons),
            "violations": [v.to_dict() for v in self.violations],
            "destroy_by": _iso(self.destroy_by),
        }


@dataclass(frozen=True)
class Jurisdiction:
    """A candidate jurisdiction with the evidence pointing at it."""

    code: str
    confidence: float
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "confidence": round(self.confidence, 3),
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class Decision:
    """The engine's answer. ``decision`` is ``block`` unless every in-scope law is satisfied."""

    decision: Verdict
    action: str
    purpose: str
    on: date
    mode: Mode
    jurisdictions: tuple[Jurisdiction, ...]
    laws: tuple[LawResult, ...]
    destroy_by: date | None
    reasons: tuple[str, ...]
    unresolved_evidence: tuple[Evidence, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def law(self, law_id: str) -> LawResult:
        """The result for one law id (KeyError if that law was not evaluated)."""
        for result in self.laws:
            if result.id == law_id:
                return result
        raise KeyError(law_id)

    def to_dict(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "action": self.action,
            "purpose": self.purpose,
            "date": self.on.isoformat(),
            "mode": self.mode,
            "reasons": list(self.reasons),
            "jurisdictions": [j.to_dict() for j in self.jurisdictions],
            "unresolved_evidence": [e.to_dict() for e in self.unresolved_evidence],
            "laws": [law.to_dict() for law in self.laws],
            "destroy_by": _iso(self.destroy_by),
            "policy_versions": {law.id: law.version for law in self.laws},
        }
