"""The portal's signing secret: the ``web_secret_key`` setting or ``<data_dir>/web.key``.

Every process of one portal (``faceledger serve --workers N``, or several hosts sharing the data
folder) must hold the same secret: CSRF tokens, thumbnail links, request and owner-proof tokens
made by one process are checked by another. The key file is therefore created atomically
(written in full under a temporary name, then hard-linked into place): a process never reads a
half-written key, and when two create it at once, both end up with the one that won.
Console sessions live in the ledger (``web_sessions``), so they are shared already."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

from faceledger.config import Settings
from faceledger.errors import ConfigError
from faceledger.store.db import publish_secret_file

KEY_FILE = "web.key"


def load_secret(settings: Settings) -> bytes:
    """32+ secret bytes; the key file is created (mode 0600) on first use, refused if others
    can read it (fail closed)."""
    if settings.web_secret_key is not None:
        value = settings.web_secret_key.get_secret_value().encode()
        if len(value) < 32:
            raise ConfigError(
                "setting 'web_secret_key' (FACELEDGER_WEB_SECRET_KEY): use at least 32 characters"
            )
        return value
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by other users: chmod 600 it")
    value = path.read_text().strip().encode()
    if len(value) < 32:
        raise ConfigError(f"{path} holds too short a secret: delete it to make a new one")
    return value


def _create_key_file(path: Path) -> None:
    """Write a new secret to ``path`` unless another process already has: the file appears
    whole or not at all (``store.db.publish_secret_file``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    publish_secret_file(path, secrets.token_urlsafe(48).encode())
