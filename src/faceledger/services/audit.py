"""The audit log's use cases: verify the chain, export it, and keep checkpoints elsewhere.

Example::

    result = verify_audit(ledger, checkpoints=settings.data_dir / "audit-checkpoints.jsonl")
    result["ok"], result["problems"]
    export_audit(ledger, Path("audit.jsonl"))          # JSON Lines, one event a line
    verify_export(Path("audit.jsonl"))                 # the same check, offline
    record_checkpoint(ledger, settings.data_dir / "audit-checkpoints.jsonl")

The hash chain makes any edit, deletion, insertion or reordering of past rows visible at the
first row it touches. Two things it cannot show alone: the newest rows being cut off, and a
writer with database access recomputing every later hash. A checkpoint (row count, last id
and head hash), copied somewhere the database's writers cannot reach (a ticket, an email, a
write-once bucket), closes both: verification checks that every checkpoint is still a prefix
of the chain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func, select

from faceledger.errors import FaceledgerError
from faceledger.store import Ledger
from faceledger.store.audit import AUDIT, ChainCheck, check_chain, check_rows
from faceledger.store.ledger import utcnow


class AuditBroken(FaceledgerError):
    """The audit chain does not verify; the message names the first bad row."""

    exit_code = 1


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


def _read_checkpoints(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def verify_audit(ledger: Ledger, *, checkpoints: Path | None = None) -> dict[str, Any]:
    """Walk the whole chain, then check every recorded checkpoint is still its prefix."""
    with ledger.read() as conn:
        check = check_chain(conn)
        result = _describe(check)
        total = conn.execute(select(func.count()).select_from(AUDIT)).scalar_one()
        result["rows"] = int(total)
        problems = []
        for point in _read_checkpoints(checkpoints):
            row = conn.execute(select(AUDIT.c.hash).where(AUDIT.c.id == point["last_id"])).first()
            upto = conn.execute(
                select(func.count()).select_from(AUDIT).where(AUDIT.c.id <= point["last_id"])
            ).scalar_one()
            if row is None or row.hash != point["head"] or upto != point["rows"]:
                problems.append(
                    f"checkpoint of {point['at']} ({point['rows']} rows, head {point['head'][:12]}) "
                    "no longer matches: rows up to it were removed or the chain was rewritten"
                )
    result["checkpoints_checked"] = len(_read_checkpoints(checkpoints))
    result["checkpoint_problems"] = problems
    result["ok"] = check.ok and not problems
    return result


def record_checkpoint(ledger: Ledger, path: Path) -> dict[str, Any]:
    """Append the current head to ``path`` (only when the chain verifies); return it."""
    with ledger.read() as conn:
        check = check_chain(conn)
    if not check.ok:
        raise AuditBroken(f"no checkpoint taken: {_message(check)}")
    point = {"at": utcnow().isoformat(), "rows": check.rows, "last_id": check.last_id, "head": check.head}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(point) + "\n")
    return point


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


def recent_events(ledger: Ledger, *, limit: int = 100, before_id: int | None = None) -> list[dict[str, Any]]:
    """The newest audit events (newest first), ``limit`` at most, older than ``before_id``."""
    query = select(AUDIT).order_by(AUDIT.c.id.desc()).limit(max(1, min(limit, 1000)))
    if before_id is not None:
        query = query.where(AUDIT.c.id < before_id)
    with ledger.read() as conn:
        rows = conn.execute(query).mappings().all()
    return [{**row, "at": row["at"].isoformat()} for row in rows]
