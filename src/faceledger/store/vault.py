"""The key vault: one AES-256 data key per subject, wrapped by a master key, kept *outside*
the ledger database so that destroying a key (crypto-shredding) reaches every copy.

Example::

    vault = KeyVault.open(settings)
    blob = vault.encrypt("subj-3f9a", b"...template...", aad=b"face:12:embedding")
    vault.decrypt("subj-3f9a", blob, aad=b"face:12:embedding")
    vault.shred("subj-3f9a")        # from now on that subject's templates cannot be read,
                                    # in the live ledger, in its backups and in any dump

Why a separate store: the ledger (SQLite or PostgreSQL) holds only ciphertext. Its backups and
dumps therefore hold only ciphertext too. The vault is a small SQLite file
(``<data_dir>/keyvault.db``) with ``secure_delete`` on and no WAL, so a shredded key's bytes
are overwritten on disk, not merely unlinked. Back the vault up, if at all, with retention
shorter than your erasure deadline: a vault backup is the one copy that can undo a shred.

The master key comes from the ``master_key`` setting (``FACELEDGER_MASTER_KEY``, base64 of
32 bytes) or from
``<data_dir>/master.key``, created on first use with mode 0600. A key file readable by group or
others is refused (fail closed).
"""

from __future__ import annotations

import base64
import binascii
import os
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from faceledger.errors import ConfigError, FaceledgerError

if TYPE_CHECKING:
    from faceledger.config import Settings

MASTER_ENV = "FACELEDGER_MASTER_KEY"  # named in error messages
_NONCE = 12


class KeyShredded(FaceledgerError):
    """The subject's data key was destroyed: its templates can never be read again."""


class TamperedCiphertext(FaceledgerError):
    """A template's ciphertext or its binding (face, kind, model) does not authenticate."""


def load_master_key(data_dir: Path, encoded: str | None = None) -> bytes:
    """The 32-byte master key: ``encoded`` (the ``master_key`` setting) or the key file."""
    if encoded:
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"setting 'master_key' ({MASTER_ENV}) is not valid base64") from None
        if len(key) != 32:
            raise ConfigError(
                f"setting 'master_key' ({MASTER_ENV}) must decode to 32 bytes, not {len(key)}"
            )
        return key
    path = data_dir / "master.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}` and retry"
        )
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{path} does not hold a base64 master key") from None
    if len(key) != 32:
        raise ConfigError(f"{path} must hold 32 bytes of key, not {len(key)}")
    return key


class KeyVault:
    """Per-subject data keys in ``path``, wrapped (AES-256-GCM) by ``master_key``."""

    def __init__(self, path: Path, master_key: bytes) -> None:
        self.path = path
        self._master = AESGCM(master_key)
        self._lock = threading.Lock()
        self._cache: dict[str, AESGCM] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS data_keys (ref TEXT PRIMARY KEY, wrapped BLOB NOT NULL,"
                " created_at TEXT NOT NULL)"
            )

    @classmethod
    def open(cls, settings: Settings) -> KeyVault:
        secret = settings.master_key.get_secret_value() if settings.master_key else None
        return cls(settings.data_dir / "keyvault.db", load_master_key(settings.data_dir, secret))

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA secure_delete=ON")
        return conn

    def _cipher(self, ref: str, *, create: bool) -> AESGCM:
        with self._lock:
            if ref in self._cache:
                return self._cache[ref]
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute("SELECT wrapped FROM data_keys WHERE ref = ?", (ref,)).fetchone()
                if row is None:
                    if not create:
                        conn.execute("ROLLBACK")
                        raise KeyShredded(f"no data key for {ref}: it was shredded or never made")
                    key = AESGCM.generate_key(bit_length=256)
                    nonce = os.urandom(_NONCE)
                    wrapped = nonce + self._master.encrypt(nonce, key, ref.encode())
                    conn.execute(
                        "INSERT INTO data_keys (ref, wrapped, created_at) VALUES (?, ?, ?)",
                        (ref, wrapped, datetime.now(UTC).isoformat()),
                    )
                else:
                    wrapped = row[0]
                    try:
                        key = self._master.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], ref.encode())
                    except InvalidTag:
                        conn.execute("ROLLBACK")
                        raise ConfigError(
                            f"the master key cannot unwrap the data key of {ref}: wrong master key"
                        ) from None
                conn.execute("COMMIT")
            finally:
                conn.close()
            cipher = AESGCM(key)
            self._cache[ref] = cipher
            return cipher

    def has_key(self, ref: str) -> bool:
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM data_keys WHERE ref = ?", (ref,)).fetchone() is not None

    def encrypt(self, ref: str, plaintext: bytes, *, aad: bytes) -> bytes:
        """``nonce || ciphertext`` under the subject's data key (created on first use)."""
        nonce = os.urandom(_NONCE)
        return nonce + self._cipher(ref, create=True).encrypt(nonce, plaintext, aad)

    def decrypt(self, ref: str, blob: bytes, *, aad: bytes) -> bytes:
        try:
            return self._cipher(ref, create=False).decrypt(blob[:_NONCE], blob[_NONCE:], aad)
        except InvalidTag:
            raise TamperedCiphertext(f"a template of {ref} does not authenticate ({aad!r})") from None

    def shred(self, ref: str) -> bool:
        """Destroy the subject's data key; True if there was one. Irreversible."""
        with self._lock:
            self._cache.pop(ref, None)
            conn = self._connect()
            try:
                deleted = conn.execute("DELETE FROM data_keys WHERE ref = ?", (ref,)).rowcount
            finally:
                conn.close()
            return bool(deleted)
