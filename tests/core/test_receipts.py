"""Receipts can always be typed on a command line."""

from __future__ import annotations

from unittest import mock

from faceledger.core.receipts import new_receipt


def test_given_a_token_with_a_leading_dash_then_the_receipt_does_not_start_with_one() -> None:
    with mock.patch("faceledger.core.receipts.secrets.token_urlsafe", return_value="-abc"):
        receipt = new_receipt()
    assert not receipt.startswith("-") and receipt.endswith("abc") and len(receipt) == 4


def test_receipts_are_url_safe_and_distinct() -> None:
    receipts = {new_receipt() for _ in range(2_000)}
    assert len(receipts) == 2_000
    assert all(not r.startswith("-") and len(r) == 32 for r in receipts)
    assert all(
        set(r) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for r in receipts
    )
