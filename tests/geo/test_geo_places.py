"""Free-text place parsing: explicit states and countries resolve, ambiguity says unknown."""

from __future__ import annotations

import pytest

from faceledger.geo import parse_place


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Chicago, IL", "US-IL"),
        ("Springfield, Illinois", "US-IL"),
        ("Springfield, MO", "US-MO"),
        ("Berlin, Germany", "DE"),
        ("NYC", "US-NY"),
        ("Austin, Texas, USA", "US-TX"),
        ("Seattle, Washington", "US-WA"),
        ("Washington, DC", "US-DC"),
        ("Atlanta, Georgia", "US-GA"),
        ("Tbilisi, Georgia", "GE"),
        ("Georgia, USA", "US-GA"),
        ("London, UK", "GB"),
        ("Paris, France", "FR"),
        ("New+York%2C+NY", "US-NY"),
        ("Illinois", "US-IL"),
        ("Chicago", "US-IL"),
    ],
)
def test_place_text_resolves(text: str, code: str) -> None:
    guess = parse_place(text)
    assert guess.code == code, guess
    assert 0.5 <= guess.confidence <= 0.9


@pytest.mark.parametrize(
    "text",
    [
        "Springfield",
        "Portland",
        "Georgia",
        "Paris",
        "Washington",
        "Earth",
        "",
        None,
        "in the woods",
        "Somewhere over the rainbow",
    ],  # fmt: skip
)
def test_ambiguous_or_unknown_text_is_unknown_not_a_guess(text: str | None) -> None:
    guess = parse_place(text)
    assert guess.code is None and guess.confidence == 0.0
    assert guess.reason.startswith(("ambiguous", "unknown"))


def test_ambiguous_names_list_their_candidates() -> None:
    assert set(parse_place("Springfield").candidates) >= {"US-IL", "US-MO"}


def test_lower_case_in_is_not_indiana() -> None:
    assert parse_place("living in").code is None
