"""Statutory exposure estimates: per law, the range a set of faces at risk could cost.

Example::

    exposure = estimate_exposure(policy, subjects=1200, faces=3400, scans=5100,
                                 on=date(2025, 1, 1))
    exposure.low, exposure.high, exposure.assumptions

Not a prediction of damages: it multiplies the statute's per-unit amounts by counts and
says which assumptions it made (the unit counted, negligent vs intentional, turnover).
BIPA counts scans before SB 2979 (2 Aug 2024, Cothron) and, after it, people for 15(b) and
15(d) only (the ``per-person-accrual`` effect; 15(a), (c), (e) stay per violation, and the
change is contested for cases pending on that date); CUBI counts each
face record as one violation; GDPR and the AI Act cap fines at the higher of a fixed sum and
a share of worldwide turnover.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from faceledger.core.law.effects import effect_in_force
from faceledger.core.law.schema import Penalty, Policy

#: Per violated section: (faces violating it, people among them).
SectionCounts = Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class Exposure:
    """One law's statutory range. ``units`` is the count multiplied (people, scans, faces).

    ``parts`` break the range down when sections count differently (BIPA after SB 2979:
    15(b)/(d) per person, 15(a)/(c)/(e) per violation) or when a figure is contingent
    (CCPA 1798.150 breach damages: listed, not added)."""

    law_id: str
    currency: str
    unit: str
    units: int
    low: float
    high: float
    citation: str
    assumptions: tuple[str, ...]
    parts: tuple[dict[str, object], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "law": self.law_id,
            "currency": self.currency,
            "unit": self.unit,
            "units": self.units,
            "low": self.low,
            "high": self.high,
            "citation": self.citation,
            "assumptions": list(self.assumptions),
            "parts": [dict(p) for p in self.parts],
        }


def _penalties_on(policy: Policy, on: date) -> list[Penalty]:
    found = []
    for penalty in policy.enforcement.penalties:
        if penalty.starts is not None and on < penalty.starts:
            continue
        if penalty.until is not None and on >= penalty.until:
            continue
        found.append(penalty)
    return found


def _turnover(policy: Policy, penalty: Penalty, turnover: float | None) -> Exposure:
    notes = [penalty.description.strip()] if penalty.description else []
    share = penalty.turnover_share or 0.0
    if turnover is None:
        high = penalty.max_per_unit
        notes.append("turnover not given: the fixed cap only (the share may be higher)")
    else:
        high = max(penalty.max_per_unit, share * turnover)
        notes.append(f"turnover {turnover:,.0f} x {share:.0%} vs fixed cap")
    notes.append("one fine for the infringement as a whole, not per face")
    return Exposure(policy.id, penalty.currency, "undertaking", 1, 0.0, high,
                    penalty.citation, tuple(notes))  # fmt: skip


def _unit_for(policy: Policy, penalty: Penalty, section: str, on: date) -> tuple[str, str]:
    """The unit counted for ``section`` and a note (per-person accrual turns scans to people)."""
    amendment = effect_in_force(policy, "per-person-accrual", on)
    if (
        amendment is not None
        and penalty.unit in ("scan", "face")
        and (not amendment.sections or section in amendment.sections)
    ):
        note = f"{section}: one recovery per person ({amendment.citation})"
        if amendment.contested:
            note += f"; contested: {' '.join(amendment.contested.split())}"
        return "person", note
    if penalty.unit == "person":
        return "person", f"{section}: one violation per person at risk"
    if penalty.unit == "scan":
        return "scan", f"{section}: one violation per scan"
    return "face", f"{section}: one violation per face record captured"


def _covers(penalty: Penalty, section: str) -> bool:
    return not penalty.sections or section in penalty.sections


def estimate_exposure(
    policy: Policy,
    *,
    subjects: int,
    faces: int,
    on: date,
    scans: int | None = None,
    turnover: float | None = None,
    sections: SectionCounts | None = None,
) -> Exposure | None:
    """The range for ``policy`` on date ``on``; None when the law sets no monetary penalty.

    ``sections`` (violated section -> (faces, people)) counts each section the way the law
    does; without it every face at risk is taken to violate the consent section."""
    if min(subjects, faces, scans or 0) < 0:
        raise ValueError("counts must not be negative")
    penalties = _penalties_on(policy, on)
    if not penalties:
        return None
    if penalties[0].unit == "turnover":
        return _turnover(policy, penalties[0], turnover)
    notes: list[str] = []
    if sections is None:
        sections = {policy.consent.section: (faces, subjects)}
        notes.append(f"every face at risk is taken to violate {policy.consent.section}")
    parts: list[dict[str, object]] = []
    low = high = 0.0
    units_total = 0
    for penalty in penalties:
        if penalty.description:
            notes.append(penalty.description.strip())
        for section, (n_faces, n_people) in sorted(sections.items()):
            if not _covers(penalty, section):
                continue
            unit, note = _unit_for(policy, penalty, section, on)
            if unit == "person":
                units = n_people
            elif unit == "scan" and scans is not None and len(sections) == 1:
                units = scans
            else:
                units = n_faces
                if unit == "scan":
                    note += " (scan count not given: one scan per face assumed)"
            part = {"sections": [section], "unit": unit, "units": units,
                    "low": units * penalty.min_per_unit, "high": units * penalty.max_per_unit,
                    "citation": penalty.citation, "contingent": penalty.contingent}  # fmt: skip
            parts.append(part)
            notes.append(note if not penalty.contingent
                         else f"{note}; contingent, not added: {penalty.contingent}")  # fmt: skip
            if not penalty.contingent:
                low += units * penalty.min_per_unit
                high += units * penalty.max_per_unit
                units_total += units
    if not parts:
        return None
    counted = [p for p in parts if not p["contingent"]]
    unit_names = {str(p["unit"]) for p in counted}
    unit_name = unit_names.pop() if len(unit_names) == 1 else "mixed"
    first = penalties[0]
    if first.min_per_unit:
        notes.append(f"low: {first.min_per_unit:,.0f} per unit (negligent); "
                     f"high: {first.max_per_unit:,.0f} (intentional or reckless)")  # fmt: skip
    else:
        notes.append(f"civil penalty of up to {first.max_per_unit:,.0f} per unit; low bound 0")
    return Exposure(policy.id, first.currency, unit_name, units_total, low, high,
                    first.citation, tuple(dict.fromkeys(notes)), tuple(parts))  # fmt: skip


def estimate_exposures(
    policies: list[Policy] | tuple[Policy, ...],
    *,
    subjects: int,
    faces: int,
    on: date,
    scans: int | None = None,
    turnover: float | None = None,
    sections: SectionCounts | None = None,
) -> list[Exposure]:
    """:func:`estimate_exposure` for every law in force on ``on`` that sets a penalty."""
    found = []
    for policy in policies:
        if on < policy.in_force.starts:
            continue
        item = estimate_exposure(
            policy,
            subjects=subjects,
            faces=faces,
            on=on,
            scans=scans,
            turnover=turnover,
            sections=sections,
        )
        if item is not None:
            found.append(item)
    return found
