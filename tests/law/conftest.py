"""Shared fixtures for the law engine tests: the shipped policies, loaded once."""

from __future__ import annotations

import pytest

from faceledger.core.law import Policy, load_policies


@pytest.fixture(scope="session")
def policies() -> list[Policy]:
    return load_policies()
