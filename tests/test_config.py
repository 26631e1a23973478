from __future__ import annotations

import re
from pathlib import Path

import pytest

from faceledger.config import documented_settings, load_settings
from faceledger.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_defaults_need_no_configuration() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///faceledger.db"
    assert settings.workers >= 1
    assert 0 < settings.detector_threshold < 1


def test_precedence_flags_over_env_over_toml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "faceledger.toml").write_text(
        'workers = 3\ndetector_threshold = 0.6\ndata_dir = "d"\n'
    )
    assert load_settings().workers == 3
    monkeypatch.setenv("FACELEDGER_WORKERS", "5")
    settings = load_settings()
    assert settings.workers == 5
    assert settings.detector_threshold == 0.6
    assert settings.data_dir == Path("d")
    assert load_settings(workers=7).workers == 7
    assert load_settings(workers=None).workers == 5  # an unset flag does not mask the env


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("FACELEDGER_WORKERS", "0", "workers"),
        ("FACELEDGER_WORKERS", "two", "workers"),
        ("FACELEDGER_DETECTOR_THRESHOLD", "1.5", "detector_threshold"),
        ("FACELEDGER_DATABASE_URL", "mysql://x", "database_url"),
    ],
)
def test_bad_values_fail_closed_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "faceledger.toml").write_text("wokers = 2\n")
    with pytest.raises(ConfigError, match="wokers"):
        load_settings()


def test_unparseable_toml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "faceledger.toml").write_text("workers = = 2\n")
    with pytest.raises(ConfigError, match="configuration"):
        load_settings()


def test_missing_explicit_config_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACELEDGER_CONFIG", "/nonexistent/faceledger.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_every_setting_has_help_and_a_docs_entry() -> None:
    docs = (REPO / "docs" / "settings.md").read_text()
    for name, help_text in documented_settings().items():
        assert help_text, f"setting {name} has no help text"
        assert re.search(rf"`{name}`", docs), f"setting {name} is missing from docs/settings.md"
        assert f"FACELEDGER_{name.upper()}" in docs
