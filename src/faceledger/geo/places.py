"""Free-text place parsing (e.g. a Flickr owner's profile location) -> ISO code + confidence.

Example::

    >>> parse_place("Springfield, Illinois").code
    'US-IL'
    >>> parse_place("Springfield").code is None   # ambiguous: says so, does not guess
    True

Rules, in order: the last comma-separated part names a US state (name or two-letter postal
code), a country, or (with ``USA``/``US`` after it) the state before it; otherwise the whole
text is a known major city; otherwise the answer is unknown. Names in
:data:`~faceledger.geo.gazetteer.AMBIGUOUS` resolve only with a qualifying state or country.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote_plus

from faceledger.geo.gazetteer import AMBIGUOUS, CITIES, COUNTRIES, NON_PLACES
from faceledger.geo.iso import US_POSTAL, US_STATES

#: Confidence of an explicit state/country, of a known city alone.
EXPLICIT_CONFIDENCE = 0.8
CITY_CONFIDENCE = 0.7


@dataclass(frozen=True)
class PlaceGuess:
    """The parse result: ``code`` None means unknown; ``candidates`` lists ambiguous options."""

    text: str
    code: str | None
    confidence: float
    reason: str
    candidates: tuple[str, ...] = ()


def _clean(part: str) -> str:
    part = unicodedata.normalize("NFC", part).strip().lower()
    part = re.sub(r"[.\u2019']", "", part)
    return re.sub(r"\s+", " ", part)


def _region(part: str, *, raw: str) -> str | None:
    """A state or country named by one comma-separated part."""
    if part in US_STATES and part not in AMBIGUOUS:
        return f"US-{US_STATES[part]}"
    # two-letter postal codes only as typed in capitals ("IN" vs the word "in")
    if len(raw.strip()) == 2 and raw.strip().isupper() and raw.strip() in US_POSTAL:
        return f"US-{raw.strip()}"
    if part in COUNTRIES:
        return COUNTRIES[part]
    return None


def parse_place(text: str | None) -> PlaceGuess:
    """Parse one free-text location; never raises, says ``unknown`` when unsure."""
    original = text or ""
    decoded = unquote_plus(original) if ("+" in original or "%" in original) else original
    raw_parts = [p for p in re.split(r"[,;/|]| - ", decoded) if p.strip()]
    parts = [_clean(p) for p in raw_parts]
    if not parts:
        return PlaceGuess(original, None, 0.0, "unknown: empty location")
    whole = " ".join(parts)
    if whole in NON_PLACES:
        return PlaceGuess(original, None, 0.0, f"unknown: {whole!r} is not a place")

    if len(parts) >= 2:
        last, raw_last = parts[-1], raw_parts[-1]
        if COUNTRIES.get(last) == "US":
            state = _region(parts[-2], raw=raw_parts[-2])
            if parts[-2] in US_STATES:  # "Georgia, USA": the country settles the ambiguity
                state = f"US-{US_STATES[parts[-2]]}"
            if state and state.startswith("US-"):
                return PlaceGuess(original, state, EXPLICIT_CONFIDENCE, f"state {parts[-2]!r}")
            city = CITIES.get(parts[-2])
            if city and city.startswith("US-"):
                return PlaceGuess(original, city, CITY_CONFIDENCE, f"city {parts[-2]!r}")
        if last in AMBIGUOUS and len(AMBIGUOUS[last]) > 1:
            return _qualified(original, last, parts[:-1])
        region = _region(last, raw=raw_last)
        if region:
            kind = "state" if region.startswith("US-") else "country"
            return PlaceGuess(original, region, EXPLICIT_CONFIDENCE, f"{kind} {last!r}")

    if whole in CITIES:
        return PlaceGuess(original, CITIES[whole], CITY_CONFIDENCE, f"city {whole!r}")
    if whole in AMBIGUOUS:
        options = AMBIGUOUS[whole]
        if len(options) == 1:
            return PlaceGuess(original, options[0], CITY_CONFIDENCE, f"place {whole!r}")
        return PlaceGuess(
            original, None, 0.0, f"ambiguous: {whole!r} could be {', '.join(options)}", options
        )
    if len(parts) == 1:
        region = _region(parts[0], raw=raw_parts[0])
        if region:
            return PlaceGuess(original, region, EXPLICIT_CONFIDENCE, f"region {parts[0]!r}")
    if len(parts) >= 2 and parts[0] in CITIES:
        return PlaceGuess(original, CITIES[parts[0]], CITY_CONFIDENCE, f"city {parts[0]!r}")
    return PlaceGuess(original, None, 0.0, f"unknown: no known place in {original!r}")


def _qualified(original: str, ambiguous: str, context: list[str]) -> PlaceGuess:
    """Resolve e.g. "Atlanta, Georgia" / "Tbilisi, Georgia" by the city before the name."""
    options = AMBIGUOUS[ambiguous]
    for part in context:
        city = CITIES.get(part)
        if city in options:
            return PlaceGuess(original, city, EXPLICIT_CONFIDENCE, f"{part!r} in {ambiguous!r}")
    return PlaceGuess(
        original, None, 0.0, f"ambiguous: {ambiguous!r} could be {', '.join(options)}", options
    )
