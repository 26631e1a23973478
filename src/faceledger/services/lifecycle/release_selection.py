"""Selecting what a release may hold: faces whose recorded extract decision allows the
purpose, decided again now for action ``release`` (a disclosure) with the stated basis, and
only whole photos (every face of a photo goes in, or none). Used by
:func:`faceledger.services.lifecycle.releases.create_release`."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, select

from faceledger.config import Settings
from faceledger.core.law import Processor
from faceledger.core.law.decision import IN_SCOPE
from faceledger.services.biometrics.templates import EXTRACT
from faceledger.services.decisions.assess import assess_face_ids
from faceledger.services.decisions.policy import laws_for
from faceledger.store import Ledger
from faceledger.store.tables import (
    DECISIONS,
    FACES,
    OUTCOMES,
    PHOTOS,
    chunks,
)

RELEASE_ACTION = "release"


def face_facts(result: dict[str, Any], scenario: dict[str, Any]) -> tuple[str, str, str]:
    """(jurisdictions, laws in scope, consent basis) of one face's allowing decision."""
    in_scope = IN_SCOPE[str(result.get("mode", "conservative"))]
    laws = sorted(law["id"] for law in result.get("laws", []) if law.get("applies") in in_scope)
    codes = sorted({j["code"] for j in result.get("jurisdictions", [])})
    basis = "consent" if laws and scenario.get("consents") else "none-required"
    return ",".join(codes), ",".join(laws), basis


def candidates(conn: Connection, purpose: str) -> dict[int, list[Any]]:
    """Faces of scanned, non-excluded photos, with their allowing extract decision (or None)."""
    allowed = and_(
        DECISIONS.c.face_id == FACES.c.id, DECISIONS.c.purpose == purpose,
        DECISIONS.c.action == EXTRACT, DECISIONS.c.decision == "allow",
    )  # fmt: skip
    rows = conn.execute(
        select(
            FACES.c.id.label("face_id"),
            FACES.c.photo_id,
            FACES.c.face_index,
            FACES.c.x1,
            FACES.c.y1,
            FACES.c.x2,
            FACES.c.y2,
            FACES.c.score,
            FACES.c.excluded_request_id,
            PHOTOS.c.external_id,
            PHOTOS.c.download_url,
            PHOTOS.c.page_url,
            PHOTOS.c.license_name,
            PHOTOS.c.license_url,
            DECISIONS.c.id.label("decision_id"),
            DECISIONS.c.destroy_by,
            OUTCOMES.c.result,
            OUTCOMES.c.scenario,
        )  # fmt: skip
        .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
        .outerjoin(DECISIONS, allowed)
        .outerjoin(OUTCOMES, OUTCOMES.c.id == DECISIONS.c.outcome_id)
        .where(PHOTOS.c.excluded_request_id.is_(None), PHOTOS.c.scan_status == "done")
        .order_by(FACES.c.photo_id, FACES.c.face_index)
    ).all()
    by_photo: dict[int, list[Any]] = {}
    for row in rows:
        by_photo.setdefault(int(row.photo_id), []).append(row)
    return by_photo


def whole_photos(by_photo: dict[int, list[Any]], allowed: set[int] | None = None) -> list[Any]:
    """Faces of photos whose every face is allowed (and in ``allowed`` when given)."""
    return [
        face
        for faces in by_photo.values()
        if all(
            f.decision_id is not None
            and f.excluded_request_id is None
            and (allowed is None or int(f.face_id) in allowed)
            for f in faces
        )  # fmt: skip
        for face in faces
    ]


def release_allowed(
    ledger: Ledger, conn: Connection, settings: Settings, purpose: str, face_ids: list[int],
    on: date, actor: str, disclosure_basis: str | None = None,
) -> set[int]:  # fmt: skip
    """Faces the law engine allows to be released (action ``release``, with the stated
    ``disclosure_basis``), decided now."""
    if not face_ids:
        return set()
    processor = Processor(
        location=settings.processor_location, commercial=settings.processor_commercial
    )
    trigger: dict[str, Any] = {"event": "release.create"}
    if disclosure_basis is not None:
        trigger["disclosure_basis"] = disclosure_basis
    assess_face_ids(
        ledger, face_ids, purpose=purpose, processor=processor, action=RELEASE_ACTION, on=on,
        actor=actor, policies=laws_for(settings), conn=conn,
        trigger=trigger, disclosure_basis=disclosure_basis,
    )  # fmt: skip
    allowed: set[int] = set()
    for chunk in chunks(face_ids):
        allowed.update(
            int(face_id)
            for (face_id,) in conn.execute(
                select(DECISIONS.c.face_id).where(
                    DECISIONS.c.face_id.in_(chunk),
                    DECISIONS.c.purpose == purpose,
                    DECISIONS.c.action == RELEASE_ACTION,
                    DECISIONS.c.decision == "allow",
                )  # fmt: skip
            )
        )
    return allowed
