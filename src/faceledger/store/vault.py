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

from faceledger.errors import ConfigError, KeyShredded, TamperedCiphertext
from faceledger.store.db import create_private_file, ensure_private_dir, publish_secret_file

if TYPE_CHECKING:
    from faceledger.config import Settings

MASTER_ENV = "FACELEDGER_MASTER_KEY"  # named in error messages
_NONCE = 12


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
    ensure_private_dir(data_dir)
    if not path.exists():  # appears whole or not at all: a racing reader never sees half a key
        publish_secret_file(path, base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
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
        self._generation: int | None = None  # the shred generation the cached keys are valid for
        self._reader: sqlite3.Connection | None = None
        self._reader_pid = 0
        ensure_private_dir(path.parent)
        create_private_file(path)  # 0600: its -journal gets the same mode
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS data_keys (ref TEXT PRIMARY KEY, wrapped BLOB NOT NULL,"
                " created_at TEXT NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vault_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
            )
            conn.execute(
                "INSERT OR IGNORE INTO vault_meta (name, value) VALUES ('shred_generation', 0)"
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

    @staticmethod
    def _read_generation(conn: sqlite3.Connection) -> int:
        row = conn.execute(
            "SELECT value FROM vault_meta WHERE name = 'shred_generation'"
        ).fetchone()
        return int(row[0]) if row else 0

    def _reader_conn(self) -> sqlite3.Connection:
        """One read connection per process (cheap generation checks; reopened after a fork)."""
        if self._reader is None or self._reader_pid != os.getpid():
            self._reader = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._reader_pid = os.getpid()
        return self._reader

    def _drop_if_shredded(self) -> None:
        """Forget every cached key when any process shredded a key since they were read (the
        vault's shred generation moved): a shred elsewhere reaches this process on next use."""
        if self._cache and self._read_generation(self._reader_conn()) != self._generation:
            self._cache.clear()

    def holds(self, ref: str) -> bool:
        """Whether this process has ``ref``'s data key in memory right now."""
        with self._lock:
            return ref in self._cache

    def forget(self) -> None:
        """Drop every cached data key (the portal does so after each request)."""
        with self._lock:
            self._cache.clear()

    def _cipher(self, ref: str, *, create: bool) -> AESGCM:
        with self._lock:
            self._drop_if_shredded()
            if ref in self._cache:
                return self._cache[ref]
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                generation = self._read_generation(conn)
                if generation != self._generation:
                    self._cache.clear()
                    self._generation = generation
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
            return (
                conn.execute("SELECT 1 FROM data_keys WHERE ref = ?", (ref,)).fetchone() is not None
            )

    def encrypt(self, ref: str, plaintext: bytes, *, aad: bytes) -> bytes:
        """``nonce || ciphertext`` under the subject's data key (created on first use)."""
        nonce = os.urandom(_NONCE)
        return nonce + self._cipher(ref, create=True).encrypt(nonce, plaintext, aad)

    def decrypt(self, ref: str, blob: bytes, *, aad: bytes) -> bytes:
        try:
            return self._cipher(ref, create=False).decrypt(blob[:_NONCE], blob[_NONCE:], aad)
        except InvalidTag:
            raise TamperedCiphertext(
                f"a template of {ref} does not authenticate ({aad!r})"
            ) from None

    def shred(self, ref: str) -> bool:
        """Destroy the subject's data key; True if there was one. Irreversible. The vault's
        shred generation moves in the same transaction, so every process drops its cached
        keys on next use."""
        with self._lock:
            self._cache.pop(ref, None)
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                deleted = conn.execute("DELETE FROM data_keys WHERE ref = ?", (ref,)).rowcount
                if deleted:
                    conn.execute(
                        "UPDATE vault_meta SET value = value + 1 WHERE name = 'shred_generation'"
                    )
                conn.execute("COMMIT")
            finally:
                conn.close()
            return bool(deleted)
