"""Request records and lifecycle steps shared by the request services
(:mod:`faceledger.services.lifecycle.requests`, :mod:`faceledger.services.lifecycle.request_execute`).

Lifecycle: received -> verified -> executed -> confirmed, or rejected (from received or
verified) with a reason. Any other step raises :class:`RequestStateError` saying what is
needed. The deadline is the receipt date plus the law's term (``request_deadlines``); a
reviewer may extend it (``request_extensions``, GDPR Art. 12(3)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select

from faceledger.config import Settings
from faceledger.core.deadlines import deadline
from faceledger.errors import RequestError, RequestNotFound, RequestStateError
from faceledger.store.tables import REQUEST_FACES, REQUESTS

KINDS = ("optout", "erasure", "access")
KEY_TYPES = ("owner", "photo", "url", "tag", "face")
STATUSES = ("received", "verified", "executed", "confirmed", "rejected")
COVERS = {"owner": "account", "tag": "tag", "photo": "photo", "url": "photo", "face": "faces"}
FROM = {"verify": ("received",), "execute": ("verified",), "confirm": ("executed",),
        "reject": ("received", "verified")}  # fmt: skip
PAST = {"verify": "verified", "execute": "executed", "confirm": "confirmed", "reject": "rejected"}
_HINT = {"received": "verify it first (faceledger request verify)",
         "verified": "execute it first (faceledger request execute)"}  # fmt: skip


@dataclass(frozen=True)
class RequestRecord:
    """One request, as shown by ``request show --json`` (add keys, never rename).

    Never carries the requester's contact (``has_contact`` says whether there is one; a
    console user reads it through :func:`~faceledger.services.lifecycle.request_identity.read_contact`).
    """

    id: int
    receipt: str
    kind: str
    key_type: str
    key_value: str | None
    owner_scope: str | None
    law: str
    status: str
    received_at: datetime
    deadline: date
    verified_at: datetime | None
    executed_at: datetime | None
    confirmed_at: datetime | None
    rejected_at: datetime | None
    reject_reason: str | None
    result: dict[str, Any] | None
    matched_faces: int
    covers: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    has_contact: bool = False
    deadline_original: date | None = None
    extended_at: datetime | None = None
    extension_reason: str | None = None
    faces: dict[str, int] | None = None

    def to_dict(self, on: date | None = None) -> dict[str, Any]:
        today = on or datetime.now(UTC).date()
        document: dict[str, Any] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("received_at", "deadline", "verified_at", "executed_at", "confirmed_at",
                     "rejected_at", "deadline_original", "extended_at"):  # fmt: skip
            value = document[name]
            document[name] = value.isoformat() if value is not None else None
        document["evidence"] = [dict(e) for e in self.evidence]
        open_ = self.status in ("received", "verified")
        document["days_left"] = (self.deadline - today).days if open_ else None
        document["overdue"] = open_ and today > self.deadline
        return document

    def is_overdue(self, on: date | None = None) -> bool:
        return (
            self.status in ("received", "verified")
            and (on or datetime.now(UTC).date()) > self.deadline
        )


def today() -> date:
    return datetime.now(UTC).date()


def choose_law(settings: Settings, law: str | None, received: date) -> tuple[str, date]:
    """The law a request is answered under and its deadline (default: the earliest one)."""
    terms = settings.request_deadlines
    if law is not None:
        if law not in terms:
            raise RequestError(
                f"law {law!r} has no deadline configured (request_deadlines: {', '.join(terms)})"
            )
        return law, deadline(received, terms[law])
    return min(
        ((name, deadline(received, term)) for name, term in terms.items()), key=lambda item: item[1]
    )


def record(conn: Connection, row: Any) -> RequestRecord:
    statuses = (
        conn.execute(select(REQUEST_FACES.c.status).where(REQUEST_FACES.c.request_id == row.id))
        .scalars()
        .all()
    )
    faces: dict[str, int] = {}
    for status in statuses:
        faces[status] = faces.get(status, 0) + 1
    plain = ("id", "receipt", "kind", "key_type", "key_value", "owner_scope", "law", "status", "received_at",
             "deadline", "verified_at", "executed_at", "confirmed_at", "rejected_at", "reject_reason",
             "result", "covers", "deadline_original", "extended_at", "extension_reason")  # fmt: skip
    values = {name: getattr(row, name) for name in plain}
    return RequestRecord(
        **values, matched_faces=len(statuses), evidence=tuple(row.evidence or ()),
        has_contact=row.contact_ciphertext is not None, faces=faces or None,
    )  # fmt: skip


def find(conn: Connection, id_or_receipt: str | int) -> Any:
    key = str(id_or_receipt).strip()
    row = conn.execute(select(REQUESTS).where(REQUESTS.c.receipt == key)).first()
    if row is None and key.isdigit():
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.id == int(key))).first()
    if row is None:
        raise RequestNotFound(
            f"no request with id or receipt {key!r} (see faceledger request list)"
        )
    return row


def step(conn: Connection, id_or_receipt: str | int, name: str) -> Any:
    """The request row, if step ``name`` is allowed from its status; else RequestStateError."""
    row = find(conn, id_or_receipt)
    if row.status not in FROM[name]:
        needed = " or ".join(FROM[name])
        hint = _HINT.get(row.status, "")
        raise RequestStateError(
            f"request {row.id} is {row.status}: only a {needed} request can be {PAST[name]}"
            + (f"; {hint}" if hint and name != "reject" else "")
        )
    return row
