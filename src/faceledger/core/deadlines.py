"""Legal deadlines for requests from people: "1 month" (GDPR Art. 12(3)), "45 days" (CPRA).

Pure: no clock, no I/O. Example::

    deadline(date(2025, 1, 31), "1 month")   # date(2025, 2, 28): the month's last day
    deadline(date(2025, 1, 31), "45 days")   # date(2025, 3, 17)
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

_TERM = re.compile(r"^\s*(\d{1,4})\s*(day|days|month|months)\s*$")


def parse_term(term: str, law: str = "term") -> tuple[int, str]:
    """``(n, "days" | "months")`` for a term like ``"45 days"``; ValueError naming ``law``."""
    match = _TERM.match(term)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"{law}: {term!r} is not a term like '45 days' or '1 month'")
    unit = match.group(2)
    return int(match.group(1)), unit if unit.endswith("s") else unit + "s"


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day when it is shorter."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def deadline(received: date, term: str) -> date:
    """The last day to answer a request received on ``received`` under ``term``."""
    count, unit = parse_term(term)
    if unit == "months":
        return add_months(received, count)
    return received + timedelta(days=count)
