"""Release consumers: who received which version (a disclosure, audited), the notices an
erasure makes due to them (GDPR Art. 17(2) / 19), and recording that they were told."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from faceledger.errors import ReleaseError
from faceledger.services.lifecycle.release_versions import (
    VersionInfo,
    get_version,
    parse_ref,
    versions_holding,
)
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import (
    CONSUMERS,
    ITEMS,
    NOTICES,
    RELEASES,
    VERSIONS,
    bound_in_chunks,
)


def notify_consumers(
    conn: Connection, *, face_ids: set[int], photo_ids: set[int], request_id: int,
    new_versions: list[VersionInfo],
) -> list[dict[str, Any]]:  # fmt: skip
    """Record a notice due to every consumer of a version that held these faces or photos
    (GDPR Art. 17(2) / 19); returns them as ``{consumer, release, version, replaced_by}``."""
    holding = versions_holding(conn, face_ids, photo_ids)
    if not holding:
        return []
    replacement = {v.release: v for v in new_versions}
    rows = conn.execute(
        select(
            CONSUMERS.c.id, CONSUMERS.c.name, RELEASES.c.name.label("release"), VERSIONS.c.version
        )
        .join(VERSIONS, VERSIONS.c.id == CONSUMERS.c.version_id)
        .join(RELEASES, RELEASES.c.id == VERSIONS.c.release_id)
        .where(CONSUMERS.c.version_id.in_(sorted(holding)))
        .order_by(CONSUMERS.c.id)
    ).all()
    now = utcnow()
    notices = []
    for row in rows:
        new = replacement.get(row.release)
        conn.execute(
            NOTICES.insert().values(
                consumer_id=row.id,
                request_id=request_id,
                version_id=new.id if new else None,
                due_at=now,
            )  # fmt: skip
        )
        notices.append({
            "consumer_id": int(row.id), "consumer": row.name, "release": row.release,
            "version": int(row.version), "replaced_by": new.ref if new else None,
        })  # fmt: skip
    return notices


def add_consumer(
    ledger: Ledger, *, name: str, ref: str, contact: str | None = None, actor: str = "cli"
) -> dict[str, Any]:
    """Register that ``name`` received release version ``ref`` (a disclosure, audited)."""
    if not name.strip():
        raise ReleaseError("a consumer needs a name")
    with ledger.begin() as conn:
        version = get_version(conn, ref)
        if parse_ref(ref)[1] is None:
            raise ReleaseError(f"name the version the consumer received: {version.ref}, not {ref}")
        exists = conn.execute(
            select(CONSUMERS.c.id).where(
                CONSUMERS.c.name == name, CONSUMERS.c.version_id == version.id
            )
        ).first()
        if exists is not None:
            raise ReleaseError(f"consumer {name!r} is already registered for {version.ref}")
        now = utcnow()
        consumer_id = conn.execute(
            CONSUMERS.insert().values(name=name.strip(), version_id=version.id, contact=contact,
                                      registered_at=now).returning(CONSUMERS.c.id)
        ).scalar_one()  # fmt: skip
        append(
            conn,
            AuditRecord(
                name="consumer.add",
                actor=actor,
                object_type="consumer",
                object_id=str(consumer_id),
                payload={
                    "consumer": int(consumer_id),
                    "release": version.release,
                    "version": version.version,
                    "faces": version.faces,
                },
            ),  # fmt: skip
        )
    return {
        "id": int(consumer_id),
        "name": name.strip(),
        "release": version.ref,
        "registered_at": now,
    }


_HOLDINGS = (
    select(ITEMS.c.photo_id, RELEASES.c.name, VERSIONS.c.version, CONSUMERS.c.name.label("consumer"))
    .select_from(ITEMS.join(VERSIONS, VERSIONS.c.id == ITEMS.c.version_id)
                 .join(RELEASES, RELEASES.c.id == VERSIONS.c.release_id)
                 .outerjoin(CONSUMERS, CONSUMERS.c.version_id == VERSIONS.c.id))
    .where(ITEMS.c.photo_id.in_(bindparam("ids", expanding=True)))
    .distinct()
)  # fmt: skip


def holdings_by_photo(
    conn: Connection, photo_ids: Iterable[int]
) -> dict[int, tuple[list[str], list[str]]]:
    """For each of these photos that a release version held: the ``NAME@vN`` of those versions
    and the names of the consumers that received any of them, both sorted. One query a chunk
    of photos (the portal's search results: no query per photo, no read of every consumer)."""
    versions: dict[int, set[tuple[str, int]]] = {}
    consumers: dict[int, set[str]] = {}
    for row in bound_in_chunks(conn, _HOLDINGS, sorted({int(p) for p in photo_ids})):
        versions.setdefault(int(row.photo_id), set()).add((str(row.name), int(row.version)))
        if row.consumer is not None:
            consumers.setdefault(int(row.photo_id), set()).add(str(row.consumer))
    return {
        photo: ([f"{name}@v{version}" for name, version in sorted(held)],
                sorted(consumers.get(photo, set())))
        for photo, held in versions.items()
    }  # fmt: skip


def list_consumers(ledger: Ledger) -> list[dict[str, Any]]:
    """Every consumer with the version it received and the notices it is owed."""
    with ledger.read() as conn:
        rows = conn.execute(
            select(CONSUMERS, RELEASES.c.name.label("release"), VERSIONS.c.version)
            .join(VERSIONS, VERSIONS.c.id == CONSUMERS.c.version_id)
            .join(RELEASES, RELEASES.c.id == VERSIONS.c.release_id)
            .order_by(CONSUMERS.c.id)
        ).all()
        due = Counter(
            int(c)
            for (c,) in conn.execute(
                select(NOTICES.c.consumer_id).where(NOTICES.c.notified_at.is_(None))
            )
        )
    return [
        {"id": int(r.id), "name": r.name, "release": f"{r.release}@v{r.version}", "contact": r.contact,
         "registered_at": r.registered_at, "notified_at": r.notified_at, "notices_due": due.get(int(r.id), 0)}
        for r in rows
    ]  # fmt: skip


def mark_notified(ledger: Ledger, *, consumer_id: int, actor: str = "cli") -> int:
    """Record that a consumer was told of every notice it is owed; how many were due."""
    now = utcnow()
    with ledger.begin() as conn:
        if (
            conn.execute(select(CONSUMERS.c.id).where(CONSUMERS.c.id == consumer_id)).first()
            is None
        ):
            raise ReleaseError(f"no consumer {consumer_id} (see faceledger consumer list)")
        due = conn.execute(
            select(NOTICES.c.id, NOTICES.c.request_id).where(
                NOTICES.c.consumer_id == consumer_id, NOTICES.c.notified_at.is_(None)
            ).order_by(NOTICES.c.id)
        ).all()  # fmt: skip
        count = conn.execute(
            update(NOTICES).where(NOTICES.c.consumer_id == consumer_id, NOTICES.c.notified_at.is_(None))
            .values(notified_at=now)
        ).rowcount  # fmt: skip
        conn.execute(update(CONSUMERS).where(CONSUMERS.c.id == consumer_id).values(notified_at=now))
        append(
            conn,
            AuditRecord(
                name="consumer.notified",
                actor=actor,
                object_type="consumer",
                object_id=str(consumer_id),
                payload={
                    "consumer": consumer_id,
                    "notices": int(count),
                    "requests": sorted({int(r.request_id) for r in due}),
                },
            ),  # fmt: skip
        )
    return int(count)
