"""The portal's signing secret: the ``web_secret_key`` setting or ``<data_dir>/web.key``."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from faceledger.config import Settings
from faceledger.errors import ConfigError

KEY_FILE = "web.key"


def load_secret(settings: Settings) -> bytes:
    """32+ secret bytes; the key file is created (mode 0600) on first use, refused if others
    can read it (fail closed)."""
    if settings.web_secret_key is not None:
        value = settings.web_secret_key.get_secret_value().encode()
        if len(value) < 32:
            raise ConfigError("setting 'web_secret_key' (FACELEDGER_WEB_SECRET_KEY): use at least 32 characters")
        return value
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by other users: chmod 600 it")
    value = path.read_text().strip().encode()
    if len(value) < 32:
        raise ConfigError(f"{path} holds too short a secret: delete it to make a new one")
    return value
