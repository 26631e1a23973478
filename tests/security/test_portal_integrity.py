"""Finding 7: one corrupt ciphertext broke every selfie search, and the public error named
internal ids (the subject's key reference, the face id). Now that template is skipped,
quarantined and audited, the search goes on, and no public answer names internal ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

pytestmark = pytest.mark.integration
SELFIE = Path(__file__).resolve().parents[2] / "examples" / "photos" / "Abel_Pacheco_0004.jpg"


def test_a_corrupt_template_is_quarantined_and_the_search_goes_on(
    world: Any, ledger: Any, tmp_path: Path, sec: Any
) -> None:  # fmt: skip
    from faceledger.store.schema import AuditEvent, Face, Photo, Subject, Template
    from faceledger.web import create_app

    templates = Template.__table__
    with ledger.begin() as conn:  # flip one byte of Alan's embedding (not the selfie's person)
        row = conn.execute(
            select(templates.c.id, templates.c.ciphertext).join(Face, Face.id == templates.c.face_id)
            .join(Photo, Photo.id == Face.photo_id)
            .where(Photo.external_id == "alan", templates.c.kind == "embedding")
        ).one()  # fmt: skip
        broken = bytes([row.ciphertext[0]]) + bytes([row.ciphertext[1] ^ 0x01]) + row.ciphertext[2:]
        conn.execute(update(templates).where(templates.c.id == row.id).values(ciphertext=broken))
        refs = list(conn.execute(select(Subject.key_ref)).scalars())
    app = create_app(world, ledger=ledger)
    with sec.serve_thread(app, tmp_path / "portal.log") as server, server.client() as client:
        answers = [client.post("/api/v1/selfie", data={"consent": "yes"},
                               files={"image": ("me.jpg", SELFIE.read_bytes(), "image/jpeg")}) for _ in range(2)]  # fmt: skip
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert [m["photo"]["external_id"] for m in answer.json()["matches"]] == ["abel"]
        assert (
            not any(ref in answer.text for ref in refs) and "faceledger:template" not in answer.text
        )
    with ledger.read() as conn:
        quarantined = conn.execute(
            select(templates.c.quarantined_at).where(templates.c.id == row.id)
        ).scalar_one()
        events = conn.execute(
            select(AuditEvent.object_id).where(AuditEvent.name == "template.quarantine")
        ).scalars().all()  # fmt: skip
    assert quarantined is not None
    assert events == [str(row.id)]  # once: the second search no longer reads it


def test_an_integrity_failure_that_reaches_the_web_is_a_generic_answer(
    corpus: Any, tmp_path: Path, sec: Any, ledger_url: str
) -> None:  # fmt: skip
    from faceledger.config import load_settings
    from faceledger.errors import TamperedCiphertext
    from faceledger.web import create_app
    from faceledger.web.deps import get_selfie_search

    app = create_app(
        load_settings(database_url=ledger_url, data_dir=tmp_path / "data"), ledger=corpus
    )

    def tampered(image: bytes) -> list[dict[str, Any]]:
        raise TamperedCiphertext(
            "a template of subj-0123abcd does not authenticate (b'faceledger:template:7')"
        )

    app.dependency_overrides[get_selfie_search] = lambda: tampered
    jpeg = (
        Path(__file__).resolve().parents[2] / "examples" / "photos" / "Abel_Pacheco_0001.jpg"
    ).read_bytes()
    with sec.serve_thread(app, tmp_path / "portal.log") as server, server.client() as client:
        answer = client.post(
            "/api/v1/selfie",
            data={"consent": "yes"},
            files={"image": ("a.jpg", jpeg, "image/jpeg")},
        )
    assert answer.status_code == 503
    assert (
        "subj-" not in answer.text and "template:7" not in answer.text and "incident" in answer.text
    )
