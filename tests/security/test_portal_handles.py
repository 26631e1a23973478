"""Finding 11: signed result tokens were readable (itsdangerous: base64 JSON with face ids,
subject ids, distances) and thumbnail URLs carried ledger photo ids. Now every public handle
is sealed (AES-GCM under a key derived from the portal secret) and different each time."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import Any

NSID = "70000005@N01"  # CC BY, local bytes: shown with a thumbnail


def _decodings(token: str) -> list[bytes]:
    """Every way an attacker might read a token: each dot-separated part and the whole,
    base64url-decoded (and zlib-inflated, as itsdangerous compresses)."""
    import zlib

    found = []
    for part in [token, *token.lstrip(".").split(".")]:
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            continue
        found.append(raw)
        with contextlib.suppress(zlib.error):
            found.append(zlib.decompress(raw))
    return found


def _readable(token: str) -> bool:
    return any(re.search(rb"photo_id|face_id|subject|distance|key_type|\d{1,9}", raw[:64]) and raw.isascii()
               for raw in _decodings(token))  # fmt: skip


def test_public_handles_are_opaque_and_never_repeat(
    portal: Any, portal_env: dict[str, str], corpus: Any
) -> None:
    with portal(portal_env) as server, server.client() as client:
        first = client.get("/api/v1/search/owner", params={"q": NSID}).json()
        second = client.get("/api/v1/search/owner", params={"q": NSID}).json()
        page = client.get("/search", params={"owner": NSID}).text
        (photo,) = first["photos"]
        assert "photo_id" not in photo and "face_id" not in json.dumps(first)
        tokens = [photo["ref"], photo["request_token"], first["owner_token"]]
        if photo["thumbnail_url"]:
            tokens.append(photo["thumbnail_url"].rsplit("/", 1)[1])
            assert photo["thumbnail_url"] != second["photos"][0]["thumbnail_url"]
            assert client.get(photo["thumbnail_url"]).status_code == 200
        assert not any(_readable(t) for t in tokens), tokens
        assert photo["request_token"] != second["photos"][0]["request_token"]
        assert photo["ref"] != second["photos"][0]["ref"]
        assert 'data-photo="' in page and not re.search(r'data-photo="\d+"', page)
        forged = photo["request_token"][:-2] + (
            "AA" if photo["request_token"][-2:] != "AA" else "BB"
        )
        refused = client.post("/api/v1/requests", json={"kind": "optout", "token": forged})
        assert refused.status_code == 400
        other_purpose = client.post(
            "/api/v1/requests", json={"kind": "optout", "token": photo["ref"]}
        )
        assert other_purpose.status_code == 400  # a photo handle is not a request token


def test_a_sealed_token_round_trips_and_expires() -> None:
    from faceledger.web.security import Signer

    now = [1_000_000.0]
    signer = Signer(b"s" * 32, clock=lambda: now[0])
    token = signer.dumps(
        "request", {"key_type": "face", "faces": [{"face_id": 12, "subject_id": 3}]}
    )
    assert signer.loads("request", token, max_age=60) == {
        "key_type": "face",
        "faces": [{"face_id": 12, "subject_id": 3}],
    }
    assert signer.loads("thumb", token, max_age=60) is None  # bound to its purpose
    assert Signer(b"t" * 32, clock=lambda: now[0]).loads("request", token, max_age=60) is None
    now[0] += 61
    assert signer.loads("request", token, max_age=60) is None
