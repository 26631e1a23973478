"""What is in the ledger: photos, faces and errors per source, and the failures in detail.

Example::

    summary = ledger_status(ledger)
    summary["totals"]["faces"]
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from faceledger.store import Ledger
from faceledger.store.tables import FACES, PHOTOS, REJECTS, SCAN_RUNS, SOURCES

_COUNTED = ("pending", "done", "error", "remote", "reserved")


def _waiting() -> Any:
    """A photo with a download URL that no fetch has tried yet (and not excluded)."""
    return (
        PHOTOS.c.download_url.is_not(None) & PHOTOS.c.path.is_(None)
        & PHOTOS.c.fetch_status.is_(None) & PHOTOS.c.excluded_request_id.is_(None)
    )  # fmt: skip


def _flag(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def ledger_status(ledger: Ledger) -> dict[str, Any]:
    """Per-source and total counts (a JSON-ready dict; keys are stable).

    Aggregated in the database: one pass over the photos (conditional sums per source), one
    over the faces joined to their photo's source, nothing per row in Python."""
    per_source = (
        select(PHOTOS.c.source_id, func.count().label("photos"),
               *[_flag(PHOTOS.c.scan_status == s).label(s) for s in _COUNTED])
        .group_by(PHOTOS.c.source_id)
    )  # fmt: skip
    faces = (
        select(PHOTOS.c.source_id, func.count().label("faces"))
        .select_from(FACES).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
        .group_by(PHOTOS.c.source_id)
    )  # fmt: skip
    with ledger.read() as conn:
        listed = conn.execute(
            select(SOURCES.c.id, SOURCES.c.uri, SOURCES.c.format).order_by(SOURCES.c.id)
        ).all()
        counts = {int(r.source_id): r for r in conn.execute(per_source)}
        face_counts = {int(k): int(n) for k, n in conn.execute(faces)}
        rejects: dict[int, int] = dict(
            conn.execute(
                select(REJECTS.c.source_id, func.count()).group_by(REJECTS.c.source_id)
            ).all()
        )
        last_run = (
            conn.execute(select(SCAN_RUNS).order_by(SCAN_RUNS.c.id.desc()).limit(1))
            .mappings()
            .first()
        )
    empty = {"photos": 0, **{s: 0 for s in _COUNTED}}
    rows = []
    for source in listed:
        found = counts.get(int(source.id))
        numbers = empty if found is None else found._mapping
        rows.append({"id": source.id, "uri": source.uri, "format": source.format,
                     "faces": face_counts.get(int(source.id), 0), **{k: numbers[k] for k in empty}})  # fmt: skip
    sources = []
    for row in rows:
        entry = {
            "id": row["id"],
            "uri": row["uri"].split(":", 1)[1],
            "format": row["format"],
            "photos": int(row["photos"]),
            "scanned": int(row["done"]),
            "pending": int(row["pending"]),
            "errors": int(row["error"]),
            "metadata_only": int(row["remote"]),
            "faces": int(row["faces"]),
            "rejected_rows": int(rejects.get(row["id"], 0)),
            "reserved": int(row["reserved"]),
        }
        sources.append(entry)
    keys = (
        "photos",
        "scanned",
        "pending",
        "errors",
        "metadata_only",
        "faces",
        "rejected_rows",
        "reserved",
    )
    totals = {key: sum(s[key] for s in sources) for key in keys}
    totals["sources"] = len(sources)
    return {
        "ledger": ledger.url,
        "totals": totals,
        "sources": sources,
        "acquisition": acquisition_status(ledger),
        "last_scan": None
        if last_run is None
        else {
            "id": last_run["id"],
            "status": last_run["status"],
            "detector": f"{last_run['detector_name']} {last_run['detector_version']}",
            "photos_done": last_run["photos_done"],
            "photos_failed": last_run["photos_failed"],
            "faces_found": last_run["faces_found"],
        },
    }


def ledger_errors(ledger: Ledger, *, limit: int = 1000) -> dict[str, Any]:
    """Photos that failed to scan and manifest lines that were rejected, with reasons."""
    with ledger.read() as conn:
        photos = conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.path, PHOTOS.c.scan_error, PHOTOS.c.scan_error_detail)
            .where(PHOTOS.c.scan_status == "error")
            .order_by(PHOTOS.c.id)
            .limit(limit)
        ).all()
        by_reason: dict[str, int] = dict(
            conn.execute(
                select(PHOTOS.c.scan_error, func.count())
                .where(PHOTOS.c.scan_status == "error")
                .group_by(PHOTOS.c.scan_error)
            ).all()
        )
        lines = conn.execute(
            select(SOURCES.c.uri, REJECTS.c.line, REJECTS.c.reason)
            .join(SOURCES, SOURCES.c.id == REJECTS.c.source_id)
            .order_by(REJECTS.c.source_id, REJECTS.c.line)
            .limit(limit)
        ).all()
    return {
        "scan_errors_by_reason": {str(k): int(v) for k, v in by_reason.items()},
        "scan_errors": [
            {"photo_id": r[0], "path": r[1], "reason": r[2], "detail": r[3]} for r in photos
        ],
        "rejected_rows": [
            {"file": r[0].split(":", 1)[1], "line": r[1], "reason": r[2]} for r in lines
        ],
        **acquisition_details(ledger, limit=limit),
    }


def acquisition_status(ledger: Ledger) -> dict[str, Any]:
    """``faceledger fetch`` outcomes: fetched, reserved by signal, failed by reason.

    Grouped counts in the database; the status and error groups use ``ix_photos_fetch_status``
    (a single pass grouping every column at once measured slower on SQLite: it sorts all rows)."""
    with ledger.read() as conn:
        by_status: dict[str, int] = dict(
            conn.execute(
                select(PHOTOS.c.fetch_status, func.count())
                .where(PHOTOS.c.fetch_status.is_not(None))
                .group_by(PHOTOS.c.fetch_status)
            ).all()
        )
        reserved = conn.execute(
            select(PHOTOS.c.reservation, func.count())
            .where(PHOTOS.c.reservation.is_not(None))
            .group_by(PHOTOS.c.reservation)
        ).all()
        failed = conn.execute(
            select(PHOTOS.c.fetch_error, func.count())
            .where(PHOTOS.c.fetch_status == "failed")
            .group_by(PHOTOS.c.fetch_error)
        ).all()
        waiting = conn.execute(
            select(func.count()).select_from(PHOTOS).where(_waiting())
        ).scalar_one()
    return {
        "fetched": int(by_status.get("fetched", 0)),
        "reserved": sum(int(n) for _, n in reserved),
        "failed": int(by_status.get("failed", 0)),
        "not_fetched": int(waiting),
        "reserved_by_signal": {str(k): int(v) for k, v in sorted(reserved)},
        "failed_by_reason": {str(k): int(v) for k, v in sorted(failed, key=lambda r: str(r[0]))},
    }


def acquisition_details(ledger: Ledger, *, limit: int = 1000) -> dict[str, Any]:
    """Reserved photos with their signal and evidence, failed fetches with their reason."""
    with ledger.read() as conn:
        reserved = conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.download_url, PHOTOS.c.reservation, PHOTOS.c.reservation_evidence)
            .where(PHOTOS.c.reservation.is_not(None)).order_by(PHOTOS.c.id).limit(limit)
        ).all()  # fmt: skip
        failed = conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.download_url, PHOTOS.c.fetch_error, PHOTOS.c.fetch_error_detail)
            .where(PHOTOS.c.fetch_status == "failed").order_by(PHOTOS.c.id).limit(limit)
        ).all()  # fmt: skip
    return {
        "reserved": [
            {"photo_id": r[0], "url": r[1], "signal": r[2], "evidence": r[3]} for r in reserved
        ],
        "fetch_failures": [
            {"photo_id": r[0], "url": r[1], "reason": r[2], "detail": r[3]} for r in failed
        ],
    }
