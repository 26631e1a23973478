"""The ledger's tables, typed, and the few predicates every service shares.

A service imports the tables it reads from here, never from another service, and never
writes ``Model.__table__`` itself. The rules that several rooms must apply alike live here
once:

- :func:`live_face` / :data:`LIVE_PHOTO`: a face or photo excluded by an executed request
  (a tombstone) is never scanned, assessed, extracted, searched or released. Forget the
  filter once and an opted-out face comes back, so every query uses these.
- :data:`OPEN_REQUEST_STATUSES` / :func:`open_request`: a request is open while received
  or verified; executed, confirmed and rejected requests are closed.
- :func:`chunks` / :data:`IN_CHUNK`: the size of an ``IN (...)`` list, below every
  backend's parameter limit (SQLite's 32,766; PostgreSQL's 65,535).

Example::

    from faceledger.store.tables import FACES, PHOTOS, live_face
    query = select(FACES.c.id).join(PHOTOS, PHOTOS.c.id == FACES.c.photo_id).where(live_face())
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, Table, and_, func, select

from faceledger.store import schema

_T = TypeVar("_T")


def _table(model: type[schema.Base]) -> Table:
    return cast(Table, model.__table__)


# ---- collection ---------------------------------------------------------------------------
SOURCES = _table(schema.Source)
PHOTOS = _table(schema.Photo)
REJECTS = _table(schema.IngestReject)
OPTOUT_ENTRIES = _table(schema.OptOutEntry)
DATASETS = _table(schema.Dataset)
DATASET_MEMBERS = _table(schema.DatasetMember)

# ---- faces and decisions ------------------------------------------------------------------
FACES = _table(schema.Face)
SCAN_RUNS = _table(schema.ScanRun)
DECISIONS = _table(schema.FaceDecision)
OUTCOMES = _table(schema.DecisionOutcome)
CONSENTS = _table(schema.Consent)
CLAIMS = _table(schema.Claim)
CONSENT_CLAIMS = _table(schema.ConsentClaim)

# ---- biometrics ---------------------------------------------------------------------------
SUBJECTS = _table(schema.Subject)
FACE_SUBJECTS = _table(schema.FaceSubject)
TEMPLATES = _table(schema.Template)
INDEX_ENTRIES = _table(schema.TemplateIndexEntry)
INDEX_STATE = _table(schema.TemplateIndexState)

# ---- lifecycle ----------------------------------------------------------------------------
RELEASES = _table(schema.Release)
VERSIONS = _table(schema.ReleaseVersion)
ITEMS = _table(schema.ReleaseItem)
CONSUMERS = _table(schema.Consumer)
NOTICES = _table(schema.ConsumerNotice)
REQUESTS = _table(schema.Request)
REQUEST_FACES = _table(schema.RequestFace)
DESTRUCTIONS = _table(schema.Destruction)

# ---- portal and oversight -----------------------------------------------------------------
USERS = _table(schema.WebUser)
TOKENS = _table(schema.WebToken)
SESSIONS = _table(schema.WebSession)
BUCKETS = _table(schema.WebBucket)
AUDIT = _table(schema.AuditEvent)

# ---- shared predicates --------------------------------------------------------------------

#: A decision joined to its outcome (select from it; filter on ``DECISIONS.c``).
DECISION_OUTCOMES = DECISIONS.join(OUTCOMES, OUTCOMES.c.id == DECISIONS.c.outcome_id)


def decision_records() -> Select[Any]:
    """Every column of a decision plus its outcome's ``scenario``, ``result`` and
    ``policy_versions`` (the documents are stored once per decided case, migration 0018)."""
    documents = (OUTCOMES.c.scenario, OUTCOMES.c.result, OUTCOMES.c.policy_versions)
    return select(*DECISIONS.c, *documents).select_from(DECISION_OUTCOMES)


def outcome_tally(*criteria: ColumnElement[bool]) -> Select[Any]:
    """``(result, faces)``: each outcome the decisions matching ``criteria`` name, once, with
    how many of them name it (a per-case tally reads each document once, not once a face)."""
    named = (
        select(DECISIONS.c.outcome_id, func.count().label("faces"))
        .where(*criteria)
        .group_by(DECISIONS.c.outcome_id)
        .subquery()
    )
    return select(OUTCOMES.c.result, named.c.faces).join(named, named.c.outcome_id == OUTCOMES.c.id)


#: A photo no executed request has excluded (not a tombstone).
LIVE_PHOTO: ColumnElement[bool] = PHOTOS.c.excluded_request_id.is_(None)

#: The statuses of a request still owed an answer.
OPEN_REQUEST_STATUSES = ("received", "verified")


def live_face(faces: Table = FACES, photos: Table | None = PHOTOS) -> ColumnElement[bool]:
    """Neither the face nor (when ``photos`` is given, joined) its photo is excluded."""
    face = faces.c.excluded_request_id.is_(None)
    return face if photos is None else and_(face, photos.c.excluded_request_id.is_(None))


def open_request(requests: Table = REQUESTS) -> ColumnElement[bool]:
    """The request is still open (received or verified)."""
    return requests.c.status.in_(OPEN_REQUEST_STATUSES)


#: The most values one ``IN (...)`` list carries.
IN_CHUNK = 5_000


def chunks(items: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    """``items`` in slices of at most ``size``, for ``column.in_(chunk)`` queries."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bound_in_chunks(
    conn: Any, statement: Any, values: Sequence[Any], key: str = "ids"
) -> list[Any]:
    """Every row of ``statement`` (built once, with ``bindparam(key, expanding=True)`` where
    the values go) over ``values``, one chunk at a time. For hot paths: a statement built once
    is not rebuilt, nor its cache key walked again, on every call (:func:`in_chunks` does both)."""
    rows: list[Any] = []
    for chunk in chunks(values):
        rows.extend(conn.execute(statement, {key: list(chunk)}).all())
    return rows


def in_chunks(conn: Any, query: Any, column: Any, values: Sequence[Any]) -> list[Any]:
    """Every row of ``query.where(column.in_(chunk))`` over ``values``, one chunk at a time."""
    rows: list[Any] = []
    for chunk in chunks(values):
        rows.extend(conn.execute(query.where(column.in_(chunk))).all())
    return rows
