"""Finding 3: crypto-shredding did not reach the running portal. The vault cached data keys
for the life of the process and was never told of a shred elsewhere: after an erasure from the
CLI the portal still held the keys, and after a restore of a pre-erasure ledger backup it
still matched the erased person. Now the vault checks its shred generation on every use and
the portal drops cached keys after each request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

pytestmark = pytest.mark.integration

SELFIE = Path(__file__).resolve().parents[2] / "examples" / "photos" / "Abel_Pacheco_0004.jpg"


def _selfie(client: Any) -> list[dict[str, Any]]:
    answer = client.post("/api/v1/selfie", data={"consent": "yes"},
                         files={"image": ("me.jpg", SELFIE.read_bytes(), "image/jpeg")})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()["matches"]  # type: ignore[no-any-return]


def _env(settings: Any) -> dict[str, str]:
    return {"FACELEDGER_DATABASE_URL": settings.database_url, "FACELEDGER_DATA_DIR": str(settings.data_dir),
            "FACELEDGER_WORKERS": "1", "FACELEDGER_PROCESSOR_LOCATION": "US-FL"}  # fmt: skip


def _erase_from_the_cli(sec: Any, env: dict[str, str]) -> None:
    """The erasure a person asks for with their selfie, run by the CLI in other processes."""

    def run(*args: str) -> Any:
        done = sec.cli(env, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return json.loads(done.stdout) if "--json" in args else None

    request = run(
        "request", "new", "--kind", "erasure", "--selfie", str(SELFIE), "--consent-given", "--json"
    )
    rid = str(request["id"])
    for face in run("request", "faces", rid, "--json")["faces"]:
        run("request", "confirm-face", rid, str(face["face_id"]))
    run("request", "verify", rid)
    run("request", "execute", rid)


def _backup(ledger: Any) -> dict[str, list[dict[str, Any]]]:
    from faceledger.store.schema import Face, Subject, Template

    with ledger.read() as conn:
        return {
            "templates": [dict(r) for r in conn.execute(select(Template.__table__)).mappings()],
            "subjects": [dict(r) for r in conn.execute(select(Subject.__table__)).mappings()],
            "faces": [dict(r) for r in conn.execute(select(Face.__table__.c.id, Face.__table__.c.excluded_request_id)).mappings()],
        }  # fmt: skip


def _restore(ledger: Any, backup: dict[str, list[dict[str, Any]]]) -> None:
    """Put the pre-erasure rows back, as restoring a ledger backup would."""
    from faceledger.store.schema import Face, Subject, Template

    templates, subjects, faces = Template.__table__, Subject.__table__, Face.__table__
    with ledger.begin() as conn:
        present = set(conn.execute(select(templates.c.id)).scalars())
        missing = [row for row in backup["templates"] if row["id"] not in present]
        assert missing, "the erasure destroyed no template"
        conn.execute(templates.insert(), missing)
        for row in backup["subjects"]:
            conn.execute(update(subjects).where(subjects.c.id == row["id"])
                         .values(status=row["status"], shredded_at=row["shredded_at"]))  # fmt: skip
        for row in backup["faces"]:
            conn.execute(
                update(faces)
                .where(faces.c.id == row["id"])
                .values(excluded_request_id=row["excluded_request_id"])
            )


def test_an_erasure_from_the_cli_reaches_a_running_portal_and_a_restored_backup(
    world: Any, ledger: Any, tmp_path: Path, sec: Any
) -> None:  # fmt: skip
    from faceledger.store.schema import Subject, Template
    from faceledger.web import create_app

    app = create_app(world, ledger=ledger)
    portal = app.state.portal
    with sec.serve_thread(app, tmp_path / "portal.log") as server, server.client() as client:
        matched = _selfie(client)
        assert len(matched) >= 1
        with ledger.read() as conn:
            refs = set(
                conn.execute(
                    select(Subject.key_ref).join(Template, Template.subject_id == Subject.id)
                ).scalars()
            )
        vault = portal.vault()
        assert all(vault.has_key(ref) for ref in refs)
        assert not any(vault.holds(ref) for ref in refs)  # no key is kept past the request
        backup = _backup(ledger)

        _erase_from_the_cli(sec, _env(world))
        shredded = {ref for ref in refs if not vault.has_key(ref)}
        assert len(shredded) == 1  # Abel's key; Alan's is untouched

        assert _selfie(client) == []
        _restore(ledger, backup)
        assert _selfie(client) == []  # the ciphertext is back, its key is not
        assert not any(vault.holds(ref) for ref in shredded)


def test_a_shred_in_another_process_reaches_a_vault_that_cached_the_key(tmp_path: Path) -> None:
    """The mechanism under the portal: a process that read a key sees another process's shred
    on its next use (the vault's shred generation), even while it still caches other keys."""
    from faceledger.errors import KeyShredded
    from faceledger.store.vault import KeyVault, load_master_key

    data = tmp_path / "data"
    vault = KeyVault(data / "keyvault.db", load_master_key(data))
    blob = vault.encrypt("subj-a", b"template a", aad=b"a")
    other = vault.encrypt("subj-b", b"template b", aad=b"b")
    assert vault.decrypt("subj-a", blob, aad=b"a") == b"template a" and vault.holds("subj-a")
    code = (
        "import sys; from pathlib import Path; from faceledger.store.vault import KeyVault, load_master_key;"
        "d = Path(sys.argv[1]); print(KeyVault(d / 'keyvault.db', load_master_key(d)).shred('subj-a'))"
    )
    shred = subprocess.run(
        [sys.executable, "-c", code, str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shred.stdout.strip() == "True", shred.stderr
    with pytest.raises(KeyShredded):
        vault.decrypt("subj-a", blob, aad=b"a")
    assert not vault.holds("subj-a")
    assert vault.decrypt("subj-b", other, aad=b"b") == b"template b"  # others are read again
