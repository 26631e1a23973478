"""Request intake: the one place that turns what a requester named into a filed request.

Example::

    record = file_request(ledger, settings, vault, Intake(kind="erasure", owner="70000001@N01"))
    record = file_request(ledger, settings, portal.vault, Intake(
        kind="optout", channel="portal", matches=key["faces"], consent_given=True))

``faceledger request new`` and the portal's request form and API all build an :class:`Intake`
and call :func:`file_request`; they only parse and present. The rules live here: exactly one
key (an owner, a photo, a URL, an owner's tag, claimed faces, a selfie, or the faces a portal
search matched), which kinds each channel may file, and that the law named has a deadline.
The records, deadlines and evidence rules are :mod:`faceledger.services.lifecycle.requests`'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceledger.config import Settings
from faceledger.errors import RequestError
from faceledger.services.lifecycle import requests as service
from faceledger.store import Ledger

if TYPE_CHECKING:
    from faceledger.services.lifecycle.request_records import RequestRecord
    from faceledger.store.vault import KeyVault

#: What each channel may file. The public portal files opt-outs and erasures; an access
#: request hands a person's data over, so it is filed by staff once identity is checked.
CHANNEL_KINDS = {"cli": service.KINDS, "portal": ("optout", "erasure")}


@dataclass(frozen=True)
class Intake:
    """What a requester asks for and names. Exactly one key: ``owner`` alone, ``photo``,
    ``url``, ``tag`` (with ``owner``), ``claims``, ``selfie`` (with ``consent`` or
    ``consent_given``), ``photo_id`` (a ledger photo a portal search returned) or ``matches``
    (the faces a portal selfie search found)."""

    kind: str
    law: str | None = None
    contact: str | None = None
    actor: str = "cli"
    channel: str = "cli"
    owner: str | None = None
    photo: str | None = None
    url: str | None = None
    tag: str | None = None
    photo_id: int | None = None
    claims: tuple[str | int, ...] = ()
    selfie: Path | None = None
    matches: tuple[dict[str, Any], ...] | None = None
    consent: str | None = None
    consent_given: bool = False
    evidence: Any = None

    def key(self) -> str:
        """The one key named (``RequestError`` naming the choices otherwise)."""
        if self.selfie is not None and self.claims:
            raise RequestError("name either a selfie or claimed faces, not both")
        named = {
            "photo": self.photo, "url": self.url, "tag": self.tag, "photo_id": self.photo_id,
            "claims": self.claims or None, "selfie": self.selfie, "matches": self.matches,
        }  # fmt: skip
        given = [k for k, v in named.items() if v is not None]
        if not given and self.owner:
            given = ["owner"]
        if self.tag is not None and not self.owner:
            raise RequestError("a tag request names whose tag: give the owner too")
        if len(given) != 1:
            raise RequestError(
                "name exactly one of an owner, a photo, a URL, an owner's tag, claimed faces or a selfie"
            )
        return given[0]


def _check(intake: Intake, settings: Settings) -> None:
    kinds = CHANNEL_KINDS.get(intake.channel)
    if kinds is None:
        raise RequestError(f"channel {intake.channel!r} is not one of {', '.join(CHANNEL_KINDS)}")
    if intake.kind not in kinds:
        raise RequestError(f"kind: {intake.kind!r} cannot be filed here; one of {', '.join(kinds)}")
    if intake.law is not None and intake.law not in settings.request_deadlines:
        raise RequestError(
            f"law: {intake.law!r} has no deadline configured; one of {', '.join(settings.request_deadlines)}"
        )


def file_request(
    ledger: Ledger,
    settings: Settings,
    vault: KeyVault | Callable[[], KeyVault] | None,
    intake: Intake,
) -> RequestRecord:
    """File the request ``intake`` names and return its record (with the receipt).

    ``vault`` (or a function that opens it) is opened only when the request holds something
    encrypted: a contact, or a selfie matched now. Raises :class:`RequestError` naming the
    field for a missing or doubled key, a kind the channel may not file, or an unknown law;
    the request service's own errors (evidence, consent, unknown photo) pass through."""
    _check(intake, settings)
    key = intake.key()
    contact = (intake.contact or "").strip() or None
    needs_vault = contact is not None or key == "selfie"
    opened = (vault() if callable(vault) else vault) if needs_vault else None
    common: dict[str, Any] = {
        "kind": intake.kind,
        "law": intake.law,
        "contact": contact,
        "actor": intake.actor,
    }
    if key == "matches":
        return service.new_face_request(
            ledger,
            settings,
            opened,
            matches=list(intake.matches or ()),
            consent_given=intake.consent_given,
            **common,
        )
    if key in ("claims", "selfie"):
        return service.new_request(
            ledger, settings, opened, key_type="face", selfie=intake.selfie, consent=intake.consent,
            consent_given=intake.consent_given, claims=list(intake.claims) or None, **common,
        )  # fmt: skip
    if key == "photo_id":
        key_type, value = service.photo_request_key(ledger, int(intake.photo_id or 0))
    else:
        key_type, value = key, str(getattr(intake, key))
    return service.new_request(
        ledger, settings, opened, key_type=key_type, value=value, evidence=intake.evidence,
        owner=intake.owner if key_type == "tag" else None, **common,
    )  # fmt: skip
