"""Proving that a portal visitor controls a photo owner's account (the verification hook).

A tag search shows only counts, unless the visitor proves they are an owner; then it also
lists *their own* photos with that tag. The proof: the portal shows a short code derived from
the owner id and a random nonce, the person puts it in their Flickr profile description, and
a :class:`ProfileVerifier` reads that profile and looks for it.

Example::

    nonce, code = new_challenge(secret, "70000003@N01")   # show code; keep nonce (signed)
    verify_owner(ledger, LocalProfileVerifier(path), secret, "70000003@N01", nonce)  # True/False

:class:`LocalProfileVerifier` reads a JSON file ``{owner id: profile text}`` and is the
working local implementation (tests, air-gapped deployments, an operator pasting profile
text). A production verifier that fetches ``flickr.people.getInfo`` implements the same
one-method protocol; nothing else changes. The code never reaches the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Protocol

from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append

CODE_PREFIX = "faceledger-"


class ProfileVerifier(Protocol):
    """Reads the public profile text of a Flickr account."""

    name: str

    def profile_text(self, owner_id: str) -> str | None:
        """The account's profile description, or ``None`` when it cannot be read."""
        ...


class LocalProfileVerifier:
    """Profile texts from a local JSON file ``{owner id: text}`` (read on every check)."""

    name = "local-file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def profile_text(self, owner_id: str) -> str | None:
        try:
            profiles = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        text = profiles.get(owner_id) if isinstance(profiles, dict) else None
        return text if isinstance(text, str) else None


def challenge_code(secret: bytes, owner_id: str, nonce: str) -> str:
    """The code for ``owner_id`` and ``nonce``: deterministic, unguessable without ``secret``."""
    mac = hmac.new(secret, f"owner-code\0{owner_id}\0{nonce}".encode(), hashlib.sha256)
    return CODE_PREFIX + mac.hexdigest()[:16]


def new_challenge(secret: bytes, owner_id: str) -> tuple[str, str]:
    """``(nonce, code)``: the caller keeps the nonce (signed, e.g. in a form) and shows the code."""
    nonce = secrets.token_urlsafe(12)
    return nonce, challenge_code(secret, owner_id, nonce)


def verify_owner(
    ledger: Ledger, verifier: ProfileVerifier, secret: bytes, owner_id: str, nonce: str,
    *, actor: str = "web",
) -> bool:  # fmt: skip
    """Whether ``owner_id``'s profile holds the code for ``nonce``; the outcome is audited."""
    code = challenge_code(secret, owner_id, nonce)
    text = verifier.profile_text(owner_id)
    ok = text is not None and code in text
    with ledger.begin() as conn:
        append(conn, AuditRecord(
            name="owner.verify", actor=actor, object_type="owner", object_id=None,
            payload={"ok": ok, "verifier": verifier.name},
        ))  # fmt: skip
    return ok
