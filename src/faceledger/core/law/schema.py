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

from pydantic import BaseModel, ConfigDict, Field, field_validator

from faceledger.core.law.effects import EFFECTS
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
    """A dated change. Every name in ``effects`` must be one the engine implements
    (:data:`faceledger.core.law.effects.EFFECTS`); ``sections`` narrows an effect to the
    sections it names (``per-person-accrual``: SB 2979 covers 15(b) and 15(d) only)."""

    id: str
    date: date
    summary: str
    effects: list[str] = []
    sections: list[str] = []
    contested: str = ""

    @field_validator("effects")
    @classmethod
    def _implemented(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in EFFECTS]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} is not an effect the engine implements "
                f"(implemented: {', '.join(sorted(EFFECTS))}); a declared effect may not be inert"
            )
        return value


class Biometric(Cited):
    identifiers: list[str] = Field(min_length=1)
    photos_excluded: bool
    photo_derived_excluded: bool
    excluded_unless_identifying: bool = False


class Territory(Cited):
    test: TerritoryTest
    codes: list[str] = Field(min_length=1)
    connectors: list[Connector] = Field(min_length=1)
    #: When set, a grade that rests on the subject's connectors alone (no processing in the
    #: territory) carries this sentence as a reason: the reach itself is contested.
    contested: str = ""


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
    starts: date | None = Field(default=None, alias="from")


class WhoConsents(Cited):
    """Who may give the consent a law asks for, and when a minor needs a representative.

    ``accepts``: the givers the law names (a ``photo-owner`` consent is never listed: it
    counts only as the depicted person's own consent, when the face is the owner's own).
    ``representative_for``: ``anyone`` (BIPA's "legally authorized representative") or
    ``minors`` (GDPR Art. 8: the holder of parental responsibility for a child).
    ``representative_below``: the age under which the subject's own consent does not count.
    ``if_age_unknown``: how a subject whose age and minority are unknown is read.
    """

    accepts: list[Literal["subject", "legal-representative"]] = Field(min_length=1)
    representative_for: Literal["anyone", "minors"] = "anyone"
    representative_below: int | None = Field(default=None, ge=1, le=21)
    if_age_unknown: Literal["adult", "minor"] = "adult"


class ConsentRule(Cited):
    section: str
    requirement: Requirement
    actions: list[Action]
    forms: list[ConsentForm] = []
    form_changes: list[FormChange] = []
    informed_required: bool = True
    notice: SectionRef | None = None
    #: The requirement (not the notice) binds only from this date (CCPA right to limit: 2023).
    starts: date | None = Field(default=None, alias="from")
    who: WhoConsents | None = None


class Basis(_Strict):
    basis: DisclosureBasis
    purposes: list[str] | None = None


class DisclosureRule(Cited):
    """``separate_consent``: the ``consent`` basis needs a consent to share that is separate
    from the collection consent (MHMDA 19.373.030(1)(b)): a record naming ``share`` or the
    action; a consent naming only the collection purpose does not count."""

    section: str
    actions: list[Action] = ["disclose", "release"]
    bases: list[Basis]
    separate_consent: bool = False


class Authorization(Cited):
    """A separate sale authorization (MHMDA RCW 19.373.070): its own record
    (``kind: sale-authorization``), signed, naming the purchaser, expiring within
    ``max_months`` of signing. A collection consent never satisfies it."""

    section: str
    signed: bool = True
    purchaser: bool = True
    max_months: int = Field(default=12, ge=1)


class MinorOptIn(Cited):
    """CCPA 1798.120(c): selling or sharing a minor's data needs an opt-in: the consumer's
    own from ``parent_below`` to ``below``, a parent's or guardian's under ``parent_below``."""

    section: str
    below: int = Field(ge=1, le=21)
    parent_below: int = Field(ge=0, le=21)
    if_age_unknown: Literal["opt-out", "opt-in"] = "opt-in"


class ProfitRule(Cited):
    """BIPA 15(c) "or otherwise profit": commercial uses of held data for ``purposes``."""

    section: str
    description: str
    actions: list[Action]
    purposes: list[str]
    commercial_only: bool = True


class SaleRule(Cited):
    section: str
    rule: Literal["forbidden", "bases", "authorization", "opt-out"]
    bases: list[Basis] = []
    forms: list[ConsentForm] = ["written", "electronic"]
    #: Actions that are a sale: ``license`` (renting templates out) is one under every law.
    actions: list[Action] = ["sell", "license"]
    authorization: Authorization | None = None
    minors: MinorOptIn | None = None
    profit: ProfitRule | None = None


class Clock(_Strict):
    start: ClockStart
    months: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)


class ScheduleRule(Cited):
    """A publicly available written retention schedule must exist before possession
    (BIPA 15(a)): ``Scenario.retention_schedule_published`` on or before the action date."""

    section: str
    actions: list[Action] = ["extract-template", "retain"]


class RetentionRule(Cited):
    section: str
    description: str
    clocks: list[Clock] = []
    schedule: ScheduleRule | None = None


class SecurityRule(Cited):
    """A duty of reasonable care (BIPA 15(e)). faceledger meets it with a fixed safeguard
    (``safeguard``), stated in every decision it applies to; an action that takes the data
    out of that safeguard (``outside``) must be covered by the recipient, as the reason says."""

    section: str
    safeguard: str
    actions: list[Action] = ["extract-template", "retain", "release", "disclose", "sell",
                             "license", "match-optout"]  # fmt: skip
    outside: list[Action] = ["release", "disclose", "sell", "license"]


class NonIdentifying(Cited):
    """GDPR for photo data not used to identify: Art. 9 does not apply, Art. 6 and 14 do.

    ``basis_section``: a lawful basis is needed (a consent covering the purpose, in
    ``forms``); ``notice_section``: the person must be informed (an informed record)."""

    basis_section: str
    notice_section: str
    actions: list[Action]
    forms: list[ConsentForm] = ["written", "electronic"]


class SensitiveData(Cited):
    """Special-category (GDPR Art. 9(1)) or sensitive (CPRA 1798.140(ae)) data that a
    published dataset's labels infer about the people it lists (an ``ethnic-group`` label
    infers racial or ethnic origin).

    Applies when the scenario's ``sensitive_labels`` name one of ``labels`` and the action is
    in ``actions``, whatever the purpose (identifying or not). ``requirement``:
    ``explicit``: a valid consent covering the purpose, in one of ``forms`` (Art. 9(2)(a));
    ``limit``: the person may limit its use (an opt-out: a recorded withdrawal blocks) and
    must be told at collection (``notice_section``: an informed record naming the purpose).
    ``description`` says in words what the labels are (it starts the violation's reason)."""

    section: str
    description: str
    labels: list[str] = Field(min_length=1)
    requirement: Literal["explicit", "limit"]
    actions: list[Action]
    forms: list[ConsentForm] = ["written", "electronic"]
    notice_section: str | None = None
    starts: date | None = Field(default=None, alias="from")


class Penalty(Cited):
    unit: PenaltyUnit
    currency: Literal["USD", "EUR", "GBP"]
    min_per_unit: float = Field(default=0.0, ge=0)
    max_per_unit: float = Field(default=0.0, ge=0)
    turnover_share: float | None = Field(default=None, ge=0, le=1)
    starts: date | None = Field(default=None, alias="from")
    until: date | None = None
    description: str = ""
    #: The sections this figure is for (empty: every violation of the law).
    sections: list[str] = []
    #: Set when the figure applies only on a further condition (CCPA 1798.150: a breach);
    #: it is reported but not added to the total.
    contingent: str = ""


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
    #: Applies only to a photo with a machine-readable TDM reservation (DSM Art. 4(3)).
    when_tdm_reserved: bool = False
    starts: date | None = Field(default=None, alias="from")
    #: Applies only when the processor acts commercially.
    commercial_only: bool = False


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
    security: SecurityRule | None = None
    non_identifying: NonIdentifying | None = None
    sensitive_data: SensitiveData | None = None
    enforcement: Enforcement
    prohibitions: list[Prohibition] = []
    sources: list[str] = []
