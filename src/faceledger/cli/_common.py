"""Shared CLI plumbing: lazily built settings and ledger, JSON output, common options."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from faceledger.config import Settings
    from faceledger.store import Ledger
    from faceledger.store.vault import KeyVault


@dataclass
class CliState:
    """What the top-level group hands to its commands. Settings are built on first use."""

    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _ledger: Ledger | None = None
    _vault: KeyVault | None = None

    def settings(self, **more: Any) -> Settings:
        from faceledger.config import load_settings

        if self._settings is None or more:
            self._settings = load_settings(**{**self.overrides, **more})
        return self._settings

    def ledger(self) -> Ledger:
        from faceledger.store import open_ledger

        if self._ledger is None:
            self._ledger = open_ledger(self.settings().database_url)
        return self._ledger

    def close(self) -> None:
        """Release the ledger's connections when the command ends."""
        if self._ledger is not None:
            self._ledger.dispose()
            self._ledger = None

    def vault(self) -> KeyVault:
        from faceledger.store.vault import KeyVault

        if self._vault is None:
            self._vault = KeyVault.open(self.settings())
        return self._vault


def echo_json(document: Any) -> None:
    """Write one JSON document to stdout."""
    json.dump(document, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A click callback: ``YYYY-MM-DD`` -> ``date`` (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None
