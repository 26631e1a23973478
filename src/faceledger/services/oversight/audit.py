"""The audit log's use cases: verify the chain, export it, and keep checkpoints elsewhere.

Example::

    result = verify_audit(ledger, checkpoints=checkpoints_path(settings))
    result["ok"], result["checkpoint_problems"]
    export_audit(ledger, Path("audit.jsonl"))          # JSON Lines, one event a line
    verify_export(Path("audit.jsonl"))                 # the same check, offline
    record_checkpoint(ledger, checkpoints_path(settings))
    install_checkpoints(ledger, checkpoints_path(settings), every=1000)  # automatic

The hash chain makes any edit, deletion, insertion or reordering of past rows visible at the
first row it touches. Two things it cannot show alone: the newest rows being cut off, and a
writer with database access recomputing every later hash. A checkpoint (row count, last id
and head hash), copied somewhere the database's writers cannot reach (a ticket, an email, a
write-once bucket), closes both: verification checks that every checkpoint is still a prefix
of the chain.

Checkpoints are taken automatically: every ``audit_checkpoint_every`` events a command
commits (:func:`install_checkpoints`) and at the end of every command that wrote one
(:func:`finish_checkpoint`, called by the CLI). Each new checkpoint is taken only after the
previous one is checked to still hold, and only the rows after it are read.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Connection, func, select

from faceledger.errors import AuditBroken, CheckpointFileError, FaceledgerError
from faceledger.store import Ledger
from faceledger.store.audit import ChainCheck, check_chain, check_rows
from faceledger.store.db import ensure_private_dir
from faceledger.store.ledger import utcnow
from faceledger.store.tables import AUDIT

if TYPE_CHECKING:
    from faceledger.config import Settings

logger = logging.getLogger(__name__)


def _describe(check: ChainCheck) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "rows_checked": check.rows,
        "head": check.head,
        "last_good_id": check.last_id,
        "first_bad_position": check.bad_position,
        "first_bad_id": check.bad_id,
        "problem": check.problem,
    }


CHECKPOINTS_FILE = "audit-checkpoints.jsonl"
KEEP_CHECKPOINTS = 1_000  # lines kept in the file; the newest alone vouches for all before it
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def checkpoints_path(settings: Settings) -> Path:
    """Where checkpoints are kept: ``audit_checkpoint_file``, else <data_dir>/audit-checkpoints.jsonl."""
    return settings.audit_checkpoint_file or settings.data_dir / CHECKPOINTS_FILE


def _checkpoint(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CheckpointFileError(
            f"{where}: not a checkpoint (a JSON object with rows, last_id, head)"
        )
    rows, last_id, head = value.get("rows"), value.get("last_id"), value.get("head")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise CheckpointFileError(f"{where}: 'rows' must be a whole number >= 0, not {rows!r}")
    if rows == 0:
        if last_id is not None or head is not None:
            raise CheckpointFileError(f"{where}: a checkpoint of 0 rows has no last_id or head")
    elif isinstance(last_id, bool) or not isinstance(last_id, int) or last_id < 1:
        raise CheckpointFileError(f"{where}: 'last_id' must be a row id >= 1, not {last_id!r}")
    elif not isinstance(head, str) or not _HEX64.match(head):
        raise CheckpointFileError(f"{where}: 'head' must be a sha256 hex digest, not {head!r}")
    return {"at": str(value.get("at", "?")), "rows": rows, "last_id": last_id, "head": head}


def read_checkpoints(path: Path | None) -> list[dict[str, Any]]:
    """Every checkpoint in ``path``, oldest first ([] when there is no file).

    Raises :class:`CheckpointFileError` naming the file and line of anything malformed.
    """
    if path is None or not path.exists():
        return []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise CheckpointFileError(
            f"audit checkpoints {path}: cannot read: {exc.strerror}"
        ) from None
    points = []
    for number, raw in enumerate(lines, start=1):
        where = f"audit checkpoints {path}:{number}"
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise CheckpointFileError(f"{where}: not valid UTF-8 text") from None
        except (json.JSONDecodeError, RecursionError) as exc:
            raise CheckpointFileError(f"{where}: not valid JSON ({exc})") from None
        points.append(_checkpoint(value, where))
    return points


def _holds(conn: Connection, point: dict[str, Any]) -> bool:
    """Whether the chain still has exactly ``point``'s rows up to its last id, same head."""
    if point["rows"] == 0:
        return True
    row = conn.execute(select(AUDIT.c.hash).where(AUDIT.c.id == point["last_id"])).first()
    upto = conn.execute(
        select(func.count()).select_from(AUDIT).where(AUDIT.c.id <= point["last_id"])
    ).scalar_one()
    return row is not None and row.hash == point["head"] and int(upto) == point["rows"]


def _problem(point: dict[str, Any]) -> str:
    head = (point["head"] or "-")[:12]
    return (
        f"checkpoint of {point['at']} ({point['rows']} rows up to id {point['last_id']}, head "
        f"{head}) no longer matches: rows it covers were removed, or the chain was rewritten"
    )


def verify_audit(ledger: Ledger, *, checkpoints: Path | None = None) -> dict[str, Any]:
    """Walk the whole chain, then check every recorded checkpoint is still its prefix.

    The newest checkpoint's head hash covers every row up to it, so a log emptied or cut
    back before it fails here. A malformed checkpoints file raises CheckpointFileError.
    """
    points = read_checkpoints(checkpoints)
    with ledger.read() as conn:
        check = check_chain(conn)
        result = _describe(check)
        total = conn.execute(select(func.count()).select_from(AUDIT)).scalar_one()
        result["rows"] = int(total)
        problems = [_problem(point) for point in points if not _holds(conn, point)]
    result["checkpoints_checked"] = len(points)
    result["checkpoint_problems"] = problems
    result["ok"] = check.ok and not problems
    return result


def record_checkpoint(
    ledger: Ledger, path: Path, *, only_if_new: bool = False
) -> dict[str, Any] | None:
    """Append the current head to ``path`` and return it, after checking that the newest
    checkpoint still holds and the rows after it chain on (only those rows are read).

    ``only_if_new`` skips writing (returns None) when no row was added since the newest
    checkpoint. The file is rewritten atomically (temp file, fsync, rename; mode 0600), so a
    full disk or a kill never leaves half a line.
    """
    points = read_checkpoints(path)
    last = points[-1] if points else None
    with ledger.read() as conn:
        if last is not None and not _holds(conn, last):
            raise AuditBroken(f"no checkpoint taken: {_problem(last)}")
        if last is not None and last["rows"]:
            check = check_chain(
                conn, after_id=last["last_id"], prev=last["head"], position=last["rows"]
            )
        else:
            check = check_chain(conn)
    if not check.ok:
        raise AuditBroken(f"no checkpoint taken: {_message(check)}")
    if (
        only_if_new
        and last is not None
        and check.rows == last["rows"]
        and check.last_id == last["last_id"]
    ):
        return None
    point = {
        "at": utcnow().isoformat(),
        "rows": check.rows,
        "last_id": check.last_id,
        "head": check.head,
    }
    _write_checkpoints(path, [*points[-(KEEP_CHECKPOINTS - 1) :], point])
    return point


def _write_checkpoints(path: Path, points: list[dict[str, Any]]) -> None:
    ensure_private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(p) + "\n" for p in points)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise CheckpointFileError(
            f"audit checkpoints {path}: cannot write: {exc.strerror}; the previous file is intact"
        ) from None


def install_checkpoints(ledger: Ledger, path: Path, *, every: int) -> None:
    """Checkpoint ``ledger`` into ``path`` every ``every`` audit events it commits (0: only
    when :func:`finish_checkpoint` is called at the end of a command)."""

    def hook() -> None:
        try:
            record_checkpoint(ledger, path, only_if_new=True)
        except FaceledgerError as exc:  # the command goes on; its end reports it again
            logger.warning("audit checkpoint not taken: %s", exc)

    ledger.on_audit_events(every, hook)


def finish_checkpoint(ledger: Ledger, path: Path) -> dict[str, Any] | None:
    """At the end of a command: checkpoint if it committed any audit event."""
    if not ledger.audit_events_written:
        return None
    return record_checkpoint(ledger, path, only_if_new=True)


def _message(check: ChainCheck) -> str:
    return f"row {check.bad_position} (id {check.bad_id}): {check.problem}"


def _rows(ledger: Ledger) -> Iterator[dict[str, Any]]:
    with ledger.read() as conn:
        result = conn.execution_options(yield_per=5000).execute(select(AUDIT).order_by(AUDIT.c.id))
        for row in result.mappings():
            yield {**row, "at": row["at"].isoformat()}


def export_audit(ledger: Ledger, out: TextIO) -> int:
    """Write every audit row as one JSON line (with its hashes); returns the row count."""
    count = 0
    for row in _rows(ledger):
        out.write(json.dumps(row, sort_keys=True, default=str) + "\n")
        count += 1
    return count


def verify_export(path: Path) -> dict[str, Any]:
    """Verify an exported JSON Lines file offline, with the same rules as the ledger."""
    with path.open(encoding="utf-8") as handle:
        rows = (json.loads(line) for line in handle if line.strip())
        return _describe(check_rows(rows))


def recent_events(
    ledger: Ledger, *, limit: int = 100, before_id: int | None = None
) -> list[dict[str, Any]]:
    """The newest audit events (newest first), ``limit`` at most, older than ``before_id``."""
    query = select(AUDIT).order_by(AUDIT.c.id.desc()).limit(max(1, min(limit, 1000)))
    if before_id is not None:
        query = query.where(AUDIT.c.id < before_id)
    with ledger.read() as conn:
        rows = conn.execute(query).mappings().all()
    return [{**row, "at": row["at"].isoformat()} for row in rows]


def find_events(
    ledger: Ledger, *, limit: int = 100, before_id: int | None = None, name: str | None = None,
    actor: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Like :func:`recent_events`, only events named exactly ``name`` (``claim.add``) and/or
    by exactly ``actor`` (``web:ada``), filtered in the database (the console's audit page)."""
    query = select(AUDIT).order_by(AUDIT.c.id.desc()).limit(max(1, min(limit, 1000)))
    if before_id is not None:
        query = query.where(AUDIT.c.id < before_id)
    if name:
        query = query.where(AUDIT.c.name == name)
    if actor:
        query = query.where(AUDIT.c.actor == actor)
    with ledger.read() as conn:
        rows = conn.execute(query).mappings().all()
    return [{**row, "at": row["at"].isoformat()} for row in rows]


def event_facets(ledger: Ledger) -> dict[str, list[str]]:
    """The distinct event names and actors in the log, sorted (the audit page's filter menus)."""
    with ledger.read() as conn:
        names = conn.execute(select(AUDIT.c.name).distinct().order_by(AUDIT.c.name)).scalars().all()
        actors = (
            conn.execute(select(AUDIT.c.actor).distinct().order_by(AUDIT.c.actor)).scalars().all()
        )
    return {"names": [str(n) for n in names], "actors": [str(a) for a in actors if a is not None]}
