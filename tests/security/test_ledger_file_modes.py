"""Finding 13: the ledger, its WAL and the key vault are created 0600, the data folder 0700,
whatever the umask (before the fix they were 0644 and 0755 under the usual umask 022)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from faceledger.config import load_settings
from faceledger.store import open_ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.vault import KeyVault


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_sqlite_ledger_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "ledger.db"
    ledger = open_ledger(f"sqlite:///{path}")
    try:
        with ledger.begin() as conn:
            append(conn, AuditRecord(name="ingest.source", actor="test", payload={}))
        wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
        assert wal.exists() and shm.exists()  # WAL mode, connection still pooled
        assert {p.name: _mode(p) for p in (path, wal, shm)} == {
            "ledger.db": 0o600, "ledger.db-wal": 0o600, "ledger.db-shm": 0o600,
        }  # fmt: skip
        assert _mode(path.parent) == 0o700  # the folder it created
    finally:
        ledger.dispose()


def test_the_key_vault_master_key_and_data_folder_are_private(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    vault = KeyVault.open(settings)
    blob = vault.encrypt("subj-1", b"template", aad=b"face:1")
    assert vault.decrypt("subj-1", blob, aad=b"face:1") == b"template"
    data = tmp_path / "data"
    assert _mode(data) == 0o700
    assert _mode(data / "keyvault.db") == 0o600
    assert _mode(data / "master.key") == 0o600
    assert not any(_mode(p) & 0o077 for p in data.iterdir())


def test_an_existing_data_folder_open_to_others_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    KeyVault.open(load_settings(data_dir=data))
    assert _mode(data) == 0o700
