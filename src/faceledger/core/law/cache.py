"""Decide identical scenarios once: a memo of :func:`evaluate` keyed by the scenario value.

Example::

    cache = DecisionCache(policies, mode="conservative")
    decision, document = cache.decide(scenario)      # == evaluate(...), evaluate(...).to_dict()
    cache.hits, cache.misses

Most faces of a collection share their jurisdiction evidence, consents and dates, so their
scenarios are equal and one evaluation serves them all. The key is the scenario itself (a
frozen, hashable value; equal scenarios encode to equal documents) with each evidence item's
free-text ``detail`` blanked: no rule reads ``detail`` (it names the coordinates or the text
a clue came from), so two photos geotagged at different street corners of one state share a
decision. The result is then given back the real evidence: ``jurisdictions`` and
``unresolved_evidence`` are recomputed from the scenario's own evidence (cheap: territory
only), so the decision equals ``evaluate(scenario, policies, mode=mode)`` exactly, as the
property tests check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from faceledger.core.law.decision import Decision, Mode
from faceledger.core.law.engine import evaluate
from faceledger.core.law.model import Evidence, Scenario
from faceledger.core.law.schema import Policy
from faceledger.core.law.territory import candidate_jurisdictions


def decision_key(scenario: Scenario) -> Scenario:
    """``scenario`` with every evidence ``detail`` blanked: the cache key."""
    evidence = scenario.subject.evidence
    if all(not e.detail for e in evidence):
        return scenario
    bare = tuple(Evidence(e.kind, e.code, e.confidence) for e in evidence)
    return replace(scenario, subject=replace(scenario.subject, evidence=bare))


@dataclass
class DecisionCache:
    """Evaluates each distinct scenario once (up to ``max_size`` kept; then it starts over)."""

    policies: Sequence[Policy]
    mode: Mode = "conservative"
    max_size: int = 65_536
    hits: int = 0
    misses: int = 0
    _memo: dict[Scenario, tuple[Decision, dict[str, object]]] = field(default_factory=dict)

    def decide(self, scenario: Scenario) -> tuple[Decision, dict[str, object]]:
        """The decision for ``scenario`` and its ``to_dict()`` document.

        Faces whose scenarios are equal get the *same* document object (treat it as
        read-only), so a caller can serialise it once."""
        key = decision_key(scenario)
        found = self._memo.get(key)
        if found is None:
            self.misses += 1
            if len(self._memo) >= self.max_size:
                self._memo.clear()
            decision = evaluate(key, list(self.policies), mode=self.mode)
            found = (decision, decision.to_dict())
            self._memo[key] = found
        else:
            self.hits += 1
        if key is scenario:
            return found
        return _with_evidence(found, scenario)


def _with_evidence(
    found: tuple[Decision, dict[str, object]], scenario: Scenario
) -> tuple[Decision, dict[str, object]]:
    """The cached decision given ``scenario``'s own evidence (details included)."""
    decision, document = found
    evidence = scenario.all_evidence()
    jurisdictions = candidate_jurisdictions(evidence)
    unresolved = tuple(e for e in evidence if e.code is None)
    real = replace(decision, jurisdictions=jurisdictions, unresolved_evidence=unresolved)
    doc: dict[str, Any] = dict(document)
    doc["jurisdictions"] = [j.to_dict() for j in jurisdictions]
    doc["unresolved_evidence"] = [e.to_dict() for e in unresolved]
    return real, doc
