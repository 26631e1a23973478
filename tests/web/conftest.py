"""Web fixtures: a ledger holding the bundled sample photos (metadata and local files, no
scan), a portal app over it, console users, and helpers for forms with CSRF tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_backends: also run this web test on PostgreSQL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Web tests run on SQLite; those marked ``both_backends`` (the request lifecycle through
    the portal) also on PostgreSQL. The services below are tested on both already."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("ledger_url") == "postgresql"
        in_web = HERE in Path(str(item.fspath)).resolve().parents
        if in_web and on_postgres and item.get_closest_marker("both_backends") is None:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def web_settings(tmp_path: Path, ledger_url: str) -> Any:
    from faceledger.config import load_settings

    return load_settings(
        database_url=ledger_url, data_dir=tmp_path / "data", workers=1, processor_location="US-FL",
        retention_limit_days=1095,
        web_rate_limit=100_000, web_rate_burst=100_000, web_flickr_profiles=tmp_path / "profiles.json",
        web_trusted_hosts=["127.0.0.1", "testserver"],  # TestClient's default host
    )  # fmt: skip


@pytest.fixture
def corpus(ledger: Any) -> Any:
    """The ledger with examples/photos.csv ingested (10 photos, 10 owners, tags, licences)."""
    from faceledger.services.collection.ingest import ingest_paths

    ingest_paths(ledger, [EXAMPLES / "photos.csv"])
    return ledger


@pytest.fixture
def app(corpus: Any, web_settings: Any) -> Any:
    from faceledger.web import create_app

    return create_app(web_settings, ledger=corpus)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def admin_token(corpus: Any) -> str:
    from faceledger.services.portal.users import add_user

    return add_user(corpus, "ada", role="admin")[1]


@pytest.fixture
def reviewer_token(corpus: Any) -> str:
    from faceledger.services.portal.users import add_user

    return add_user(corpus, "rev", role="reviewer")[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def write_profiles(settings: Any, profiles: dict[str, str]) -> None:
    Path(settings.web_flickr_profiles).write_text(json.dumps(profiles))


def console_login(client: Any, name: str, token: str) -> str:
    """Log in through the page; returns the session's CSRF token."""
    page = client.get("/console/login")
    response = client.post(
        "/console/login", data={"name": name, "token": token, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/console").text)


@pytest.fixture
def web() -> Any:
    """The helpers above, as a fixture (test modules cannot import conftest by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        bearer=bearer,
        csrf_from=csrf_from,
        write_profiles=write_profiles,
        console_login=console_login,
    )
