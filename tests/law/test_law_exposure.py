"""Exposure estimates: BIPA per scan before SB 2979 and per person after; CUBI; GDPR turnover."""

from __future__ import annotations

from datetime import date

import pytest

from faceledger.core.law import Policy, estimate_exposure, estimate_exposures


def _law(policies: list[Policy], law_id: str) -> Policy:
    return {p.id: p for p in policies}[law_id]


def test_bipa_before_sb2979_counts_scans(policies: list[Policy]) -> None:
    bipa = _law(policies, "us-il-bipa")
    got = estimate_exposure(bipa, subjects=10, faces=30, scans=90, on=date(2024, 1, 1))
    assert got is not None and got.unit == "scan" and got.units == 90
    assert (got.low, got.high) == (90_000, 450_000)


def test_bipa_after_sb2979_counts_people(policies: list[Policy]) -> None:
    bipa = _law(policies, "us-il-bipa")
    got = estimate_exposure(bipa, subjects=10, faces=30, scans=90, on=date(2024, 8, 2))
    assert got is not None and got.unit == "person" and (got.low, got.high) == (10_000, 50_000)
    assert any("per person" in a for a in got.assumptions)


def test_bipa_scan_count_missing_assumes_one_per_face(policies: list[Policy]) -> None:
    got = estimate_exposure(_law(policies, "us-il-bipa"), subjects=1, faces=7,
                            on=date(2023, 1, 1))  # fmt: skip
    assert got is not None and got.units == 7 and "one scan per face" in " ".join(got.assumptions)


def test_cubi_up_to_25000_per_violation(policies: list[Policy]) -> None:
    got = estimate_exposure(_law(policies, "us-tx-cubi"), subjects=2, faces=5,
                            on=date(2025, 1, 1))  # fmt: skip
    assert got is not None and (got.low, got.high) == (0, 125_000)


def test_gdpr_turnover_share_when_turnover_given(policies: list[Policy]) -> None:
    gdpr = _law(policies, "eu-gdpr")
    big = estimate_exposure(gdpr, subjects=1, faces=1, on=date(2025, 1, 1), turnover=1e10)
    small = estimate_exposure(gdpr, subjects=1, faces=1, on=date(2025, 1, 1), turnover=1e6)
    unknown = estimate_exposure(gdpr, subjects=1, faces=1, on=date(2025, 1, 1))
    assert big is not None and big.high == 4e8
    assert small is not None and small.high == 20_000_000
    assert unknown is not None and "turnover not given" in " ".join(unknown.assumptions)


def test_exposures_skip_laws_not_in_force(policies: list[Policy]) -> None:
    ids = {e.law_id for e in estimate_exposures(policies, subjects=1, faces=1,
                                                on=date(2020, 1, 1))}  # fmt: skip
    assert "us-il-bipa" in ids and "eu-ai-act" not in ids and "us-co-biometric" not in ids


def test_bipa_after_sb2979_counts_people_only_for_15b_and_15d(policies: list[Policy]) -> None:
    bipa = _law(policies, "us-il-bipa")
    got = estimate_exposure(bipa, subjects=10, faces=30, on=date(2025, 1, 1),
                            sections={"15(b)": (30, 10), "15(a)": (30, 10), "15(c)": (4, 2)})  # fmt: skip
    assert got is not None and got.unit == "mixed"
    units = {p["sections"][0]: (p["unit"], p["units"]) for p in got.parts}
    assert units == {"15(a)": ("scan", 30), "15(b)": ("person", 10), "15(c)": ("scan", 4)}
    assert (got.low, got.high) == (44_000, 220_000)
    assert any("contested" in a and "pending" in a for a in got.assumptions)


def test_bipa_before_sb2979_counts_every_section_per_scan(policies: list[Policy]) -> None:
    got = estimate_exposure(_law(policies, "us-il-bipa"), subjects=10, faces=30,
                            on=date(2024, 1, 1), sections={"15(b)": (30, 10), "15(d)": (5, 2)})  # fmt: skip
    assert got is not None and got.unit == "scan" and got.units == 35


def test_no_violated_section_means_no_exposure(policies: list[Policy]) -> None:
    got = estimate_exposure(_law(policies, "us-il-bipa"), subjects=1, faces=1,
                            on=date(2025, 1, 1), sections={})  # fmt: skip
    assert got is None


def test_ai_act_fines_only_from_august_2025(policies: list[Policy]) -> None:
    ai = _law(policies, "eu-ai-act")
    assert estimate_exposure(ai, subjects=1, faces=1, on=date(2025, 5, 1)) is None
    got = estimate_exposure(ai, subjects=1, faces=1, on=date(2025, 8, 2), turnover=1e10)
    assert got is not None and got.high == pytest.approx(7e8)


def test_ccpa_penalties_are_cpi_adjusted_and_breach_damages_listed_not_added(
    policies: list[Policy],
) -> None:
    ccpa = _law(policies, "us-ca-cpra")
    old = estimate_exposure(ccpa, subjects=10, faces=12, on=date(2024, 6, 1))
    new = estimate_exposure(ccpa, subjects=10, faces=12, on=date(2025, 6, 1))
    assert old is not None and old.high == 75_000
    assert new is not None and new.high == 79_880
    breach = [p for p in new.parts if p["contingent"]]
    assert breach and breach[0]["high"] == 7_500 and "1798.150" in str(breach[0]["citation"])
    assert estimate_exposure(ccpa, subjects=1, faces=1, on=date(2021, 1, 1)) is not None


def test_mhmda_adds_the_attorney_general_penalty(policies: list[Policy]) -> None:
    got = estimate_exposure(_law(policies, "us-wa-mhmda"), subjects=2, faces=3,
                            on=date(2025, 1, 1))  # fmt: skip
    assert got is not None and (got.low, got.high) == (0, 2 * 25_000 + 2 * 7_500)
    assert any("must prove injury" in a for a in got.assumptions)
