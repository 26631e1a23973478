"""Shared CLI plumbing: lazily built settings and ledger, JSON output, common options."""

from __future__ import annotations

import errno
import json
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from faceledger.errors import FaceledgerError

if TYPE_CHECKING:
    from faceledger.api import FaceLedger
    from faceledger.config import Settings
    from faceledger.core.law import Policy
    from faceledger.store import Ledger
    from faceledger.store.vault import KeyVault


@dataclass
class CliState:
    """What the top-level group hands to its commands: the :class:`faceledger.FaceLedger`
    of the settings, built on first use (commands only parse, call it, and print)."""

    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _app: FaceLedger | None = None

    def settings(self, **more: Any) -> Settings:
        from faceledger.config import load_settings

        if self._settings is None or more:
            self._settings = load_settings(**{**self.overrides, **more})
        return self._settings

    def app(self, *, create: bool = False) -> FaceLedger:
        """The library object over the settings. Only ``ingest`` and ``init`` pass
        ``create=True``: every other command refuses a missing ledger (exit 2, "no ledger at
        ...") instead of creating an empty one and reporting zeros (issue 13 item 8)."""
        from faceledger.api import FaceLedger

        if self._app is None:
            self._app = FaceLedger(self.settings(), create=create, actor="cli")
        return self._app

    def ledger(self, *, create: bool = False) -> Ledger:
        return self.app(create=create).ledger

    def vault(self) -> KeyVault:
        return self.app().vault

    def policies(self) -> list[Policy]:
        """The deployment's one law set (shipped plus ``policy_dir``), as the portal has it."""
        return self.app().policies

    def close(self) -> None:
        """When the command ends: checkpoint the audit log if it wrote to it, then release
        the ledger's connections. A checkpoint that cannot be taken is reported on stderr."""
        if self._app is None or not self._app.is_open:
            return
        try:
            self._app.close()
        except FaceledgerError as exc:
            click.echo(f"warning: audit checkpoint not taken: {exc}", err=True)
        except Exception as exc:  # noqa: BLE001 - the command itself already succeeded
            mapped = clear_error(exc, self)
            if mapped is None:
                raise
            click.echo(f"warning: audit checkpoint not taken: {mapped}", err=True)
        finally:
            self._app = None


def echo_json(document: Any) -> None:
    """Write one JSON document to stdout."""
    json.dump(document, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A click callback: ``YYYY-MM-DD`` -> ``date`` (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


# --- turning environment failures into one clear line (finding 14) ----------------------------

_SQLITE_MESSAGES = (  # (text in the driver's message, what to tell the user)
    ("database or disk is full", "the disk holding the ledger is full"),
    ("readonly database", "the ledger is read-only (this command writes to it)"),
    (
        "unable to open database file",
        "the ledger file cannot be opened (missing folder, "
        "no permission, or a read-only folder without its -shm file)",
    ),
    ("database is locked", "the ledger is locked by another process; try again when it ends"),
    ("disk i/o error", "the disk holding the ledger failed to read or write"),
)
_OS_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def clear_error(exc: BaseException, state: CliState | None = None) -> FaceledgerError | None:
    """A :class:`FaceledgerError` with one clear line for a failure of the environment (disk
    full, read-only or locked ledger, a file that cannot be written), or ``None`` when
    ``exc`` is a genuine bug that should keep its traceback.

    Every ledger write is one transaction, so when the database refuses a write nothing of
    that step was committed; the message says so.
    """
    from sqlalchemy.exc import DBAPIError

    from faceledger.errors import LedgerError

    where = _ledger_name(state)
    if isinstance(exc, DBAPIError):
        text = str(exc.orig).lower()
        code = getattr(exc.orig, "sqlstate", None)
        if code in ("53100", "53200"):  # PostgreSQL disk_full, out_of_memory
            return LedgerError(f"{where}: the database server is out of space: {exc.orig}; "
                               "nothing of the failed step was committed")  # fmt: skip
        if code == "25006":  # read_only_sql_transaction
            return LedgerError(f"{where}: the database is read-only: {exc.orig}")
        for needle, meaning in _SQLITE_MESSAGES:
            if needle in text:
                return LedgerError(f"{where}: {meaning} (sqlite: {exc.orig}); "
                                   "nothing of the failed step was committed")  # fmt: skip
        return None
    if isinstance(exc, OSError) and exc.errno in _OS_ERRORS:
        target = exc.filename or where
        return FaceledgerError(f"{target}: {_OS_ERRORS[exc.errno]} ({exc.strerror}); "
                               "nothing of the failed step was committed")  # fmt: skip
    return None


def _ledger_name(state: CliState | None) -> str:
    try:
        if state is not None:
            url = state.settings().database_url
            return (
                f"ledger {url.removeprefix('sqlite:///')}"
                if url.startswith("sqlite:///")
                else "ledger"
            )
    except FaceledgerError:
        pass
    return "ledger"
