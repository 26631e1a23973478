"""A small bundled gazetteer: country names, a few major cities, ambiguous names.

Example::

    >>> COUNTRIES["germany"]
    'DE'
    >>> CITIES["nyc"]
    'US-NY'

Deliberately small: the parser says "unknown" for anything not here rather than guessing.
Names are lower case, without punctuation.
"""

from __future__ import annotations

COUNTRIES: dict[str, str] = {
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US",
    "america": "US", "canada": "CA", "mexico": "MX", "brazil": "BR", "argentina": "AR",
    "chile": "CL", "colombia": "CO", "peru": "PE", "united kingdom": "GB", "uk": "GB",
    "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "ireland": "IE", "france": "FR", "germany": "DE",
    "deutschland": "DE", "spain": "ES", "espana": "ES", "españa": "ES", "portugal": "PT",
    "italy": "IT", "italia": "IT", "netherlands": "NL", "the netherlands": "NL",
    "holland": "NL", "belgium": "BE", "luxembourg": "LU", "switzerland": "CH",
    "austria": "AT", "denmark": "DK", "sweden": "SE", "norway": "NO", "finland": "FI",
    "iceland": "IS", "poland": "PL", "czech republic": "CZ", "czechia": "CZ",
    "slovakia": "SK", "hungary": "HU", "romania": "RO", "bulgaria": "BG", "greece": "GR",
    "croatia": "HR", "slovenia": "SI", "estonia": "EE", "latvia": "LV", "lithuania": "LT",
    "malta": "MT", "cyprus": "CY", "liechtenstein": "LI", "serbia": "RS", "kosovo": "XK",
    "ukraine": "UA", "russia": "RU", "turkey": "TR", "israel": "IL", "egypt": "EG",
    "south africa": "ZA", "nigeria": "NG", "kenya": "KE", "tanzania": "TZ", "morocco": "MA",
    "india": "IN", "pakistan": "PK", "china": "CN", "hong kong": "HK", "taiwan": "TW",
    "japan": "JP", "south korea": "KR", "korea": "KR", "singapore": "SG",
    "malaysia": "MY", "thailand": "TH", "vietnam": "VN", "indonesia": "ID",
    "philippines": "PH", "australia": "AU", "new zealand": "NZ",
}  # fmt: skip

#: Unambiguous major cities (as Flickr users write them) -> ISO code.
CITIES: dict[str, str] = {
    "nyc": "US-NY", "new york city": "US-NY", "manhattan": "US-NY", "brooklyn": "US-NY",
    "chicago": "US-IL", "los angeles": "US-CA", "san francisco": "US-CA", "sf": "US-CA",
    "seattle": "US-WA", "boston": "US-MA", "houston": "US-TX", "dallas": "US-TX",
    "austin": "US-TX", "denver": "US-CO", "atlanta": "US-GA", "philadelphia": "US-PA",
    "miami": "US-FL", "washington dc": "US-DC", "washington d c": "US-DC",
    "london": "GB", "berlin": "DE", "munich": "DE", "münchen": "DE", "hamburg": "DE",
    "madrid": "ES", "barcelona": "ES", "rome": "IT", "milan": "IT", "amsterdam": "NL",
    "brussels": "BE", "vienna": "AT", "wien": "AT", "stockholm": "SE", "copenhagen": "DK",
    "oslo": "NO", "helsinki": "FI", "dublin": "IE", "lisbon": "PT", "warsaw": "PL",
    "prague": "CZ", "budapest": "HU", "athens": "GR", "toronto": "CA", "montreal": "CA",
    "vancouver": "CA", "tokyo": "JP", "kyoto": "JP", "beijing": "CN", "shanghai": "CN",
    "sydney": "AU", "melbourne": "AU", "tbilisi": "GE",
}  # fmt: skip

#: Names that mean different places; alone they resolve to "ambiguous", never a guess.
AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "springfield": ("US-IL", "US-MO", "US-MA", "US-OH", "US-OR"),
    "portland": ("US-OR", "US-ME"),
    "georgia": ("US-GA", "GE"),
    "washington": ("US-WA", "US-DC"),
    "kansas city": ("US-MO", "US-KS"),
    "paris": ("FR", "US-TX"),
    "cambridge": ("GB", "US-MA"),
    "birmingham": ("GB", "US-AL"),
    "columbia": ("US-SC", "US-MO", "US-MD"),
    "new york": ("US-NY",),  # city or state: the same ISO code either way
}

#: Texts that are clearly not places.
NON_PLACES = frozenset({"earth", "the internet", "internet", "here", "everywhere", "world",
                        "home", "somewhere", "nowhere", "planet earth"})  # fmt: skip
