"""Exposure estimates: BIPA per scan before SB 2979 and per person after; CUBI; GDPR turnover."""

from __future__ import annotations

from datetime import date

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
