"""Date arithmetic and retention clocks (destroy-by dates).

Example::

    >>> add_months(date(2024, 2, 29), 12)
    datetime.date(2025, 2, 28)
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from faceledger.core.law.model import Scenario
from faceledger.core.law.schema import Clock, RetentionRule


def add_months(start: date, months: int) -> date:
    """``start`` plus whole months, clamping the day to the month's end."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _start(scenario: Scenario, clock: Clock) -> tuple[date | None, str]:
    if clock.start == "purpose_fulfilled":
        return scenario.purpose_fulfilled, "purpose fulfilled"
    if clock.start == "collected":
        return scenario.collected, "collected"
    if clock.start == "last_interaction":
        if scenario.last_interaction is not None:
            return scenario.last_interaction, "last interaction"
        # no recorded interaction (scraped photos): the collection date is the conservative proxy
        return scenario.collected, "collected (no last interaction recorded)"
    revoked = [
        c.revoked
        for c in scenario.consents
        if c.revoked is not None and c.covers(scenario.purpose) and c.revoked <= scenario.on
        and c.kind == "consent"  # withdrawing a sale authorization is not a deletion request
    ]  # fmt: skip
    return (min(revoked) if revoked else None), "consent revoked"


def destroy_by(scenario: Scenario, rule: RetentionRule | None) -> tuple[date | None, str]:
    """The earliest date any clock of ``rule`` reaches, and a sentence saying which."""
    if rule is None or not rule.clocks:
        return None, ""
    best: tuple[date, str] | None = None
    for clock in rule.clocks:
        start, label = _start(scenario, clock)
        if start is None:
            continue
        due = add_months(start, clock.months) + timedelta(days=clock.days)
        span = []
        if clock.months:
            span.append(f"{clock.months} months")
        if clock.days:
            span.append(f"{clock.days} days")
        text = f"{label} {start.isoformat()}" + (f" + {' + '.join(span)}" if span else "")
        if best is None or due < best[0]:
            best = (due, text)
    if best is None:
        return None, "no retention clock has a start date in the scenario"
    return best[0], f"destroy by {best[0].isoformat()} ({best[1]}; {rule.section})"
