"""Amendment effects: the named legal changes a policy file may declare, each implemented here.

Example::

    >>> "per-person-accrual" in EFFECTS
    True
    >>> effect_start(policy, "electronic-signature-is-written-release")   # date or None

A policy file lists an amendment's ``effects`` by name. The schema refuses any name that is
not a key of :data:`EFFECTS`, so no declared effect can be inert: each name below is read by
the engine (the module named in its description) and changes a decision, a reason or an
exposure figure.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faceledger.core.law.schema import Amendment, Policy

#: Every effect the engine implements, with where and how.
EFFECTS: dict[str, str] = {
    "electronic-signature-is-written-release": (
        "rules.accepted_forms: from the amendment date an electronic signature is a written "
        "release (earlier e-signatures are refused, flagged as an uncertain, conservative "
        "reading)"
    ),
    "per-person-accrual": (
        "exposure.estimate_exposure: from the amendment date the sections it names (all if "
        "none) accrue one recovery per person, not per scan; marked contested for cases "
        "pending on that date"
    ),
    "public-image-not-consent": (
        "givers.giver_problem: from the amendment date a consent inferred from an image being "
        "public (a photo owner's consent for a face that is not theirs) is refused citing the "
        "amendment; a consent record whose form is 'none' never counts"
    ),
    "non-identifying-ai-exempt": (
        "engine._out_of_scope: from the amendment date a purpose that identifies nobody is "
        "exempt from the law"
    ),
}


def amendments_with(policy: Policy, effect: str) -> list[Amendment]:
    """The policy's amendments that declare ``effect`` (oldest first)."""
    found = [a for a in policy.amendments if effect in a.effects]
    return sorted(found, key=lambda a: a.date)


def effect_start(policy: Policy, effect: str) -> date | None:
    """The earliest date from which ``effect`` applies under ``policy`` (None: never)."""
    found = amendments_with(policy, effect)
    return found[0].date if found else None


def effect_in_force(policy: Policy, effect: str, on: date) -> Amendment | None:
    """The amendment that makes ``effect`` apply on ``on``, or None."""
    for amendment in amendments_with(policy, effect):
        if on >= amendment.date:
            return amendment
    return None
