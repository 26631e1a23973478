"""Statutory exposure estimates: per law, the range a set of faces at risk could cost.

Example::

    exposure = estimate_exposure(policy, subjects=1200, faces=3400, scans=5100,
                                 on=date(2025, 1, 1))
    exposure.low, exposure.high, exposure.assumptions

Not a prediction of damages: it multiplies the statute's per-unit amounts by counts and
says which assumptions it made (the unit counted, negligent vs intentional, turnover).
BIPA counts scans before SB 2979 (2 Aug 2024, Cothron) and people after; CUBI counts each
face record as one violation; GDPR and the AI Act cap fines at the higher of a fixed sum and
a share of worldwide turnover.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from faceledger.core.law.schema import Penalty, Policy


@dataclass(frozen=True)
class Exposure:
    """One law's statutory range. ``units`` is the count multiplied (people, scans, faces)."""

    law_id: str
    currency: str
    unit: str
    units: int
    low: float
    high: float
    citation: str
    assumptions: tuple[str, ...]

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
        }


def _penalty_on(policy: Policy, on: date) -> Penalty | None:
    for penalty in policy.enforcement.penalties:
        if penalty.starts is not None and on < penalty.starts:
            continue
        if penalty.until is not None and on >= penalty.until:
            continue
        return penalty
    return None


def estimate_exposure(
    policy: Policy,
    *,
    subjects: int,
    faces: int,
    on: date,
    scans: int | None = None,
    turnover: float | None = None,
) -> Exposure | None:
    """The range for ``policy`` on date ``on``; None when the law sets no monetary penalty."""
    if min(subjects, faces, scans or 0) < 0:
        raise ValueError("counts must not be negative")
    penalty = _penalty_on(policy, on)
    if penalty is None:
        return None
    notes = [penalty.description.strip()] if penalty.description else []
    if penalty.unit == "turnover":
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
    if penalty.unit == "person":
        units = subjects
        notes.append("one violation per person at risk")
    elif penalty.unit == "scan":
        units = scans if scans is not None else faces
        notes.append(
            "one violation per scan" if scans is not None
            else "scan count not given: one scan per face assumed"
        )  # fmt: skip
    else:
        units = faces
        notes.append("one violation per face record captured")
    low = units * penalty.min_per_unit
    if penalty.min_per_unit:
        notes.append(f"low: {penalty.min_per_unit:,.0f} per unit (negligent); "
                     f"high: {penalty.max_per_unit:,.0f} (intentional or reckless)")  # fmt: skip
    else:
        notes.append(f"civil penalty of up to {penalty.max_per_unit:,.0f} per unit; low bound 0")
    return Exposure(policy.id, penalty.currency, penalty.unit, units, low,
                    units * penalty.max_per_unit, penalty.citation, tuple(notes))  # fmt: skip


def estimate_exposures(
    policies: list[Policy] | tuple[Policy, ...],
    *,
    subjects: int,
    faces: int,
    on: date,
    scans: int | None = None,
    turnover: float | None = None,
) -> list[Exposure]:
    """:func:`estimate_exposure` for every law in force on ``on`` that sets a penalty."""
    found = []
    for policy in policies:
        if on < policy.in_force.starts:
            continue
        item = estimate_exposure(
            policy, subjects=subjects, faces=faces, on=on, scans=scans, turnover=turnover
        )
        if item is not None:
            found.append(item)
    return found
