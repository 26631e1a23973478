"""Territorial scope: does a law reach this subject and this conduct? Graded, with reasons.

Example::

    applies, reasons = grade_territory(scenario, policy.territory)
    # ('uncertain', ('subject connected to US-IL (...)', 'processing in US-WA, outside ...'))

Grades: ``yes`` (a primary connector is met), ``likely`` (strong but indirect connectors),
``uncertain`` (weak, partial or no evidence: the subject could be in scope), ``no`` (the
evidence points elsewhere). With no usable evidence at all the grade is ``uncertain``: deny
by default. An unknown processing place (``Processor.location`` None) is never read as
"outside": for a law with a ``processing`` connector, a subject placed elsewhere grades
``uncertain`` (processing there could still bring the conduct in), not ``no``. BIPA's test
(``primarily-and-substantially``) follows Avery v. State Farm as applied in Vance v. Amazon / Microsoft (W.D. Wash. 2022): residence plus upload in Illinois
was not enough when the downloading and processing happened elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from faceledger.core.law.decision import Applies, Jurisdiction
from faceledger.core.law.model import CAPTURE_KINDS, RESIDENCE_KINDS, Evidence, Scenario
from faceledger.core.law.schema import Territory

#: Evidence at or above this confidence counts as a strong connector.
STRONG = 0.6


def code_in(code: str, codes: list[str] | tuple[str, ...]) -> bool:
    """``US-IL`` is in ``[US-IL]``; ``US-IL`` is in ``[US]``; ``US`` is not in ``[US-IL]``."""
    return any(code == c or code.startswith(c + "-") for c in codes)


def partially_in(code: str, codes: list[str] | tuple[str, ...]) -> bool:
    """A country-level code that contains one of ``codes`` (``US`` vs ``US-IL``)."""
    return any(c.startswith(code + "-") for c in codes)


@dataclass(frozen=True)
class _Signals:
    match: float  # best confidence of evidence inside the territory (0: none)
    partial: bool  # evidence only at a coarser level (country, for a state law)
    elsewhere: bool  # coded evidence outside the territory
    notes: tuple[str, ...]


def _signals(evidence: list[Evidence], codes: list[str], label: str) -> _Signals:
    match, partial, elsewhere, notes = 0.0, False, False, []
    where = "/".join(codes) if len(codes) <= 3 else "the territory"
    for item in evidence:
        if item.code is None:
            continue
        if code_in(item.code, codes):
            match = max(match, item.confidence)
            notes.append(f"{label} in {item.code} ({item.kind}, {item.confidence:.2f})")
        elif partially_in(item.code, codes):
            partial = True
            notes.append(f"{label} only known as {item.code} ({item.kind})")
        else:
            elsewhere = True
            notes.append(f"{label} in {item.code}, outside {where} ({item.kind})")
    return _Signals(match, partial, elsewhere, tuple(notes))


def _split(scenario: Scenario) -> tuple[list[Evidence], list[Evidence], list[Evidence]]:
    residence, capture, processing = [], [], []
    for item in scenario.all_evidence():
        if item.kind in RESIDENCE_KINDS:
            residence.append(item)
        elif item.kind in CAPTURE_KINDS:
            capture.append(item)
        else:
            processing.append(item)
    return residence, capture, processing


def grade_territory(scenario: Scenario, territory: Territory) -> tuple[Applies, tuple[str, ...]]:
    """Grade the law's reach over this scenario; reasons name the connectors used."""
    codes = territory.codes
    res_ev, cap_ev, proc_ev = _split(scenario)
    res = _signals(res_ev, codes, "residence")
    cap = _signals(cap_ev, codes, "photo taken/uploaded")
    proc = _signals(proc_ev, codes, "processing")
    notes = res.notes + cap.notes + proc.notes
    uses_capture = "capture" in territory.connectors or "upload" in territory.connectors
    uses_processing = "processing" in territory.connectors
    subject_known = res.match > 0 or res.elsewhere or cap.match > 0 or cap.elsewhere
    # Where processing runs is unknown: a law that reaches conduct in its territory may apply.
    proc_unknown = uses_processing and not proc_ev
    unknown_why = ("where processing runs is unknown (no processor location): processing in "
                   "the territory would bring it in")  # fmt: skip

    if territory.test == "primarily-and-substantially":
        subject_in = res.match > 0 or cap.match >= STRONG
        if proc.match > 0:
            grade: Applies = "yes" if subject_in else "likely"
            why = "processing runs in the territory (conduct there)"
        elif subject_in and proc.elsewhere:
            grade = "uncertain"
            why = ("subject connected to the territory, but processing runs outside it; "
                   "residence and upload alone failed the 'primarily and substantially' test "
                   "in Vance v. Amazon/Microsoft (2022)")  # fmt: skip
        elif subject_in:
            grade, why = "likely", "subject connected to the territory; processing place unknown"
        elif res.partial or cap.partial or cap.match > 0:
            grade, why = "uncertain", "only weak or country-level evidence of a connection"
        elif subject_known and proc_unknown:
            grade, why = (
                "uncertain",
                f"the evidence places the subject elsewhere, but {unknown_why}",
            )
        elif subject_known:
            grade, why = "no", "the evidence places the subject and conduct elsewhere"
        else:
            grade, why = "uncertain", "no location evidence: the subject could be in scope"
        return grade, (*notes, why)

    if uses_processing and proc.match > 0:
        kind = {"establishment-or-targeting": "establishment", "market-or-use": "use"}.get(
            territory.test, "data collected there"
        )
        return "yes", (*notes, f"processing in the territory ({kind})")
    if territory.test == "market-or-use":
        if res.match > 0 or cap.match > 0 or res.partial or cap.partial:
            why = "subject in the territory; where the system is marketed/used is not given"
            return "uncertain", (*notes, why)
        if subject_known and proc_unknown:
            return "uncertain", (*notes, f"the subject is elsewhere, but {unknown_why}")
        if subject_known or proc.elsewhere:
            return "no", (*notes, "no sign the system is placed on the market or used there")
        return "uncertain", (*notes, "no location evidence: deny by default")
    if res.match > 0:
        grade = "likely" if territory.test == "establishment-or-targeting" else "yes"
        return grade, (*notes, "subject resides in the territory")
    if res.elsewhere and not (uses_capture and cap.match >= STRONG):
        if proc_unknown:
            return "uncertain", (
                *notes,
                f"subject resides outside the territory, but {unknown_why}",
            )
        return "no", (*notes, "subject resides outside the territory")
    if cap.match >= STRONG:
        return "likely", (*notes, "photo evidence places the subject in the territory")
    if cap.match > 0 or res.partial or cap.partial:
        return "uncertain", (*notes, "only weak or country-level evidence of a connection")
    if subject_known and proc_unknown:
        return "uncertain", (
            *notes,
            f"the evidence places the subject elsewhere, but {unknown_why}",
        )
    if subject_known:
        return "no", (*notes, "the evidence places the subject elsewhere")
    return "uncertain", (*notes, "no location evidence: the subject could be in scope")


def candidate_jurisdictions(evidence: tuple[Evidence, ...]) -> tuple[Jurisdiction, ...]:
    """Group resolved evidence by code; confidence combines independent clues (noisy-or)."""
    grouped: dict[str, list[Evidence]] = defaultdict(list)
    for item in evidence:
        if item.code is not None:
            grouped[item.code].append(item)
    found = []
    for code, items in grouped.items():
        miss = 1.0
        for item in items:
            miss *= 1.0 - max(0.0, min(1.0, item.confidence))
        found.append(Jurisdiction(code, 1.0 - miss, tuple(items)))
    return tuple(sorted(found, key=lambda j: (-j.confidence, j.code)))
