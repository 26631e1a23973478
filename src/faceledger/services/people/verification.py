"""Proving an account or a person: one pluggable interface, with local implementations.

Every proof is an :class:`IdentityEvidence` value: its ``kind`` (``owner-profile-code``,
``email-link``, ``signed-form``, ``selfie-match``, ``attestation``), whether it is
``verified``, and ``detail`` naming what it rests on. Never a rubber stamp: ``verified=True``
must name its evidence (the keys in :data:`REQUIRED_DETAIL`) and a time; a bare attestation
("this is me") is always recorded as ``verified=False``.

Example::

    verifier = LocalVerifier(secret, profiles=LocalProfileVerifier(path))
    nonce, code = new_challenge(secret, "70000003@N01")    # the person puts code in their profile
    evidence = verifier.owner_profile_code(owner_id="70000003@N01", nonce=nonce)
    evidence.verified, evidence.to_dict()
    verifier.signed_form(data=pdf_bytes, name="release.pdf", signer="A. Person",
                         signed=date(2026, 11, 30))        # verified: hash, signer and date
    verifier.attestation(statement="this is me")            # verified=False, always

Adapter point for real providers: implement :class:`Verifier` (one method per kind) — e.g.
``owner_profile_code`` backed by ``flickr.people.getInfo`` (or only a :class:`ProfileVerifier`
for it, passed to :class:`LocalVerifier`), ``email_link`` backed by your mail service's
signed links, ``signed_form`` by an e-signature provider's envelope id. Callers (claims,
requests, the portal) take any ``Verifier`` and store ``evidence.to_dict()``; nothing else
changes.

The portal's owner hook is unchanged: the portal shows a short code derived from the owner id
and a random nonce, the person puts it in their Flickr profile description, and
:func:`verify_owner` reads that profile (through a :class:`ProfileVerifier`) and looks for it.
The code never reaches the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from faceledger.errors import EvidenceError
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append

CODE_PREFIX = "faceledger-"
EVIDENCE_KINDS = ("owner-profile-code", "email-link", "signed-form", "selfie-match", "attestation")
#: What a ``verified=True`` evidence of each kind must name in ``detail``.
REQUIRED_DETAIL: dict[str, tuple[str, ...]] = {
    "owner-profile-code": ("owner_id", "verifier"),
    "email-link": ("address_sha256", "verifier"),
    "signed-form": ("sha256", "signer", "signed"),
    "selfie-match": ("face_id", "distance", "threshold", "model"),
    "attestation": (),
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IdentityEvidence:
    """One piece of identity evidence. Frozen; :meth:`to_dict` is what the ledger stores."""

    kind: str
    verified: bool
    detail: Mapping[str, Any] = field(default_factory=dict)
    verified_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise EvidenceError(
                f"evidence kind {self.kind!r} is not one of {', '.join(EVIDENCE_KINDS)}"
            )
        if not self.verified:
            return
        if self.kind == "attestation":
            raise EvidenceError("an attestation is a statement, not a proof: it is never verified")
        missing = [k for k in REQUIRED_DETAIL[self.kind] if self.detail.get(k) in (None, "")]
        if missing:
            raise EvidenceError(
                f"verified {self.kind} evidence must name its evidence: missing {', '.join(missing)}"
            )
        if self.verified_at is None:
            raise EvidenceError("verified evidence must say when it was verified (verified_at)")

    def proves_owner(self, owner_id: str | None) -> bool:
        """Whether this shows control of the photo owner account ``owner_id``."""
        return (
            owner_id is not None and self.verified and self.kind == "owner-profile-code"
            and self.detail.get("owner_id") == owner_id
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "verified": self.verified, "detail": dict(self.detail),
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> IdentityEvidence:
        when = document.get("verified_at")
        return cls(
            kind=str(document.get("kind")), verified=bool(document.get("verified")),
            detail=dict(document.get("detail") or {}),
            verified_at=datetime.fromisoformat(when) if isinstance(when, str) else None,
        )  # fmt: skip


class ProfileVerifier(Protocol):
    """Reads the public profile text of a Flickr account."""

    name: str

    def profile_text(self, owner_id: str) -> str | None:
        """The account's profile description, or ``None`` when it cannot be read."""
        ...


class Verifier(Protocol):
    """One method per evidence kind; each returns :class:`IdentityEvidence` (the adapter point)."""

    name: str

    def owner_profile_code(self, *, owner_id: str, nonce: str) -> IdentityEvidence: ...

    def email_link(self, *, address: str, nonce: str, token: str) -> IdentityEvidence: ...

    def signed_form(
        self, *, data: bytes, name: str, signer: str | None, signed: date | None
    ) -> IdentityEvidence: ...

    def selfie_match(
        self, *, face_id: int, distance: float, threshold: float, model: str
    ) -> IdentityEvidence: ...

    def attestation(self, *, statement: str) -> IdentityEvidence: ...


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


def email_token(secret: bytes, address: str, nonce: str) -> str:
    """The token an e-mail link carries for ``address`` and ``nonce`` (HMAC; send it, keep nonce)."""
    mac = hmac.new(
        secret, f"email-link\0{address.strip().lower()}\0{nonce}".encode(), hashlib.sha256
    )
    return mac.hexdigest()[:32]


class LocalVerifier:
    """The working local :class:`Verifier`: HMAC codes and tokens under ``secret``, owner
    profiles through ``profiles`` (a :class:`ProfileVerifier`), forms hashed in place.

    It sends no mail and calls no provider: the caller delivers e-mail tokens (tests, an
    operator). ``clock`` (default: now, UTC) stamps ``verified_at``.
    """

    name = "local"

    def __init__(
        self, secret: bytes, *, profiles: ProfileVerifier | None = None, clock: Any = _now
    ) -> None:
        self.secret, self.profiles, self.clock = secret, profiles, clock

    def owner_profile_code(self, *, owner_id: str, nonce: str) -> IdentityEvidence:
        code = challenge_code(self.secret, owner_id, nonce)
        text = self.profiles.profile_text(owner_id) if self.profiles is not None else None
        ok = text is not None and code in text
        verifier = getattr(self.profiles, "name", "none")
        return IdentityEvidence(
            "owner-profile-code", ok, {"owner_id": owner_id, "verifier": verifier},
            self.clock() if ok else None,
        )  # fmt: skip

    def email_link(self, *, address: str, nonce: str, token: str) -> IdentityEvidence:
        expected = email_token(self.secret, address, nonce)
        ok = hmac.compare_digest(expected, token.strip())
        digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()
        return IdentityEvidence(
            "email-link", ok, {"address_sha256": digest, "verifier": self.name},
            self.clock() if ok else None,
        )  # fmt: skip

    def signed_form(
        self, *, data: bytes, name: str, signer: str | None, signed: date | None
    ) -> IdentityEvidence:
        detail = {
            "sha256": hashlib.sha256(data).hexdigest() if data else None, "file": name,
            "signer": (signer or "").strip() or None, "signed": signed.isoformat() if signed else None,
        }  # fmt: skip
        ok = bool(data) and detail["signer"] is not None and signed is not None
        return IdentityEvidence("signed-form", ok, detail, self.clock() if ok else None)

    def selfie_match(
        self, *, face_id: int, distance: float, threshold: float, model: str
    ) -> IdentityEvidence:
        ok = distance <= threshold
        detail = {"face_id": face_id, "distance": round(float(distance), 4),
                  "threshold": threshold, "model": model}  # fmt: skip
        return IdentityEvidence("selfie-match", ok, detail, self.clock() if ok else None)

    def attestation(self, *, statement: str) -> IdentityEvidence:
        return IdentityEvidence("attestation", False, {"statement": statement.strip()[:500]})


def verify_owner(
    ledger: Ledger, verifier: ProfileVerifier, secret: bytes, owner_id: str, nonce: str,
    *, actor: str = "web",
) -> bool:  # fmt: skip
    """Whether ``owner_id``'s profile holds the code for ``nonce``; the outcome is audited."""
    evidence = LocalVerifier(secret, profiles=verifier).owner_profile_code(
        owner_id=owner_id, nonce=nonce
    )
    with ledger.begin() as conn:
        append(conn, AuditRecord(
            name="owner.verify", actor=actor, object_type="owner", object_id=None,
            payload={"ok": evidence.verified, "verifier": verifier.name},
        ))  # fmt: skip
    return evidence.verified
