"""People: subjects as clusters of faces, and their links to photo owners.

Clustering is incremental and stable (see :mod:`faceledger.services.biometrics.extract`): a new face joins
the subject of its nearest stored face when the embedding distance is at most
``cluster_threshold`` (by default the embedder's own: 1.0 for SFace, 0.5 for dlib; stricter
than its same-person threshold, 1.095 / 0.6, so that two people are rarely merged; a person split in two is the cheaper error
for erasure, as both halves are found by a selfie search), otherwise it founds a new subject.
Existing assignments never change, so a re-run or a new photo never renumbers anyone.

Owner links: a subject is linked to an owner id (a Flickr NSID) when its faces appear in at
least two photos and every one of them was published by that owner: the evidence a
photographer's self-portraits give. The evidence is stored beside the link.

Example::

    link_owners(ledger, {3, 7})
    list_subjects(ledger)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update

from faceledger.store import Ledger
from faceledger.store.tables import FACE_SUBJECTS, FACES, PHOTOS, SUBJECTS

MIN_PHOTOS_FOR_OWNER_LINK = 2


def link_owners(ledger: Ledger, subject_ids: Iterable[int]) -> None:
    """Re-derive the owner link of each subject from the photos its faces are in."""
    ids = sorted(set(subject_ids))
    if not ids:
        return
    with ledger.begin() as conn:
        rows = conn.execute(
            select(FACE_SUBJECTS.c.subject_id, PHOTOS.c.id, PHOTOS.c.owner_id)
            .join(FACES, FACES.c.id == FACE_SUBJECTS.c.face_id)
            .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
            .where(FACE_SUBJECTS.c.subject_id.in_(ids))
        ).all()
        photos: dict[int, set[int]] = {}
        owners: dict[int, set[str | None]] = {}
        for subject_id, photo_id, owner_id in rows:
            photos.setdefault(subject_id, set()).add(photo_id)
            owners.setdefault(subject_id, set()).add(owner_id)
        for subject_id in ids:
            seen = owners.get(subject_id, set())
            count = len(photos.get(subject_id, set()))
            owner, link = None, None
            if len(seen) == 1 and None not in seen and count >= MIN_PHOTOS_FOR_OWNER_LINK:
                owner = next(iter(seen))
                link = f"in {count} photos, all published by {owner}"
            elif len(seen - {None}) > 1:
                link = f"in photos of {len(seen - {None})} different owners: no link"
            conn.execute(
                update(SUBJECTS)
                .where(SUBJECTS.c.id == subject_id)
                .values(owner_id=owner, owner_link=link)
            )


def list_subjects(ledger: Ledger, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Subjects with their face and photo counts (no template is read)."""
    query = (
        select(
            SUBJECTS.c.id,
            SUBJECTS.c.status,
            SUBJECTS.c.owner_id,
            SUBJECTS.c.owner_link,
            func.count(FACE_SUBJECTS.c.face_id).label("faces"),
            func.count(func.distinct(FACES.c.photo_id)).label("photos"),
        )  # fmt: skip
        .select_from(SUBJECTS)
        .outerjoin(FACE_SUBJECTS, FACE_SUBJECTS.c.subject_id == SUBJECTS.c.id)
        .outerjoin(FACES, FACES.c.id == FACE_SUBJECTS.c.face_id)
        .group_by(SUBJECTS.c.id, SUBJECTS.c.status, SUBJECTS.c.owner_id, SUBJECTS.c.owner_link)
        .order_by(SUBJECTS.c.id)
        .limit(limit)
    )
    with ledger.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
