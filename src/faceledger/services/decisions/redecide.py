"""Re-deciding the faces a consent or claim change touches, in the change's transaction.

Example::

    with ledger.begin() as conn:
        ...record the change...
        result = reassess_decided(ledger, conn, face_ids, on=today, policies=laws_for(settings),
                                  actor="cli", trigger={"event": "claim.add", "claim_id": 3})
    result.by_decision                       # {'allow': 1}

Only (purpose, action) pairs a face already has a decision for are re-decided, each with the
processor that decision was made for; faces never assessed wait for ``faceledger assess``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from faceledger.core.law import Policy, Processor
from faceledger.services.decisions.assess import assess_face_ids
from faceledger.store import Ledger
from faceledger.store.tables import DECISION_OUTCOMES, DECISIONS, OUTCOMES

_PAGE = 1_000


@dataclass
class Reassessment:
    """The faces a consent or claim change re-decided, and how they came out."""

    on: date | None = None
    faces: int = 0
    by_decision: Counter[str] = field(default_factory=Counter)
    purposes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.on.isoformat() if self.on else None,
            "faces": self.faces,
            "allowed": self.by_decision.get("allow", 0),
            "blocked": self.by_decision.get("block", 0),
            "purposes": sorted(self.purposes),
        }


def reassess_decided(
    ledger: Ledger,
    conn: Connection,
    face_ids: Iterable[int],
    *,
    on: date,
    policies: list[Policy],
    actor: str,
    trigger: dict[str, Any],
) -> Reassessment:
    """Re-decide, in ``conn``'s transaction, these faces for every (purpose, action) they
    already have a decision for, with the processor that decision was made for.

    One :func:`assess_face_ids` call per (purpose, action, processor). Faces never assessed
    are left to the next ``faceledger assess``.
    """
    result = Reassessment(on=on)
    ids = sorted({int(i) for i in face_ids})
    groups: dict[tuple[str, str, str | None, bool], set[int]] = {}
    for start in range(0, len(ids), _PAGE):
        rows = conn.execute(
            select(DECISIONS.c.face_id, DECISIONS.c.purpose, DECISIONS.c.action,
                   OUTCOMES.c.scenario)
            .select_from(DECISION_OUTCOMES)
            .where(DECISIONS.c.face_id.in_(ids[start : start + _PAGE]))
        )  # fmt: skip
        for face_id, purpose, action, scenario in rows:
            processor = (scenario or {}).get("processor") or {}
            key = (
                purpose,
                action,
                processor.get("location"),
                bool(processor.get("commercial", True)),
            )
            groups.setdefault(key, set()).add(int(face_id))
    if not groups:
        return result
    for (purpose, action, location, commercial), group in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "", item[0][3])
    ):
        report = assess_face_ids(
            ledger, group, purpose=purpose, action=action, on=on, actor=actor,
            processor=Processor(location=location, commercial=commercial),
            policies=policies, conn=conn, trigger=trigger,
        )  # fmt: skip
        result.faces += report.faces
        result.by_decision.update(report.by_decision)
        if purpose not in result.purposes:
            result.purposes.append(purpose)
    return result
