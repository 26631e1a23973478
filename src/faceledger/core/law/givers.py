"""Who gave a consent, and does this law accept it from them for this person's age?

Example::

    giver_problem(consent, scenario, policy)
    # 'consent given by the photo owner, who is not the depicted person (...)'
    describe_giver(consent, scenario.subject)      # "the subject's legal representative (parent)"

Rules, in order:

- A ``photo-owner`` consent is the depicted person's own consent only when the face is the
  owner's own (``Subject.is_photo_owner``: a self-portrait claim). For anyone else in the
  photo it satisfies no law: BIPA 15(b)(3) wants "the subject or the subject's legally
  authorized representative", CUBI 503.001(b) "the individual's consent", MHMDA and GDPR the
  consumer's / data subject's; Texas (b-1) adds that an image being public is not consent.
- A ``legal-representative`` consent counts where the law accepts one (``who.accepts``); a law
  whose representative is for minors only (GDPR Art. 8) refuses it unless the subject is
  known to be a child (a known adult or an unknown age: the person's own consent is needed).
- A minor's own consent does not count where the law wants a representative below an age
  (``who.representative_below``). ``age`` wins over ``minor``; ``minor: true`` without an age
  is read as the youngest band (conservative); an unknown age (both absent) is read as the
  policy's ``who.if_age_unknown`` says, and the reasons say so.
"""

from __future__ import annotations

from typing import Literal

from faceledger.core.law.effects import effect_in_force
from faceledger.core.law.model import Consent, Scenario, Subject
from faceledger.core.law.schema import Policy, WhoConsents

Band = Literal["below", "at-or-above", "unknown"]
ADULT = 18

#: Used when a policy file states no ``who``: the subject only, representatives for minors.
DEFAULT_WHO = WhoConsents(
    accepts=["subject", "legal-representative"], representative_for="anyone",
    representative_below=ADULT, citation="(no 'who' rule in the policy file: default)",
    confidence="recalled",
)  # fmt: skip


def age_band(subject: Subject, threshold: int) -> Band:
    """Is the subject below ``threshold`` years? ``age`` wins; ``minor`` alone is coarse."""
    if subject.age is not None:
        return "below" if subject.age < threshold else "at-or-above"
    if subject.minor is True:
        return "below"  # a minor of unknown age: read as the youngest band (conservative)
    if subject.minor is False:
        return "at-or-above" if threshold <= ADULT else "unknown"
    return "unknown"


def describe_age(subject: Subject) -> str:
    if subject.age is not None:
        return f"aged {subject.age}"
    if subject.minor is True:
        return "a minor of unknown age"
    if subject.minor is False:
        return "an adult"
    return "of unknown age"


def describe_giver(consent: Consent, subject: Subject) -> str:
    """Who gave ``consent``, in words (for reasons)."""
    if consent.given_by == "photo-owner":
        if subject.is_photo_owner:
            return "the photo owner, who is the depicted person (a claimed self-portrait)"
        return "the photo owner, who is not the depicted person"
    if consent.given_by == "legal-representative":
        rel = f" ({consent.relationship})" if consent.relationship else ""
        return f"the subject's legal representative{rel}"
    return "the subject (the depicted person)"


def _minor_here(subject: Subject, who: WhoConsents) -> Band:
    if who.representative_below is None:
        return "at-or-above"
    band = age_band(subject, who.representative_below)
    if band == "unknown":
        return "below" if who.if_age_unknown == "minor" else "unknown"
    return band


def giver_problem(consent: Consent, scenario: Scenario, policy: Policy) -> str | None:
    """None when this law accepts a consent from whoever gave ``consent``; else why not."""
    who = policy.consent.who or DEFAULT_WHO
    subject = scenario.subject
    by = describe_giver(consent, subject)
    if consent.given_by == "photo-owner" and not subject.is_photo_owner:
        why = f"consent given by {by}: a photo owner's word covers only their own face"
        tx = effect_in_force(policy, "public-image-not-consent", scenario.on)
        if tx is not None:
            why += f"; an image being public is not consent ({tx.citation})"
        return f"{why} ({who.citation})"
    own = consent.given_by in ("subject", "photo-owner")
    band = _minor_here(subject, who)
    if own:
        if band == "below":
            rep = ("the holder of parental responsibility" if who.representative_for == "minors"
                   else "a legally authorized representative")  # fmt: skip
            return (f"consent given by {by}, {describe_age(subject)}: under "
                    f"{who.representative_below} it must come from {rep}, a minor's own "
                    f"consent does not count ({who.citation})")  # fmt: skip
        return None
    if "legal-representative" not in who.accepts:
        return f"consent given by {by}: this law accepts only the person's own ({who.citation})"
    if who.representative_for == "minors" and band != "below":
        # an unknown age is not a known child: a representative's word does not replace the
        # person's own consent (conservative; the own consent of the same person would count)
        unknown = " (not known to be a child)" if band == "unknown" else ""
        return (f"consent given by {by} for a subject {describe_age(subject)}{unknown}: a "
                f"representative consents here only for a child under "
                f"{who.representative_below} ({who.citation})")  # fmt: skip
    return None


def age_note(scenario: Scenario, policy: Policy) -> str | None:
    """A reason when the law turns on age and the subject's age is unknown."""
    who = policy.consent.who
    if who is None or who.representative_below is None:
        return None
    if age_band(scenario.subject, who.representative_below) != "unknown":
        return None
    reading = ("read as an adult's" if who.if_age_unknown == "adult"
               else "read as a minor's (conservative)")  # fmt: skip
    return (
        f"the subject's age is not known: a consent is {reading}; under "
        f"{who.representative_below} a representative must consent ({who.citation})"
    )
