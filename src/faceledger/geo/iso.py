"""ISO 3166 helpers: US state names and postal codes, Natural Earth ``-99`` repair.

Example::

    >>> us_state_code("Illinois")
    'US-IL'
    >>> country_code({"iso_a2": "-99", "adm0_a3": "KOS", "name": "Kosovo"})
    'XK'

Natural Earth writes ``-99`` in ``iso_a2`` for France and Norway (110m), Kosovo, N. Cyprus,
Somaliland and a few territories; :func:`country_code` falls back to ``adm0_a3`` and then to
the name. ``None`` means "no ISO code we are willing to assert" (e.g. Siachen Glacier).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

US_STATES: dict[str, str] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "puerto rico": "PR", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
}  # fmt: skip
US_POSTAL: frozenset[str] = frozenset(US_STATES.values())

_ADM0_TO_A2 = {
    "FRA": "FR", "NOR": "NO", "KOS": "XK", "CYN": "CY", "SOL": "SO", "ATC": "AU",
    "IOA": "AU", "SAH": "EH", "PSX": "PS", "TWN": "TW",
}  # fmt: skip
_NAME_TO_A2 = {"france": "FR", "norway": "NO", "kosovo": "XK", "n. cyprus": "CY",
               "somaliland": "SO", "taiwan": "TW"}  # fmt: skip

_CODE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


def us_state_code(name: str) -> str | None:
    """``'Illinois'`` -> ``'US-IL'``; None for anything else."""
    postal = US_STATES.get(name.strip().lower())
    return f"US-{postal}" if postal else None


def country_code(properties: Mapping[str, object]) -> str | None:
    """ISO 3166-1 alpha-2 of a Natural Earth feature, repairing ``-99`` codes."""
    lowered = {key.lower(): value for key, value in properties.items()}
    iso = str(lowered.get("iso_a2") or "").upper()
    if len(iso) == 2 and iso.isalpha():
        return iso
    adm0 = str(lowered.get("adm0_a3") or "").upper()
    if adm0 in _ADM0_TO_A2:
        return _ADM0_TO_A2[adm0]
    name = str(lowered.get("name") or lowered.get("admin") or "").lower()
    return _NAME_TO_A2.get(name)


def is_iso_code(code: str) -> bool:
    """True for ``DE``, ``GB``, ``US-IL`` shapes (upper case only)."""
    return bool(_CODE.match(code))


def country_of(code: str) -> str:
    """``'US-IL'`` -> ``'US'``; ``'DE'`` -> ``'DE'``."""
    return code.split("-", 1)[0]
