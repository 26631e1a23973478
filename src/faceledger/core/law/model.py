"""Input values of the law engine: a scenario, its consents and its jurisdiction evidence.

Example::

    scenario = Scenario(
        action="extract-template",
        purpose="train-face-recognition",
        on=date(2025, 3, 1),
        processor=Processor(location="US-WA", commercial=True),
        subject=Subject(residence="US-IL", evidence=(
            Evidence(kind="geotag", code="US-IL", confidence=0.95, detail="41.88,-87.63"),
        )),
    )

Every value here is frozen; the engine never mutates its input. Evidence arrives already
resolved to ISO codes (``faceledger.geo`` turns geotags and place text into ``Evidence``), so
the engine needs no boundary files and stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, get_args

Action = Literal[
    "extract-template", "retain", "release", "disclose", "sell", "match-optout", "license",
]  # fmt: skip
ACTIONS: tuple[str, ...] = get_args(Action)

ConsentForm = Literal["written", "electronic", "verbal", "none"]
CONSENT_FORMS: tuple[str, ...] = get_args(ConsentForm)

DisclosureBasis = Literal[
    "consent", "financial-transaction", "required-by-law", "warrant", "permitted-by-law",
]  # fmt: skip
DISCLOSURE_BASES: tuple[str, ...] = get_args(DisclosureBasis)

EvidenceKind = Literal["geotag", "owner-location", "declared", "residence", "processing"]
EVIDENCE_KINDS: tuple[str, ...] = get_args(EvidenceKind)

Source = Literal["scraped-untargeted", "scraped-targeted", "direct"]
SOURCES: tuple[str, ...] = get_args(Source)

#: Who gave a consent: the depicted person, their legally authorised representative (a parent
#: of a minor, a guardian), or the photo's owner (uploader). A ``photo-owner`` consent speaks
#: only for the owner's own face (``Subject.is_photo_owner``).
GivenBy = Literal["subject", "legal-representative", "photo-owner"]
GIVEN_BY: tuple[str, ...] = get_args(GivenBy)

#: ``consent`` (to collect/process) or a ``sale-authorization`` (MHMDA RCW 19.373.070).
ConsentKind = Literal["consent", "sale-authorization"]
CONSENT_KINDS: tuple[str, ...] = get_args(ConsentKind)

#: Evidence kinds that speak to where the *subject* lives (residence connectors).
RESIDENCE_KINDS = frozenset({"declared", "residence"})
#: Evidence kinds that speak to where the photo was taken or uploaded.
CAPTURE_KINDS = frozenset({"geotag", "owner-location"})


@dataclass(frozen=True)
class Evidence:
    """One clue about a jurisdiction: ``code`` is ISO 3166-1 (``DE``) or 3166-2 (``US-IL``).

    ``code`` is ``None`` when the clue could not be resolved (the detail says why);
    ``confidence`` is 0..1. Kinds: ``geotag`` (where the photo was taken), ``owner-location``
    (the uploader's free-text location: a proxy for residence and upload place),
    ``declared``/``residence`` (a stated residence), ``processing`` (where processing ran).
    """

    kind: EvidenceKind
    code: str | None
    confidence: float
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "code": self.code,
            "confidence": round(self.confidence, 3),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Processor:
    """Who acts: ``location`` is the ISO code where processing runs (None: unknown)."""

    location: str | None = None
    commercial: bool = True


@dataclass(frozen=True)
class Subject:
    """The person in the photo: stated residence (None: unknown) and resolved evidence.

    ``minor``: True / False / None (unknown); ``age`` in whole years when known (it wins over
    ``minor`` where a law names an age). ``is_photo_owner``: the face is claimed as the photo
    owner's own (a self-portrait claim); only then does a ``photo-owner`` consent count.
    """

    residence: str | None = None
    evidence: tuple[Evidence, ...] = ()
    minor: bool | None = None
    age: int | None = None
    is_photo_owner: bool = False


@dataclass(frozen=True)
class Consent:
    """One consent record. ``purposes`` must name the scenario purpose to cover it.

    Valid on a date ``d`` when ``granted <= d``, not ``expires <= d`` and not ``revoked <= d``.
    A record with ``granted`` None was never granted: it only carries a revocation (opt-out).
    ``given_by`` says who gave it (``relationship`` describes a representative, e.g.
    ``parent``); ``kind`` is ``consent`` or ``sale-authorization`` (with the named
    ``purchaser`` and ``signed``).
    """

    form: ConsentForm
    purposes: tuple[str, ...]
    informed: bool = False
    granted: date | None = None
    expires: date | None = None
    revoked: date | None = None
    given_by: GivenBy = "subject"
    relationship: str | None = None
    kind: ConsentKind = "consent"
    purchaser: str | None = None
    signed: bool | None = None

    def active_on(self, on: date) -> bool:
        if self.granted is None or self.granted > on:
            return False
        if self.expires is not None and self.expires <= on:
            return False
        return not (self.revoked is not None and self.revoked <= on)

    def covers(self, purpose: str) -> bool:
        return purpose in self.purposes


@dataclass(frozen=True)
class Scenario:
    """One question to the engine: may ``action`` for ``purpose`` happen ``on`` this date?

    ``source`` says how the photos were gathered (None: unknown, treated as the worst case
    where a law cares). ``derived_from_photo``: the template comes from a photograph (the
    normal faceledger case; some laws exclude such data). ``collected`` is the earliest known
    acquisition date (retention clocks start there). ``retention_schedule_published``: when
    the organisation published its written retention schedule (BIPA 15(a)); None: never.
    ``tdm_reserved``: the photo carries a machine-readable text-and-data-mining reservation
    (EU DSM Directive 2019/790 Art. 4(3)). ``sensitive_labels``: annotation kinds (such as
    ``ethnic-group``) that a published dataset also listing this photo attached to the people
    in it: inferences of special-category / sensitive traits (GDPR Art. 9(1), CPRA
    1798.140(ae)); a law's ``sensitive_data`` rule names the kinds it cares about.
    """

    action: Action
    purpose: str
    on: date
    processor: Processor = field(default_factory=Processor)
    subject: Subject = field(default_factory=Subject)
    consents: tuple[Consent, ...] = ()
    collected: date | None = None
    last_interaction: date | None = None
    purpose_fulfilled: date | None = None
    disclosure_basis: DisclosureBasis | None = None
    source: Source | None = None
    derived_from_photo: bool = True
    retention_schedule_published: date | None = None
    tdm_reserved: bool = False
    sensitive_labels: tuple[str, ...] = ()

    def all_evidence(self) -> tuple[Evidence, ...]:
        """The subject's evidence plus residence and processing location as evidence."""
        extra: list[Evidence] = []
        if self.subject.residence:
            extra.append(Evidence("residence", self.subject.residence, 1.0, "stated residence"))
        if self.processor.location:
            extra.append(Evidence("processing", self.processor.location, 1.0, "processor location"))
        return (*self.subject.evidence, *extra)
