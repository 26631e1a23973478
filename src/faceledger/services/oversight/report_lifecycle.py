"""Requests, retention and releases: what is owed to people, what is due, what was handed out.

Example::

    lifecycle_numbers(ledger, purpose="train-face-recognition",
                      action="extract-template", today=date(2026, 1, 1))["requests"]
    # {'recorded': False, 'total': 0, 'open': 0, 'overdue': 0, 'note': 'no requests recorded', ...}

The ``requests``, ``retention`` and ``releases`` sections of the report, read from the typed
tables of :mod:`faceledger.store.tables`. A request is open by the ledger's one rule
(:func:`~faceledger.store.tables.open_request`: received or verified; executed, confirmed and
rejected are closed, :data:`~faceledger.services.lifecycle.request_records.STATUSES`) and overdue when
it is open past its ``deadline`` (as :meth:`RequestRecord.is_overdue
<faceledger.services.lifecycle.request_records.RequestRecord.is_overdue>` says); open requests are
listed overdue first. An empty table reports "no requests recorded" / "no releases recorded".

Retention counts only what is held: faces with a readable template, due by the
``destroy_by`` of the decision the template was made under (what ``retention sweep`` reads)
or, where no law sets one (MHMDA has no clock), by the organisation's own
``retention_limit_days`` after the template was stored; without that setting they are
reported as a warning. Erased subjects are those whose data key was shredded.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from faceledger.store import Ledger
from faceledger.store.tables import (
    CONSUMERS,
    DECISIONS,
    RELEASES,
    REQUESTS,
    SUBJECTS,
    TEMPLATES,
    VERSIONS,
    open_request,
)

#: Open requests listed by name in the report (the rest are counted).
LISTED = 50


def _day(value: date | datetime | str | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def _count(conn: Connection, table: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def request_numbers(conn: Connection, today: date) -> dict[str, Any]:
    """The ``requests`` section: every request by status, the open ones overdue first."""
    by_status = {
        str(status): int(n)
        for status, n in conn.execute(
            select(REQUESTS.c.status, func.count())
            .group_by(REQUESTS.c.status)
            .order_by(REQUESTS.c.status)
        ).all()
    }
    total = sum(by_status.values())
    if not total:
        return {"recorded": False, "total": 0, "open": 0, "overdue": 0, "by_status": {},
                "open_items": [], "note": "no requests recorded"}  # fmt: skip
    rows = conn.execute(
        select(REQUESTS.c.id, REQUESTS.c.kind, REQUESTS.c.status, REQUESTS.c.deadline).where(
            open_request()
        )
    ).all()
    items = []
    for row in rows:
        due = _day(row.deadline)
        items.append({
            "id": row.id, "kind": row.kind, "status": row.status,
            "due": due.isoformat() if due else None, "overdue": due is not None and due < today,
        })  # fmt: skip
    items.sort(key=lambda i: (not i["overdue"], i["due"] or "9999", str(i["id"])))
    return {
        "recorded": True,
        "total": total,
        "open": len(items),
        "overdue": sum(i["overdue"] for i in items),
        "by_status": dict(sorted(by_status.items())),
        "open_items": items[:LISTED],
        "note": None,
    }


def release_numbers(conn: Connection) -> dict[str, Any]:
    """The ``releases`` section: releases, versions cut and consumers registered."""
    versions = _count(conn, VERSIONS)
    return {
        "recorded": versions > 0,
        "releases": _count(conn, RELEASES),
        "versions": versions,
        "consumers": _count(conn, CONSUMERS),
        "note": None if versions else "no releases recorded",
    }


def _held(conn: Connection) -> Any:
    """Per face that holds biometric data (a template of an active subject, whose key is not
    shredded): the earliest legal deadline of the decisions its templates were made under
    (as ``retention sweep`` reads them) and when its first template was stored."""
    per_face = (
        select(TEMPLATES.c.face_id, func.min(DECISIONS.c.destroy_by).label("due"),
               func.min(TEMPLATES.c.created_at).label("stored"))
        .join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
        .join(DECISIONS, DECISIONS.c.id == TEMPLATES.c.decision_id)
        .where(SUBJECTS.c.status == "active")
        .group_by(TEMPLATES.c.face_id)
    )  # fmt: skip
    return conn.execution_options(yield_per=10_000).execute(per_face)


def _retention(conn: Connection, purpose: str, action: str, today: date,
               limit_days: int | None) -> dict[str, Any]:  # fmt: skip
    held = select(TEMPLATES.c.face_id).join(SUBJECTS, SUBJECTS.c.id == TEMPLATES.c.subject_id)
    held = held.where(SUBJECTS.c.status == "active")
    now_blocked = conn.execute(
        select(func.count(func.distinct(DECISIONS.c.face_id)))
        .where(DECISIONS.c.purpose == purpose, DECISIONS.c.action == action,
               DECISIONS.c.decision == "block", DECISIONS.c.face_id.in_(held))
    ).scalar_one()  # fmt: skip
    due: Counter[str] = Counter()
    source: Counter[str] = Counter()
    overdue = 0
    rows = _held(conn)
    try:
        for _face, legal, stored in rows:
            day = _day(legal)
            if day is not None:
                source["law"] += 1
            elif limit_days is not None and stored is not None:
                day = _day(stored) + timedelta(days=limit_days)  # type: ignore[operator,assignment]
                source["organisation limit"] += 1
            if day is None:
                source["none"] += 1
                due["no deadline"] += 1
                continue
            due[day.strftime("%Y-%m")] += 1
            overdue += day < today
    finally:
        rows.close()
    subjects = conn.execute(select(SUBJECTS.c.status, SUBJECTS.c.shredded_at)).all()
    erased: Counter[str] = Counter()
    for status, shredded_at in subjects:
        if status != "active":
            erased[shredded_at.strftime("%Y-%m") if shredded_at else "unknown"] += 1
    without = source.get("none", 0)
    warnings = []
    if without:
        warnings.append(
            f"{without:,} faces hold templates that no law in scope gives a deadline (e.g. MHMDA "
            "sets none) and no organisation retention limit is set: set retention_limit_days, "
            "or they are kept without end"
        )  # fmt: skip
    return {
        "faces_due_by_month": dict(sorted(due.items())),
        "templates_due_by_month": {k: v for k, v in sorted(due.items()) if k != "no deadline"},
        "held_faces": sum(source.values()),
        "deadline_source": {k: source.get(k, 0) for k in ("law", "organisation limit", "none")},
        "retention_limit_days": limit_days,
        "templates_overdue": overdue,
        "templates_without_deadline": without,
        "templates_now_blocked": int(now_blocked),
        "subjects": {
            "total": len(subjects),
            "erased": sum(erased.values()),
            "erased_by_month": dict(sorted(erased.items())),
        },
        "warnings": warnings,
        "notes": [
            "due: only faces that hold biometric data (a readable template) are counted; a "
            "face's deadline is the earliest destroy_by of the decisions its templates were made "
            "under (the laws in scope), else its first template's date plus the organisation's "
            "retention_limit_days",
            "erased: subjects whose data key was shredded; their templates can no longer be read",
            "now blocked: readable templates of faces whose decision for the purpose is now block "
            "(a consent was revoked or expired since extraction): due for destruction",
        ],
    }


def lifecycle_numbers(ledger: Ledger, *, purpose: str, action: str, today: date,
                      retention_limit_days: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The ``requests``, ``retention`` and ``releases`` sections of the report."""
    with ledger.read() as conn:
        return {
            "requests": request_numbers(conn, today),
            "retention": _retention(conn, purpose, action, today, retention_limit_days),
            "releases": release_numbers(conn),
        }
