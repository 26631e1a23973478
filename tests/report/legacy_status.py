"""FROZEN reference: the per-row code as it was before issue 15 moved the report and status
to SQL aggregations. Only tests/report/test_report_sql_equivalence.py imports it, to prove
the new code computes identical numbers. Do not change it; delete it with that test.

What is in the ledger: photos, faces and errors per source, and the failures in detail.

Example::

    summary = ledger_status(ledger)
    summary["totals"]["faces"]
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from faceledger.store import Ledger
from faceledger.store.schema import Face, IngestReject, Photo, ScanRun, Source

PHOTOS, FACES, SOURCES = Photo.__table__, Face.__table__, Source.__table__
REJECTS, RUNS = IngestReject.__table__, ScanRun.__table__
_COUNTED = ("pending", "done", "error", "remote", "reserved")


def ledger_status(ledger: Ledger) -> dict[str, Any]:
    """Per-source and total counts (a JSON-ready dict; keys are stable)."""
    faces_per_photo = (
        select(FACES.c.photo_id, func.count().label("n")).group_by(FACES.c.photo_id).subquery()
    )
    columns = [func.count(PHOTOS.c.id).label("photos")]
    columns += [
        func.coalesce(func.sum(case((PHOTOS.c.scan_status == s, 1), else_=0)), 0).label(s)
        for s in _COUNTED
    ]
    columns.append(func.coalesce(func.sum(faces_per_photo.c.n), 0).label("faces"))
    query = (
        select(SOURCES.c.id, SOURCES.c.uri, SOURCES.c.format, SOURCES.c.rows_rejected, *columns)
        .select_from(SOURCES)
        .outerjoin(PHOTOS, PHOTOS.c.source_id == SOURCES.c.id)
        .outerjoin(faces_per_photo, faces_per_photo.c.photo_id == PHOTOS.c.id)
        .group_by(SOURCES.c.id, SOURCES.c.uri, SOURCES.c.format, SOURCES.c.rows_rejected)
        .order_by(SOURCES.c.id)
    )
    with ledger.read() as conn:
        rows = conn.execute(query).mappings().all()
        rejects = dict(
            conn.execute(
                select(REJECTS.c.source_id, func.count()).group_by(REJECTS.c.source_id)
            ).all()
        )
        last_run = conn.execute(select(RUNS).order_by(RUNS.c.id.desc()).limit(1)).mappings().first()
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
        by_reason = dict(
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
    """``faceledger fetch`` outcomes: fetched, reserved by signal, failed by reason."""
    with ledger.read() as conn:
        by_status = dict(
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
            select(func.count())
            .select_from(PHOTOS)
            .where(
                PHOTOS.c.download_url.is_not(None),
                PHOTOS.c.path.is_(None),
                PHOTOS.c.fetch_status.is_(None),
                PHOTOS.c.excluded_request_id.is_(None),
            )  # fmt: skip
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
