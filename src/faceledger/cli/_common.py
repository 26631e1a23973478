"""Shared CLI plumbing: lazily built settings and ledger, JSON output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
