"""Biometric-privacy law engine: pure functions over the laws as data.

Example::

    from datetime import date
    from faceledger.core.law import Scenario, Processor, Subject, evaluate, load_policies

    policies = load_policies()                       # shipped YAML (+ policy_dir=...)
    scenario = Scenario(action="extract-template", purpose="train-face-recognition",
                        on=date(2025, 3, 1), processor=Processor(location="US-WA"),
                        subject=Subject(residence="US-IL"))
    decision = evaluate(scenario, policies)          # -> Decision
    decision.decision                                # 'block'
    decision.to_dict()                               # the `policy evaluate --json` contract

Public functions and their signatures:

- ``load_policies(*, policy_dir: Path | None = None, shipped: bool = True) -> list[Policy]``
  (the only file I/O here; raises ``PolicyError`` naming file and field)
- ``parse_policy(text: str, *, source: str) -> Policy``
- ``evaluate(scenario: Scenario, policies: Sequence[Policy], *,
  mode: Literal["conservative", "likely"] = "conservative") -> Decision``
- ``assess_law(scenario: Scenario, policy: Policy) -> LawResult``
- ``candidate_jurisdictions(evidence: tuple[Evidence, ...]) -> tuple[Jurisdiction, ...]``
- ``estimate_exposure(policy: Policy, *, subjects: int, faces: int, on: date,
  scans: int | None = None, turnover: float | None = None,
  sections: Mapping[str, tuple[int, int]] | None = None) -> Exposure | None``
- ``estimate_exposures(policies, *, subjects, faces, on, scans=None, turnover=None,
  sections=None) -> list[Exposure]``
- who may consent, minors and the photo-owner rule: :mod:`faceledger.core.law.givers`;
  sale, licence and profit: :mod:`faceledger.core.law.sale`; implemented amendment effects:
  :mod:`faceledger.core.law.effects`
- ``render_decision(decision: Decision) -> str`` (prose for humans)

Evidence comes from ``faceledger.geo.evidence_for_photo(...)`` (geotags and place text
resolved to ISO codes), so nothing here reads boundary files.
"""

from __future__ import annotations

from faceledger.core.law.decision import Decision, Jurisdiction, LawResult, Violation
from faceledger.core.law.engine import assess_law, evaluate
from faceledger.core.law.exposure import Exposure, estimate_exposure, estimate_exposures
from faceledger.core.law.loader import load_policies, parse_policy
from faceledger.core.law.model import Consent, Evidence, Processor, Scenario, Subject
from faceledger.core.law.prose import render_decision
from faceledger.core.law.schema import Policy
from faceledger.core.law.territory import candidate_jurisdictions

__all__ = [
    "Consent",
    "Decision",
    "Evidence",
    "Exposure",
    "Jurisdiction",
    "LawResult",
    "Policy",
    "Processor",
    "Scenario",
    "Subject",
    "Violation",
    "assess_law",
    "candidate_jurisdictions",
    "estimate_exposure",
    "estimate_exposures",
    "evaluate",
    "load_policies",
    "parse_policy",
    "render_decision",
]
