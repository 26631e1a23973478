"""Creating a ledger on purpose (``faceledger init``), and telling whether one exists.

Example::

    ledger_exists("sqlite:///typo.db")   # False, and typo.db is still not there
    init_ledger("sqlite:///faceledger.db")  # (LedgerInit(url=..., created=True, schema="0017"), ledger)

Only ``ingest`` and ``init`` create a ledger; every other command opens an existing one
(:func:`faceledger.store.open_ledger` with ``create=False``), so a typo in a database URL is an
error, never a new empty ledger that reports zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from faceledger.errors import LedgerError, NoLedgerError, NothingIngested
from faceledger.store import Ledger, open_ledger
from faceledger.store.db import current_revision, head_revision
from faceledger.store.tables import PHOTOS


@dataclass(frozen=True)
class LedgerInit:
    """What ``init`` did: the ledger's URL, whether it was created now, its schema revision."""

    url: str
    created: bool
    schema: str | None

    def to_dict(self) -> dict[str, object]:
        return {"url": self.url, "created": self.created, "schema": self.schema}


def ledger_exists(url: str) -> bool:
    """Whether a migrated ledger is at ``url`` (reads only; creates nothing)."""
    try:
        open_ledger(url, upgrade=False, create=False).dispose()
    except NoLedgerError:
        return False
    return True


def init_ledger(
    url: str, *, opener: Callable[[str], Ledger] | None = None
) -> tuple[LedgerInit, Ledger]:
    """Create the ledger at ``url`` (schema at the newest migration), or bring an existing one
    to the newest schema; returns what happened and the open handle (the caller disposes it).
    ``opener``: how to open ``url`` creating it (default :func:`open_ledger`; the CLI passes
    its own, which also keeps the audit checkpoints)."""
    existed = ledger_exists(url)
    ledger = (opener or (lambda u: open_ledger(u, create=True)))(url)
    schema = current_revision(ledger.engine)
    if schema != head_revision():  # pragma: no cover - open_ledger migrates or raises
        raise LedgerError(f"{ledger.url}: schema {schema}, expected {head_revision()}")
    return LedgerInit(url=ledger.url, created=not existed, schema=schema), ledger


def ensure_ingested(ledger: Ledger) -> None:
    """Raise :class:`NothingIngested` when the ledger holds no photo at all (``scan`` before
    any ``ingest``: say so, rather than report "0 photos scanned")."""
    with ledger.read() as conn:
        if conn.execute(select(PHOTOS.c.id).limit(1)).first() is None:
            raise NothingIngested(
                f"nothing ingested in {ledger.url}: run `faceledger ingest PATH` first"
            )
