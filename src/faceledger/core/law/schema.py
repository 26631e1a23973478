"""The schema every policy file must satisfy (pydantic models, validated on load).

Example::

    policy = Policy.model_validate(yaml.safe_load(text))
    policy.consent.requirement          # 'written-release'

Every rule carries ``citation`` and ``confidence`` (``verified`` [V], ``secondary`` [S] or
``recalled`` [R], as in the project's research anchors). Unknown keys are errors, so a typo
in a policy file fails loudly instead of silently dropping a rule.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from faceledger.core.law.model import Action, ConsentForm, DisclosureBasis

Confidence = Literal["verified", "secondary", "recalled"]
CONFIDENCE_MARK: dict[str, str] = {"verified": "V", "secondary": "S", "recalled": "R"}
Requirement = Literal["none", "notice", "opt-out", "consent", "written-release", "explicit"]
TerritoryTest = Literal[
    "primarily-and-substantially", "subject-connector", "establishment-or-targeting",
    "market-or-use",
]  # fmt: skip
Connector = Literal["residence", "capture", "upload", "processing"]
ClockStart = Literal["purpose_fulfilled", "last_interaction", "collected", "revoked"]
PenaltyUnit = Literal["person", "scan", "face", "turnover"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Cited(_Strict):
    """A rule with its source: ``citation`` (non-empty) and a ``confidence`` tag."""

    citation: str = Field(min_length=3)
    confidence: Confidence
    note: str = ""


class InForce(Cited):
    starts: date = Field(alias="from")
    until: date | None = None


class Amendment(Cited):
    id: str
    date: date
    summary: str
    effects: list[str] = []


class Biometric(Cited):
    identifiers: list[str] = Field(min_length=1)
    photos_excluded: bool
    photo_derived_excluded: bool
    excluded_unless_identifying: bool = False


class Territory(Cited):
    test: TerritoryTest
    codes: list[str] = Field(min_length=1)
    connectors: list[Connector] = Field(min_length=1)


class Exemption(Cited):
    kind: Literal["non-identifying-ai"]
    starts: date = Field(alias="from")
    section: str


class Scope(Cited):
    commercial_only: bool = False
    exemptions: list[Exemption] = []


class FormChange(Cited):
    starts: date = Field(alias="from")
    add_forms: list[ConsentForm]


class SectionRef(Cited):
    section: str


class ConsentRule(Cited):
    section: str
    requirement: Requirement
    actions: list[Action]
    forms: list[ConsentForm] = []
    form_changes: list[FormChange] = []
    informed_required: bool = True
    notice: SectionRef | None = None


class Basis(_Strict):
    basis: DisclosureBasis
    purposes: list[str] | None = None


class DisclosureRule(Cited):
    section: str
    actions: list[Action] = ["disclose", "release"]
    bases: list[Basis]


class SaleRule(Cited):
    section: str
    rule: Literal["forbidden", "bases", "authorization", "opt-out"]
    bases: list[Basis] = []
    forms: list[ConsentForm] = ["written", "electronic"]


class Clock(_Strict):
    start: ClockStart
    months: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)


class RetentionRule(Cited):
    section: str
    description: str
    clocks: list[Clock] = []


class Penalty(Cited):
    unit: PenaltyUnit
    currency: Literal["USD", "EUR", "GBP"]
    min_per_unit: float = Field(default=0.0, ge=0)
    max_per_unit: float = Field(default=0.0, ge=0)
    turnover_share: float | None = Field(default=None, ge=0, le=1)
    starts: date | None = Field(default=None, alias="from")
    until: date | None = None
    description: str = ""


class Enforcement(Cited):
    private_right_of_action: bool
    enforcers: list[str] = Field(min_length=1)
    penalties: list[Penalty] = []
    limitation: str = ""


class Prohibition(Cited):
    section: str
    description: str
    actions: list[Action]
    purposes: list[str]
    sources: list[Literal["scraped-untargeted", "scraped-targeted", "direct", "unknown"]]


class Policy(_Strict):
    """One law, as data. ``id`` must equal the file name without ``.yaml``."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]+$")
    title: str
    short_name: str
    version: str
    citation: str = Field(min_length=3)
    summary: str = ""
    in_force: InForce
    amendments: list[Amendment] = []
    biometric: Biometric
    territory: Territory
    scope: Scope
    consent: ConsentRule
    disclosure: DisclosureRule | None = None
    sale: SaleRule | None = None
    retention: RetentionRule | None = None
    enforcement: Enforcement
    prohibitions: list[Prohibition] = []
    sources: list[str] = []
