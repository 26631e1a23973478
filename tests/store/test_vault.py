from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

from faceledger.config import load_settings
from faceledger.errors import ConfigError, KeyShredded, TamperedCiphertext
from faceledger.store.vault import KeyVault, load_master_key


def _vault(tmp_path: Path) -> KeyVault:
    return KeyVault.open(load_settings(data_dir=tmp_path / "data"))


def test_round_trip_binds_ciphertext_to_its_context(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    blob = vault.encrypt("subj-a", b"template bytes", aad=b"face:1:embedding")
    assert b"template bytes" not in blob
    assert vault.decrypt("subj-a", blob, aad=b"face:1:embedding") == b"template bytes"
    with pytest.raises(TamperedCiphertext):
        vault.decrypt("subj-a", blob, aad=b"face:2:embedding")  # moved to another face
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(TamperedCiphertext):
        vault.decrypt("subj-a", tampered, aad=b"face:1:embedding")


def test_keys_survive_a_restart_and_differ_per_subject(tmp_path: Path) -> None:
    first = _vault(tmp_path)
    blob = first.encrypt("subj-a", b"x", aad=b"a")
    with pytest.raises(TamperedCiphertext):
        first.decrypt("subj-b", first.encrypt("subj-b", b"y", aad=b"a")[:12] + blob[12:], aad=b"a")
    again = _vault(tmp_path)
    assert again.decrypt("subj-a", blob, aad=b"a") == b"x"


def test_shredding_makes_every_copy_unreadable_including_backups(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    blob = vault.encrypt("subj-a", b"secret", aad=b"a")
    other = vault.encrypt("subj-b", b"other", aad=b"b")
    backup = tmp_path / "ledger-backup.bin"
    backup.write_bytes(blob)  # a database dump holds only this ciphertext
    wrapped_before = (tmp_path / "data" / "keyvault.db").read_bytes()
    assert vault.shred("subj-a") is True
    assert vault.shred("subj-a") is False  # idempotent
    restarted = _vault(tmp_path)
    for handle in (vault, restarted):
        with pytest.raises(KeyShredded):
            handle.decrypt("subj-a", backup.read_bytes(), aad=b"a")
        assert handle.decrypt("subj-b", other, aad=b"b") == b"other"
    assert not restarted.has_key("subj-a")
    # secure_delete: the wrapped key's bytes are overwritten in the vault file, not just unlinked
    wrapped_after = (tmp_path / "data" / "keyvault.db").read_bytes()
    assert wrapped_after != wrapped_before


def test_master_key_file_is_private_and_loose_permissions_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = load_master_key(data)
    path = data / "master.key"
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_master_key(data) == key
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_master_key(data)


def test_master_key_from_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("FACELEDGER_MASTER_KEY", base64.b64encode(key).decode())
    settings = load_settings(data_dir=tmp_path / "data")
    assert "FACELEDGER" not in repr(settings.master_key)  # a secret is never printed
    vault = KeyVault.open(settings)
    blob = vault.encrypt("s", b"x", aad=b"a")
    assert not (tmp_path / "data" / "master.key").exists()
    monkeypatch.setenv("FACELEDGER_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    wrong = KeyVault.open(load_settings(data_dir=tmp_path / "data"))
    with pytest.raises(ConfigError, match="wrong master key"):
        wrong.decrypt("s", blob, aad=b"a")
    monkeypatch.setenv("FACELEDGER_MASTER_KEY", "c2hvcnQ=")
    with pytest.raises(ConfigError, match="master_key"):
        KeyVault.open(load_settings(data_dir=tmp_path / "data"))


def test_a_copied_vault_from_before_the_shred_is_the_only_way_back(tmp_path: Path) -> None:
    """Documented limit: a vault backup taken before a shred can still decrypt."""
    vault = _vault(tmp_path)
    blob = vault.encrypt("subj-a", b"secret", aad=b"a")
    shutil.copy(tmp_path / "data" / "keyvault.db", tmp_path / "vault-backup.db")
    vault.shred("subj-a")
    master = load_master_key(tmp_path / "data")
    old = KeyVault(tmp_path / "vault-backup.db", master)
    assert old.decrypt("subj-a", blob, aad=b"a") == b"secret"


def test_a_secret_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    """Key files are linked into place complete (mode 0600); a second writer that lost the race
    keeps nothing of its own, and no temporary file is left behind."""
    from faceledger.store.db import publish_secret_file

    target = tmp_path / "master.key"
    assert publish_secret_file(target, b"first\n") is True
    assert publish_secret_file(target, b"second\n") is False
    assert target.read_bytes() == b"first\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]


def test_the_master_key_once_created_is_the_one_every_later_load_reads(tmp_path: Path) -> None:
    first = load_master_key(tmp_path)
    assert load_master_key(tmp_path) == first and len(first) == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key"]
