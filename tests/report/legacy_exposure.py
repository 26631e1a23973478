"""FROZEN reference: the per-row code as it was before issue 15 moved the report and status
to SQL aggregations. Only tests/report/test_report_sql_equivalence.py imports it, to prove
the new code computes identical numbers. Do not change it; delete it with that test.

Exposure: per law, the faces and people at risk from the recorded decisions, and the
statutory range the engine estimates for them.

Example::

    document = ledger_exposure(ledger, purpose="train-face-recognition", turnover=5e8)
    [(law["law"], law["faces"], law["subjects"]) for law in document["laws"]]

A face is *at risk* under a law when its recorded decision (``faceledger assess``) is
``block`` and that law applies to it (``yes``, ``likely`` or ``uncertain``). Faces are not
clustered into people yet, so *subjects* are counted as the distinct photo owners among the
faces at risk plus every face at risk whose photo has no owner; the document says so. The
money comes from :func:`faceledger.core.law.estimate_exposures` on the assessment date,
counted per violated section (BIPA after SB 2979: 15(b)/(d) per person, 15(a)/(c)/(e) per
violation; a face at risk under a law it does not violate, graded ``uncertain``, is counted
against the law's consent section only when no section is recorded).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from faceledger.core.law import Policy, estimate_exposures, load_policies
from faceledger.core.law.decision import IN_SCOPE
from faceledger.errors import AssessmentNotFound, PolicyError
from faceledger.services.decisions.assess import DEFAULT_ACTION
from faceledger.store import Ledger
from faceledger.store.schema import Face, FaceDecision, Photo
from faceledger.store.tables import DECISION_OUTCOMES, OUTCOMES

FACES, PHOTOS, DECISIONS = Face.__table__, Photo.__table__, FaceDecision.__table__
AT_RISK = IN_SCOPE["conservative"]
_PAGE = 2_000
SUBJECTS_ASSUMPTION = (
    "faces are not clustered into people yet: subjects = distinct photo owners among the "
    "faces at risk + faces at risk whose photo has no owner (people photographed by the same "
    "owner count as one person; one person in photos by several owners counts several times)"
)


@dataclass
class _LawCount:
    faces: int = 0
    violating: int = 0
    owners: set[str] = field(default_factory=set)
    without_owner: int = 0
    applies: Counter[str] = field(default_factory=Counter)
    title: str = ""
    #: section -> [faces violating it, owners among them, faces without owner]
    sections: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def subjects(self) -> int:
        return len(self.owners) + self.without_owner


def _tally(
    ledger: Ledger, purpose: str, action: str
) -> tuple[dict[str, _LawCount], set[str], int, int]:
    laws: dict[str, _LawCount] = {}
    dates: set[str] = set()
    blocked = 0
    last = 0
    where = (DECISIONS.c.purpose == purpose, DECISIONS.c.action == action)
    with ledger.read() as conn:
        assessed = int(
            conn.execute(select(func.count()).select_from(DECISIONS).where(*where)).scalar_one()
        )
    while True:
        with ledger.read() as conn:
            rows = conn.execute(
                select(DECISIONS.c.id, OUTCOMES.c.result, PHOTOS.c.owner_id)
                .select_from(DECISION_OUTCOMES)
                .join(FACES, FACES.c.id == DECISIONS.c.face_id)
                .join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id)
                .where(*where, DECISIONS.c.decision == "block", DECISIONS.c.id > last)
                .order_by(DECISIONS.c.id)
                .limit(_PAGE)
            ).all()
        if not rows:
            break
        for _id, result, owner_id in rows:
            blocked += 1
            dates.add(str(result["date"]))
            for law in result["laws"]:
                if law["applies"] not in AT_RISK:
                    continue
                count = laws.setdefault(law["id"], _LawCount(title=law["title"]))
                count.faces += 1
                count.violating += bool(law["violations"])
                count.applies[law["applies"]] += 1
                if owner_id:
                    count.owners.add(owner_id)
                else:
                    count.without_owner += 1
                for section in {v["section"] for v in law["violations"]}:
                    tally = count.sections.setdefault(section, [0, set(), 0])
                    tally[0] += 1
                    if owner_id:
                        tally[1].add(owner_id)
                    else:
                        tally[2] += 1
        last = int(rows[-1][0])
    return laws, dates, assessed, blocked


def ledger_exposure(
    ledger: Ledger,
    *,
    purpose: str,
    action: str = DEFAULT_ACTION,
    turnover: float | None = None,
    on: date | None = None,
    policies: list[Policy] | None = None,
) -> dict[str, Any]:
    """Per-law faces, subjects and statutory range (a JSON-ready dict; keys are stable).

    ``on`` picks the penalty regime (BIPA per scan before 2 Aug 2024, per person after);
    default: the date the recorded decisions were made for. Raises
    :class:`~faceledger.services.decisions.assess.AssessmentNotFound` when nothing was assessed.
    """
    if turnover is not None and turnover < 0:
        raise PolicyError("turnover must not be negative")
    laws, dates, assessed, blocked = _tally(ledger, purpose, action)
    if not assessed:
        raise AssessmentNotFound(
            f"no face has a recorded decision for {purpose!r} ({action}): "
            f"run faceledger assess --purpose {purpose}"
        )
    assumptions = [SUBJECTS_ASSUMPTION]
    if on is None:
        parsed = [date.fromisoformat(d) for d in dates]
        on = max(parsed) if parsed else datetime.now(UTC).date()
        if len(dates) > 1:
            assumptions.append(
                f"decisions were recorded for several dates ({', '.join(sorted(dates))}); "
                f"penalties as of the latest, {on.isoformat()}"
            )
    assumptions.append("one scan per face at risk (no scan history is recorded)")
    by_id = {p.id: p for p in (policies if policies is not None else load_policies())}
    rows = []
    for law_id, count in sorted(laws.items(), key=lambda item: (-item[1].faces, item[0])):
        policy = by_id.get(law_id)
        sections = {name: (int(t[0]), len(t[1]) + int(t[2]))
                    for name, t in count.sections.items()}  # fmt: skip
        exposures = [] if policy is None else estimate_exposures(
            [policy], subjects=count.subjects, faces=count.faces, on=on, scans=count.faces,
            turnover=turnover, sections=sections,
        )  # fmt: skip
        note = None
        if policy is None:
            note = "this law is no longer loaded: no statutory range"
        elif not exposures and not sections:
            note = "no face at risk violates this law (it may apply, but nothing breaks it)"
        elif not exposures:
            note = f"no monetary penalty in force on {on.isoformat()}"
        rows.append({
            "law": law_id,
            "title": count.title,
            "faces": count.faces,
            "faces_violating": count.violating,
            "subjects": count.subjects,
            "owners": len(count.owners),
            "faces_without_owner": count.without_owner,
            "applies": {grade: count.applies.get(grade, 0) for grade in ("yes", "likely",
                                                                          "uncertain")},
            "exposure": exposures[0].to_dict() if exposures else None,
            "sections": {name: {"faces": int(t[0]), "subjects": len(t[1]) + int(t[2])}
                         for name, t in sorted(count.sections.items())},
            "note": note,
        })  # fmt: skip
    return {
        "purpose": purpose,
        "action": action,
        "date": on.isoformat(),
        "turnover": turnover,
        "faces_assessed": assessed,
        "faces_blocked": blocked,
        "laws": rows,
        "assumptions": assumptions,
    }
