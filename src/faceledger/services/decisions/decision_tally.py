"""The recorded decisions of one purpose and action, tallied in SQL (GROUP BY in the database).

Example::

    with ledger.read() as conn:
        facts = decision_facts(conn, purpose="train-face-recognition", action="extract-template")
    facts.verdicts["block"], facts.laws["us-il-bipa"].grades["uncertain"]

Every figure the report draws from the decision documents (``decision_outcomes.result``:
one per decided case) comes from a handful of aggregate queries: per law and grade, per law
and violated section and reason, per candidate jurisdiction, per rounded geotag, plus
``COUNT(DISTINCT ...)`` of the subjects and photo owners each law reaches. Python only folds
the few aggregated rows. Each statement expands the documents of the outcomes the decisions
name once, with the dialect's JSON functions (``json_each`` on SQLite,
``jsonb_array_elements`` on PostgreSQL), into small materialised tables of law elements,
violations and jurisdictions, then joins every face's decision to them: the per-face work is
plain joins and grouping, with no JSON parsed per face. Ties among
equally frequent reasons and jurisdictions are broken by first appearance in decision-id
order, as the per-row tally this replaced did, so the numbers are identical.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from faceledger.core.law.decision import IN_SCOPE

MAP_PRECISION_DEG = 0.1  # about 11 km: where, not whose house
#: Positions: decision id, law index and violation index packed into one sortable integer.
_LAW_SLOTS = 4096


@dataclass
class LawFacts:
    """One law across the decisions: grades, reach and what blocked."""

    title: str
    first: int
    grades: Counter[str] = field(default_factory=Counter)
    #: blocked faces the law reaches, by how it applies
    blocked_grades: Counter[str] = field(default_factory=Counter)
    subjects: int = 0
    owners: int = 0
    #: blocked faces the law reaches with at least one violation
    blocking: int = 0


@dataclass
class DecisionFacts:
    decided: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    laws: dict[str, LawFacts] = field(default_factory=dict)
    #: (law, section) -> violations on blocked faces the law reaches
    blocked: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (law, section) -> reason -> count, each Counter in first-appearance order
    reasons: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    #: jurisdiction code -> faces, in first-appearance order
    jurisdictions: Counter[str] = field(default_factory=Counter)
    #: (lat, lon) rounded to MAP_PRECISION_DEG -> decision -> faces
    points: dict[tuple[float, float], Counter[str]] = field(default_factory=dict)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def in_scope_sql(mode: str, applies: str) -> str:
    """SQL truth of "this law applies in scope" from the decision's mode (IN_SCOPE's table)."""
    arms = [
        f"({mode} = {_quote(name)} AND {applies} IN ({', '.join(_quote(g) for g in sorted(grades))}))"
        for name, grades in sorted(IN_SCOPE.items())
    ]
    return "(" + " OR ".join(arms) + ")"


_WHERE = "WHERE d.purpose = :purpose AND d.action = :action"
#: The decisions of the purpose and action, one row a face (no document is read here).
_ROWS = f"""
    FROM face_decisions d
    JOIN faces f ON f.id = d.face_id
    JOIN photos p ON p.id = f.photo_id
    LEFT JOIN face_subjects fs ON fs.face_id = f.id
    {_WHERE}
"""
#: The outcomes those decisions name.
_NAMED = "SELECT outcome_id FROM face_decisions WHERE purpose = :purpose AND action = :action"

#: The law elements of every named outcome, one row each: each document is expanded once,
#: however many faces name it (an outcome without laws keeps one row, law columns NULL).
#: ``nviol``: the number of violations.
_OUTCOME_LAWS = {
    "sqlite": """
        SELECT o.id AS outcome_id, COALESCE(json_extract(o.result, '$.mode'), 'conservative') AS mode,
               json_extract(o.result, '$.date') AS day, e.key AS idx,
               json_extract(e.value, '$.id') AS law_id, json_extract(e.value, '$.title') AS title,
               json_extract(e.value, '$.applies') AS applies,
               COALESCE(json_extract(e.value, '$.violations'), '[]') AS violations,
               json_array_length(COALESCE(json_extract(e.value, '$.violations'), '[]')) AS nviol
        FROM decision_outcomes o LEFT JOIN json_each(o.result, '$.laws') AS e
        WHERE o.id IN ({named})
    """,
    "postgresql": """
        SELECT o.id AS outcome_id, COALESCE(r.doc->>'mode', 'conservative') AS mode,
               r.doc->>'date' AS day, e.ord - 1 AS idx,
               e.v->>'id' AS law_id, e.v->>'title' AS title, e.v->>'applies' AS applies,
               COALESCE(e.v->'violations', '[]'::jsonb) AS violations,
               jsonb_array_length(COALESCE(e.v->'violations', '[]'::jsonb)) AS nviol
        FROM decision_outcomes o
        CROSS JOIN LATERAL (SELECT o.result::jsonb AS doc OFFSET 0) r  -- OFFSET 0: cast once
        LEFT JOIN LATERAL jsonb_array_elements(COALESCE(r.doc->'laws', '[]'::jsonb))
            WITH ORDINALITY AS e(v, ord) ON true
        WHERE o.id IN ({named})
    """,
}
#: The violations of those law elements, one row each (``vidx``: position in the law's list).
_OUTCOME_VIOLATIONS = {
    "sqlite": """
        SELECT ol.outcome_id, ol.idx, v.key AS vidx, json_extract(v.value, '$.section') AS section,
               json_extract(v.value, '$.reason') AS reason
        FROM ol, json_each(ol.violations) AS v
    """,
    "postgresql": """
        SELECT ol.outcome_id, ol.idx, v.ord - 1 AS vidx, v.value->>'section' AS section,
               v.value->>'reason' AS reason
        FROM ol, LATERAL jsonb_array_elements(ol.violations) WITH ORDINALITY AS v(value, ord)
    """,
}
#: The candidate jurisdictions of every named outcome, one row each.
_OUTCOME_JURISDICTIONS = {
    "sqlite": """
        SELECT o.id AS outcome_id, j.key AS idx, json_extract(j.value, '$.code') AS code
        FROM decision_outcomes o, json_each(o.result, '$.jurisdictions') AS j
        WHERE o.id IN ({named})
    """,
    "postgresql": """
        SELECT o.id AS outcome_id, j.ord - 1 AS idx, j.v->>'code' AS code
        FROM decision_outcomes o
        CROSS JOIN LATERAL json_array_elements(COALESCE(o.result->'jurisdictions', '[]'::json))
            WITH ORDINALITY AS j(v, ord)
        WHERE o.id IN ({named})
    """,
}


def _outcome_ctes(dialect: str) -> str:
    """``ol`` (law elements) and ``ov`` (their violations) of the named outcomes, materialised
    once per statement."""
    laws = _OUTCOME_LAWS[dialect].format(named=_NAMED)
    return f"ol AS MATERIALIZED ({laws}), ov AS MATERIALIZED ({_OUTCOME_VIOLATIONS[dialect]})"


def _half_even(x: str) -> str:
    """SQL for Python's ``round(x)`` (ties to even), x a double expression."""
    fl = f"floor({x})"
    return (f"({fl} + CASE WHEN {x} - {fl} > 0.5 THEN 1 "
            f"WHEN {x} - {fl} = 0.5 AND mod(CAST({fl} AS BIGINT), 2) <> 0 THEN 1 ELSE 0 END)")  # fmt: skip


def _grid(column: str) -> str:
    """SQL of a photo coordinate in grid steps of ``:step`` degrees, rounded as Python rounds."""
    geotagged = "p.latitude IS NOT NULL AND p.longitude IS NOT NULL"
    return f"CASE WHEN {geotagged} THEN {_half_even(f'({column} / CAST(:step AS DOUBLE PRECISION))')} END"


def _law_query(dialect: str) -> str:
    """One statement: per-grade groups (``g``), the subjects and owners each law reaches
    (``rs``, ``ro``), the violations that block (``v``), the faces per verdict and map cell (``p``:
    the cell's grid steps ride in the ``subjects`` and ``owners`` columns) and per candidate
    jurisdiction (``j``: the code rides in ``law_id``). The faces are read once (``fd``).

    The faces are folded first: per outcome and verdict, how many faces and the first
    decision id (``fo``); the distinct owners and subjects per outcome (``po``, ``ps``). The
    counts then come from those small tables joined to the outcomes' law elements, and only
    the distinct people per law read the per-outcome distinct sets. A face's law row in
    decision-id order sits at ``decision id * slots + law index``, so the first appearance of
    a group is its outcomes' first decision id times slots plus the index, as a per-face
    scan would find it."""
    scoped = in_scope_sql("ol.mode", "ol.applies")
    violated = "CASE WHEN ol.nviol > 0 THEN 1 ELSE 0 END"
    title = "COALESCE(ol.title, ol.law_id)"
    codes = _OUTCOME_JURISDICTIONS[dialect].format(named=_NAMED)
    return f"""WITH {_outcome_ctes(dialect)}, oj AS MATERIALIZED ({codes}),
        fd AS MATERIALIZED (
            SELECT d.id AS pos, d.decision, d.outcome_id, NULLIF(p.owner_id, '') AS owner,
                   fs.subject_id AS subject, {_grid("p.latitude")} AS nlat,
                   {_grid("p.longitude")} AS nlon
            {_ROWS}),
        fo AS MATERIALIZED (SELECT outcome_id, decision, count(*) AS n, min(pos) AS first
                            FROM fd GROUP BY outcome_id, decision),
        po AS MATERIALIZED (SELECT DISTINCT outcome_id, owner FROM fd WHERE owner IS NOT NULL),
        ps AS MATERIALIZED (SELECT DISTINCT outcome_id, subject FROM fd WHERE subject IS NOT NULL),
        sl AS MATERIALIZED (SELECT DISTINCT outcome_id, law_id FROM ol
                            WHERE ol.law_id IS NOT NULL AND {scoped})
        SELECT 'g' AS part, ol.mode, ol.law_id, {title} AS title, ol.applies, fo.decision,
               {violated} AS violated, CAST(NULL AS TEXT) AS section, CAST(NULL AS TEXT) AS reason,
               sum(fo.n) AS n, min(fo.first * {_LAW_SLOTS} + ol.idx) AS first,
               CAST(NULL AS BIGINT) AS subjects, CAST(NULL AS BIGINT) AS owners
        FROM fo JOIN ol ON ol.outcome_id = fo.outcome_id AND ol.law_id IS NOT NULL
        GROUP BY ol.mode, ol.law_id, {title}, ol.applies, fo.decision, {violated}
        UNION ALL
        SELECT 'rs', NULL, sl.law_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               count(DISTINCT ps.subject), NULL
        FROM ps JOIN sl ON sl.outcome_id = ps.outcome_id GROUP BY sl.law_id
        UNION ALL
        SELECT 'ro', NULL, sl.law_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, count(DISTINCT po.owner)
        FROM po JOIN sl ON sl.outcome_id = po.outcome_id GROUP BY sl.law_id
        UNION ALL
        SELECT 'v', NULL, ol.law_id, NULL, NULL, NULL, NULL, ov.section, ov.reason, sum(fo.n),
               min((fo.first * {_LAW_SLOTS} + ol.idx) * {_LAW_SLOTS} + ov.vidx), NULL, NULL
        FROM fo JOIN ol ON ol.outcome_id = fo.outcome_id
        JOIN ov ON ov.outcome_id = ol.outcome_id AND ov.idx = ol.idx
        WHERE fo.decision = 'block' AND {scoped}
        GROUP BY ol.law_id, ov.section, ov.reason
        UNION ALL
        SELECT 'p', NULL, NULL, NULL, NULL, fd.decision, NULL, NULL, NULL, count(*), NULL,
               fd.nlat, fd.nlon
        FROM fd GROUP BY fd.decision, fd.nlat, fd.nlon
        UNION ALL
        SELECT 'j', NULL, oj.code, NULL, NULL, NULL, NULL, NULL, NULL, sum(fo.n),
               min(fo.first * {_LAW_SLOTS} + oj.idx), NULL, NULL
        FROM fo JOIN oj ON oj.outcome_id = fo.outcome_id
        GROUP BY oj.code
    """


def _round(n: Any) -> float:
    return round(int(n) * MAP_PRECISION_DEG, 4)


def decision_facts(conn: Connection, *, purpose: str, action: str) -> DecisionFacts:
    """Tally the decisions of ``purpose`` / ``action`` (see the module docs)."""
    dialect = conn.dialect.name
    if dialect not in _OUTCOME_LAWS:
        raise ValueError(f"no SQL tally for the {dialect} dialect")
    params = {"purpose": purpose, "action": action}
    facts = DecisionFacts()
    parts: dict[str, list[Any]] = {part: [] for part in ("g", "rs", "ro", "v", "p", "j")}
    for row in conn.execute(text(_law_query(dialect)), {**params, "step": MAP_PRECISION_DEG}):
        parts[row.part].append(row)
    for row in parts["p"]:
        n, nlat, nlon = int(row.n), row.subjects, row.owners
        facts.decided += n
        facts.verdicts[row.decision] += n
        if nlat is not None and nlon is not None:
            facts.points.setdefault((_round(nlat), _round(nlon)), Counter())[row.decision] += n
    facts.verdicts = Counter(dict(sorted(facts.verdicts.items())))
    titles: dict[str, tuple[int, str]] = {}
    for row in parts["g"]:
        if row.law_id not in titles or int(row.first) < titles[row.law_id][0]:
            titles[row.law_id] = (int(row.first), row.title)
    for law_id, (first, title) in titles.items():
        facts.laws[law_id] = LawFacts(title=title, first=first)
    for row in parts["g"]:
        law = facts.laws[row.law_id]
        law.grades[row.applies] += int(row.n)
        if row.applies not in IN_SCOPE.get(row.mode, frozenset()) or row.decision != "block":
            continue
        law.blocked_grades[row.applies] += int(row.n)
        law.blocking += int(row.n) if row.violated else 0
    for row in parts["rs"]:  # a law no subject or owner reaches has no row: 0
        facts.laws[row.law_id].subjects = int(row.subjects)
    for row in parts["ro"]:
        facts.laws[row.law_id].owners = int(row.owners)
    for row in sorted(
        parts["v"], key=lambda r: int(r.first)
    ):  # first-appearance order, as a row loop
        facts.blocked[(row.law_id, row.section)] += int(row.n)
        facts.reasons.setdefault((row.law_id, row.section), Counter())[row.reason] += int(row.n)
    for row in sorted(parts["j"], key=lambda r: int(r.first)):
        facts.jurisdictions[row.law_id] += int(row.n)
    return facts


AT_RISK = IN_SCOPE["conservative"]


@dataclass
class ExposureLaw:
    """One law over the blocked faces it reaches (applies yes, likely or uncertain)."""

    title: str
    faces: int = 0
    violating: int = 0
    owners: int = 0
    without_owner: int = 0
    applies: Counter[str] = field(default_factory=Counter)
    #: section -> (faces violating it, distinct owners among them, those faces without owner)
    sections: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def subjects(self) -> int:
        """People at risk as the exposure counts them: distinct owners + faces without one."""
        return self.owners + self.without_owner


@dataclass
class ExposureFacts:
    laws: dict[str, ExposureLaw] = field(default_factory=dict)
    dates: set[str] = field(default_factory=set)
    assessed: int = 0
    blocked: int = 0


def _exposure_query(dialect: str) -> str:
    """One statement over the blocked decisions, folded per outcome as in :func:`_law_query`
    (``fo``: faces, first decision id and faces without an owner; ``po``: distinct owners),
    joined to the outcomes' law elements at risk (``al``) and their violated sections."""
    at_risk = "ol.applies IN (" + ", ".join(_quote(g) for g in sorted(AT_RISK)) + ")"
    return f"""WITH {_outcome_ctes(dialect)},
        fd AS MATERIALIZED (
            SELECT d.id AS pos, d.outcome_id, NULLIF(p.owner_id, '') AS owner
            FROM face_decisions d
            JOIN faces f ON f.id = d.face_id
            JOIN photos p ON p.id = f.photo_id
            {_WHERE} AND d.decision = 'block'),
        fo AS MATERIALIZED (
            SELECT outcome_id, count(*) AS n, min(pos) AS first,
                   sum(CASE WHEN owner IS NULL THEN 1 ELSE 0 END) AS no_owner
            FROM fd GROUP BY outcome_id),
        po AS MATERIALIZED (SELECT DISTINCT outcome_id, owner FROM fd WHERE owner IS NOT NULL),
        al AS MATERIALIZED (SELECT outcome_id, idx, law_id, title, applies, nviol FROM ol
                            WHERE {at_risk}),
        asec AS MATERIALIZED (
            SELECT DISTINCT al.outcome_id, al.law_id, ov.section
            FROM al JOIN ov ON ov.outcome_id = al.outcome_id AND ov.idx = al.idx)
        SELECT 'f' AS part, al.law_id, al.applies, CAST(NULL AS TEXT) AS section, sum(fo.n) AS n,
               sum(CASE WHEN al.nviol > 0 THEN fo.n ELSE 0 END) AS violating,
               sum(fo.no_owner) AS without_owner, CAST(NULL AS BIGINT) AS owners,
               min(fo.first * {_LAW_SLOTS} + al.idx) AS first, CAST(NULL AS TEXT) AS day
        FROM fo JOIN al ON al.outcome_id = fo.outcome_id GROUP BY al.law_id, al.applies
        UNION ALL
        SELECT 't', al.law_id, NULL, al.title, NULL, NULL, NULL, NULL,
               min(fo.first * {_LAW_SLOTS} + al.idx), NULL
        FROM fo JOIN al ON al.outcome_id = fo.outcome_id GROUP BY al.law_id, al.title
        UNION ALL
        SELECT 'o', a.law_id, NULL, NULL, NULL, NULL, NULL, count(DISTINCT po.owner), NULL, NULL
        FROM po JOIN (SELECT DISTINCT outcome_id, law_id FROM al) a ON a.outcome_id = po.outcome_id
        GROUP BY a.law_id
        UNION ALL
        SELECT 's', asec.law_id, NULL, asec.section, sum(fo.n), NULL, sum(fo.no_owner), NULL,
               NULL, NULL
        FROM asec JOIN fo ON fo.outcome_id = asec.outcome_id GROUP BY asec.law_id, asec.section
        UNION ALL
        SELECT 'so', asec.law_id, NULL, asec.section, NULL, NULL, NULL, count(DISTINCT po.owner),
               NULL, NULL
        FROM asec JOIN po ON po.outcome_id = asec.outcome_id GROUP BY asec.law_id, asec.section
        UNION ALL
        SELECT 'd', NULL, NULL, NULL, sum(fo.n), NULL, NULL, NULL, NULL, od.day
        FROM fo JOIN (SELECT DISTINCT outcome_id, day FROM ol) od ON od.outcome_id = fo.outcome_id
        GROUP BY od.day
    """


def exposure_facts(conn: Connection, *, purpose: str, action: str) -> ExposureFacts:
    """Blocked faces per law at risk, their owners and violated sections, in SQL (the numbers
    :func:`faceledger.services.decisions.exposure.ledger_exposure` turns into statutory ranges)."""
    dialect = conn.dialect.name
    if dialect not in _OUTCOME_LAWS:
        raise ValueError(f"no SQL tally for the {dialect} dialect")
    params = {"purpose": purpose, "action": action}
    facts = ExposureFacts()
    facts.assessed = int(
        conn.execute(
            text(
                "SELECT count(*) FROM face_decisions WHERE purpose = :purpose AND action = :action"
            ),
            params,
        ).scalar_one()
    )
    rows = conn.execute(text(_exposure_query(dialect)), params).all()
    titles: dict[str, tuple[int, str]] = {}
    for part, law_id, _applies, section, _n, _v, _w, _o, first, _day in rows:
        if part == "t" and (law_id not in titles or int(first) < titles[law_id][0]):
            titles[law_id] = (int(first), section)  # the title rides in the section column
    for law_id, (_first, title) in titles.items():
        facts.laws[law_id] = ExposureLaw(title=title)
    for part, law_id, applies, _section, n, violating, without, owners, _first, day in rows:
        if part == "d":
            facts.blocked += int(n)
            facts.dates.add(str(day))
        elif part == "f":
            law = facts.laws[law_id]
            law.faces += int(n)
            law.violating += int(violating)
            law.without_owner += int(without)
            law.applies[applies] += int(n)
        elif part == "o":
            facts.laws[law_id].owners = int(owners)
    owners_of = {(r.law_id, r.section): int(r.owners) for r in rows if r.part == "so"}
    for part, law_id, _applies, section, n, _v, without, _o, _first, _day in rows:
        if part == "s":  # a section no owned face violates has no "so" row: 0 owners
            sections = facts.laws[law_id].sections
            sections[section] = (int(n), owners_of.get((law_id, section), 0), int(without))
    return facts
