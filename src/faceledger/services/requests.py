"""Requests from people: opt-out, erasure and access, from receipt to confirmation.

Example::

    request = new_request(ledger, settings, kind="erasure", key_type="owner", value="7000@N01")
    request.receipt                      # unguessable: hand it to the person
    verify_request(ledger, request.id)   # the requester proved who they are
    execute_request(ledger, vault, settings, request.id)
    confirm_request(ledger, request.id)  # the requester was told

A request is keyed by a photo owner id or username (``owner``), a photo's id at its source
(``photo``), a photo or page URL (``url``), one of an owner's own tags (``tag``, with
``owner_scope``: a photographer's bulk request), or a face (``face``): a selfie, matched at
once under a ``match-optout`` consent recorded with the request; the selfie's template is
discarded after matching (:func:`~faceledger.services.matching.search_by_selfie`) and only
the matched face ids are kept.

Lifecycle: received -> verified -> executed -> confirmed, or rejected (from received or
verified) with a reason. Any other step raises :class:`RequestStateError` saying what is
needed. Each step is timestamped and audited (``request.*``) with the request id and counts,
never an owner id, URL, tag or receipt. The deadline is the receipt date plus the law's term
(``request_deadlines``: GDPR one month, CPRA 45 days).

Executing an opt-out or erasure (one transaction, see :func:`execute_request`): the matched
photos and faces get the request id as a tombstone (``excluded_request_id``; rows stay, so
re-ingesting the same source cannot bring them back, and scan, assess, extract, release and
search skip them); the templates of every excluded face are destroyed with a certificate;
a release version without them is cut for every release whose latest version held them; a
notice is recorded for every consumer of a version that held them (GDPR Art. 17(2) / 19).
A face request (and an owner request, for subjects linked to that owner) reaches every face of
the matched subjects. An erasure also shreds those subjects' data keys (crypto-shredding:
backups and dumps hold only ciphertext). An access request changes nothing and records what
is held, in which releases, given to whom.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, or_, select, update

from faceledger.config import Settings
from faceledger.core.deadlines import deadline
from faceledger.errors import FaceledgerError
from faceledger.services.matching import MATCH_PURPOSE, MAX_RESULTS, search_by_selfie
from faceledger.services.releases import cut_without, notify_consumers, releases_holding
from faceledger.services.templates import destroy_templates, shred_keys
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.schema import (
    Consent,
    Consumer,
    Face,
    FaceSubject,
    Photo,
    Release,
    ReleaseItem,
    ReleaseVersion,
    Request,
    RequestFace,
    Subject,
)
from faceledger.store.vault import KeyVault

REQUESTS, REQUEST_FACES = Request.__table__, RequestFace.__table__
PHOTOS, FACES, FACE_SUBJECTS = Photo.__table__, Face.__table__, FaceSubject.__table__
SUBJECTS, CONSENTS = Subject.__table__, Consent.__table__
ITEMS, VERSIONS, RELEASES = ReleaseItem.__table__, ReleaseVersion.__table__, Release.__table__
CONSUMERS = Consumer.__table__
KINDS = ("optout", "erasure", "access")
KEY_TYPES = ("owner", "photo", "url", "tag", "face")
STATUSES = ("received", "verified", "executed", "confirmed", "rejected")
_FROM = {"verify": ("received",), "execute": ("verified",), "confirm": ("executed",),
         "reject": ("received", "verified")}  # fmt: skip
_HINT = {"received": "verify it first (faceledger request verify)",
         "verified": "execute it first (faceledger request execute)"}  # fmt: skip
_CHUNK = 5_000


class RequestError(FaceledgerError):
    """A request cannot be filed as given (unknown kind, missing key, no consent...)."""


class RequestNotFound(FaceledgerError):
    """No request has this id or receipt."""


class RequestStateError(FaceledgerError):
    """The step is not allowed from the request's current status."""


@dataclass(frozen=True)
class RequestRecord:
    """One request, as shown by ``request show --json`` (add keys, never rename)."""

    id: int
    receipt: str
    kind: str
    key_type: str
    key_value: str | None
    owner_scope: str | None
    law: str
    status: str
    received_at: datetime
    deadline: date
    verified_at: datetime | None
    executed_at: datetime | None
    confirmed_at: datetime | None
    rejected_at: datetime | None
    reject_reason: str | None
    result: dict[str, Any] | None
    matched_faces: int

    def to_dict(self, on: date | None = None) -> dict[str, Any]:
        today = on or datetime.now(UTC).date()
        document: dict[str, Any] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("received_at", "deadline", "verified_at", "executed_at", "confirmed_at", "rejected_at"):
            value = document[name]
            document[name] = value.isoformat() if value is not None else None
        open_ = self.status in ("received", "verified")
        document["days_left"] = (self.deadline - today).days if open_ else None
        document["overdue"] = open_ and today > self.deadline
        return document


def _today() -> date:
    return datetime.now(UTC).date()


def choose_law(settings: Settings, law: str | None, received: date) -> tuple[str, date]:
    """The law a request is answered under and its deadline (default: the earliest one)."""
    terms = settings.request_deadlines
    if law is not None:
        if law not in terms:
            raise RequestError(f"law {law!r} has no deadline configured (request_deadlines: {', '.join(terms)})")
        return law, deadline(received, terms[law])
    return min(((name, deadline(received, term)) for name, term in terms.items()), key=lambda item: item[1])


def _record(conn: Connection, row: Any) -> RequestRecord:
    matched = conn.execute(
        select(REQUEST_FACES.c.face_id).where(REQUEST_FACES.c.request_id == row.id)
    ).all()
    values = {name: getattr(row, name) for name in RequestRecord.__dataclass_fields__ if name != "matched_faces"}
    return RequestRecord(**values, matched_faces=len(matched))


def _find(conn: Connection, id_or_receipt: str | int) -> Any:
    key = str(id_or_receipt).strip()
    row = conn.execute(select(REQUESTS).where(REQUESTS.c.receipt == key)).first()
    if row is None and key.isdigit():
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.id == int(key))).first()
    if row is None:
        raise RequestNotFound(f"no request with id or receipt {key!r} (see faceledger request list)")
    return row


def _selfie_consent(ledger: Ledger, consent: str | None, consent_given: bool, actor: str) -> int:
    """The id of an active consent covering ``match-optout``: the one named, or a new one."""
    if consent is not None:
        with ledger.read() as conn:
            key = consent.strip()
            row = conn.execute(select(CONSENTS).where(CONSENTS.c.receipt == key)).first()
            if row is None and key.isdigit():
                row = conn.execute(select(CONSENTS).where(CONSENTS.c.id == int(key))).first()
        today = _today()
        if row is None:
            raise RequestError(f"no consent with id or receipt {key!r}")
        if MATCH_PURPOSE not in row.purposes or (row.revoked and row.revoked <= today) or (
            row.expires and row.expires <= today
        ):
            raise RequestError(f"consent {row.id} does not cover {MATCH_PURPOSE!r} today")
        return int(row.id)
    if not consent_given:
        raise RequestError(
            "a selfie request computes a biometric template of the requester: record their "
            f"explicit consent for {MATCH_PURPOSE!r} with the request (--consent-given, or "
            "--consent ID of one already recorded)"
        )
    from faceledger.services.consent import add_consent

    change = add_consent(
        ledger, owner_id=f"selfie-requester:{secrets.token_hex(8)}", form="electronic",
        purposes=[MATCH_PURPOSE], informed=True, source="request", actor=actor, policies=[],
    )  # fmt: skip
    return change.consent.id


def new_request(
    ledger: Ledger,
    settings: Settings,
    vault: KeyVault | None = None,
    *,
    kind: str,
    key_type: str,
    value: str | None = None,
    owner: str | None = None,
    law: str | None = None,
    selfie: Path | None = None,
    consent: str | None = None,
    consent_given: bool = False,
    received: datetime | None = None,
    actor: str = "cli",
) -> RequestRecord:
    """File a request (status ``received``); a selfie is matched now and then discarded."""
    if kind not in KINDS:
        raise RequestError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if key_type not in KEY_TYPES:
        raise RequestError(f"key {key_type!r} is not one of {', '.join(KEY_TYPES)}")
    value = value.strip() if value else None
    if key_type == "face":
        if selfie is None or vault is None:
            raise RequestError("a face request needs the requester's selfie (--selfie FILE)")
        value = None
    elif not value:
        raise RequestError(f"a {key_type} request needs the {key_type} it is about")
    if key_type == "tag" and not (owner and owner.strip()):
        raise RequestError("a tag request covers one photographer's own tags: name the owner (--owner)")
    received = received or utcnow()
    law, due = choose_law(settings, law, received.date())
    consent_id, matches = None, []
    if key_type == "face":
        assert selfie is not None and vault is not None
        consent_id = _selfie_consent(ledger, consent, consent_given, actor)
        matches = search_by_selfie(ledger, vault, settings, selfie, consent_given=True, actor=actor, k=MAX_RESULTS)
    with ledger.begin() as conn:
        request_id = conn.execute(
            REQUESTS.insert().values(
                receipt=secrets.token_urlsafe(24), kind=kind, key_type=key_type, key_value=value,
                owner_scope=owner.strip() if key_type == "tag" and owner else None,
                consent_id=consent_id, law=law, status="received", received_at=received,
                deadline=due,
            ).returning(REQUESTS.c.id)
        ).scalar_one()  # fmt: skip
        if matches:
            conn.execute(REQUEST_FACES.insert(), [
                {"request_id": request_id, "face_id": m["face_id"], "subject_id": m["subject_id"],
                 "distance": m["distance"]} for m in matches
            ])  # fmt: skip
        append(
            conn,
            AuditRecord(
                name="request.received", actor=actor, object_type="request", object_id=str(request_id),
                payload={"request": int(request_id), "kind": kind, "key_type": key_type, "law": law,
                         "deadline": due.isoformat(), "matched_faces": len(matches),
                         "consent": consent_id},
            ),  # fmt: skip
        )
        return _record(conn, _find(conn, request_id))


def get_request(ledger: Ledger, id_or_receipt: str | int) -> RequestRecord:
    with ledger.read() as conn:
        return _record(conn, _find(conn, id_or_receipt))


def list_requests(ledger: Ledger, *, status: str | None = None) -> list[RequestRecord]:
    query = select(REQUESTS).order_by(REQUESTS.c.id)
    if status is not None:
        query = query.where(REQUESTS.c.status == status)
    with ledger.read() as conn:
        return [_record(conn, row) for row in conn.execute(query).all()]


def _step(conn: Connection, id_or_receipt: str | int, step: str) -> Any:
    row = _find(conn, id_or_receipt)
    if row.status not in _FROM[step]:
        needed = " or ".join(_FROM[step])
        hint = _HINT.get(row.status, "")
        raise RequestStateError(
            f"request {row.id} is {row.status}: only a {needed} request can be {_PAST[step]}"
            + (f"; {hint}" if hint and step != "reject" else "")
        )
    return row


_PAST = {"verify": "verified", "execute": "executed", "confirm": "confirmed", "reject": "rejected"}


def _advance(ledger: Ledger, id_or_receipt: str | int, step: str, actor: str, **extra: Any) -> RequestRecord:
    with ledger.begin() as conn:
        row = _step(conn, id_or_receipt, step)
        status = _PAST[step]
        conn.execute(
            update(REQUESTS).where(REQUESTS.c.id == row.id)
            .values(status=status, **{f"{status}_at": utcnow()}, **extra)
        )  # fmt: skip
        payload: dict[str, Any] = {"request": int(row.id)}
        if step == "reject":
            payload["reason"] = extra["reject_reason"]
        append(conn, AuditRecord(name=f"request.{status}", actor=actor, object_type="request",
                                 object_id=str(row.id), payload=payload))  # fmt: skip
        return _record(conn, _find(conn, row.id))


def verify_request(ledger: Ledger, id_or_receipt: str | int, *, actor: str = "cli") -> RequestRecord:
    """received -> verified: the requester proved they are who the request is about."""
    return _advance(ledger, id_or_receipt, "verify", actor)


def confirm_request(ledger: Ledger, id_or_receipt: str | int, *, actor: str = "cli") -> RequestRecord:
    """executed -> confirmed: the requester was told the outcome."""
    return _advance(ledger, id_or_receipt, "confirm", actor)


def reject_request(
    ledger: Ledger, id_or_receipt: str | int, *, reason: str, actor: str = "cli"
) -> RequestRecord:
    """received | verified -> rejected, with the reason given to the requester."""
    if not reason.strip():
        raise RequestError("a rejection needs a reason (it is given to the requester)")
    return _advance(ledger, id_or_receipt, "reject", actor, reject_reason=reason.strip())


# --- resolving and executing ---------------------------------------------------------------


@dataclass
class Scope:
    """What a request reaches: whole photos, single faces, and subjects (people)."""

    photo_ids: set[int]
    face_ids: set[int]
    subject_ids: set[int]


def _in_chunks(conn: Connection, column: Any, ids: set[int], *select_columns: Any) -> list[Any]:
    values = sorted(ids)
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        rows.extend(conn.execute(select(*select_columns).where(column.in_(values[start : start + _CHUNK]))).all())
    return rows


def resolve(conn: Connection, row: Any) -> Scope:
    """The photos, faces and subjects request ``row`` reaches, as of now."""
    photos: set[int] = set()
    faces: set[int] = set()
    subjects: set[int] = set()
    value = row.key_value
    if row.key_type == "owner":
        photos = {int(i) for (i,) in conn.execute(
            select(PHOTOS.c.id).where(or_(PHOTOS.c.owner_id == value, PHOTOS.c.owner_nickname == value)))}
        subjects = {int(i) for (i,) in conn.execute(select(SUBJECTS.c.id).where(SUBJECTS.c.owner_id == value))}
    elif row.key_type == "photo":
        photos = {int(i) for (i,) in conn.execute(select(PHOTOS.c.id).where(PHOTOS.c.external_id == value))}
    elif row.key_type == "url":
        photos = {int(i) for (i,) in conn.execute(
            select(PHOTOS.c.id).where(or_(PHOTOS.c.download_url == value, PHOTOS.c.page_url == value)))}
    elif row.key_type == "tag":
        wanted = value.strip().lower()
        for photo_id, tags in conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.tags).where(
                PHOTOS.c.owner_id == row.owner_scope, PHOTOS.c.tags.ilike(f"%{wanted}%"))
        ):
            if wanted in {t.strip().lower() for t in (tags or "").split(",")}:
                photos.add(int(photo_id))
    else:  # face: the matched faces and the subjects they belong to
        for face_id, subject_id in conn.execute(
            select(REQUEST_FACES.c.face_id, REQUEST_FACES.c.subject_id).where(REQUEST_FACES.c.request_id == row.id)
        ):
            faces.add(int(face_id))
            if subject_id is not None:
                subjects.add(int(subject_id))
    if photos:
        faces.update(int(f) for (f,) in _in_chunks(conn, FACES.c.photo_id, photos, FACES.c.id))
    if subjects:
        faces.update(int(f) for (f,) in _in_chunks(conn, FACE_SUBJECTS.c.subject_id, subjects, FACE_SUBJECTS.c.face_id))
    return Scope(photos, faces, subjects)  # fmt: skip


def _exclude(conn: Connection, table: Any, ids: set[int], request_id: int) -> int:
    count, values = 0, sorted(ids)
    for start in range(0, len(values), _CHUNK):
        count += conn.execute(
            update(table)
            .where(table.c.id.in_(values[start : start + _CHUNK]), table.c.excluded_request_id.is_(None))
            .values(excluded_request_id=request_id)
        ).rowcount
    return int(count)


def _access_document(conn: Connection, scope: Scope) -> dict[str, Any]:
    photos = _in_chunks(conn, PHOTOS.c.id, scope.photo_ids | {
        int(p) for (p,) in _in_chunks(conn, FACES.c.id, scope.face_ids, FACES.c.photo_id)
    }, PHOTOS.c.id, PHOTOS.c.external_id, PHOTOS.c.page_url, PHOTOS.c.excluded_request_id)  # fmt: skip
    versions = _in_chunks(conn, ITEMS.c.face_id, scope.face_ids, ITEMS.c.version_id)
    version_ids = {int(v) for (v,) in versions}
    consumers = _in_chunks(
        conn, CONSUMERS.c.version_id, version_ids, CONSUMERS.c.name, CONSUMERS.c.version_id
    )
    return {
        "photos": [{"id": int(p.id), "external_id": p.external_id, "page_url": p.page_url,
                    "excluded": p.excluded_request_id is not None} for p in sorted(photos, key=lambda p: p.id)],
        "faces": len(scope.face_ids),
        "subjects": sorted(scope.subject_ids),
        "releases": releases_holding(conn, face_ids=scope.face_ids, photo_ids=scope.photo_ids),
        "consumers": sorted({name for name, _ in consumers}),
    }  # fmt: skip


def execute_request(
    ledger: Ledger, vault: KeyVault, settings: Settings, id_or_receipt: str | int, *, actor: str = "cli"
) -> RequestRecord:
    """verified -> executed: carry the request out, all in one transaction (module docs).

    The subjects' keys are shredded last, just before the commit: should the commit fail,
    the keys are gone anyway (the error is on the person's side) and the request stays
    ``verified``, so running it again finishes the job.
    """
    with ledger.begin() as conn:
        row = _step(conn, id_or_receipt, "execute")
        request_id = int(row.id)
        scope = resolve(conn, row)
        if row.kind == "access":
            result: dict[str, Any] = _access_document(conn, scope)
            counts = {"photos": len(result["photos"]), "faces": result["faces"],
                      "releases": len(result["releases"])}  # fmt: skip
            key_refs: list[str] = []
        else:
            photos = _exclude(conn, PHOTOS, scope.photo_ids, request_id)
            faces = _exclude(conn, FACES, scope.face_ids, request_id)
            destroyed = destroy_templates(
                conn, face_ids=scope.face_ids, reason=row.kind, actor=actor, request_id=request_id,
                shred_subjects=scope.subject_ids if row.kind == "erasure" else (),
            )  # fmt: skip
            versions = cut_without(
                conn, settings, face_ids=scope.face_ids, photo_ids=scope.photo_ids,
                reason=f"{row.kind} request {request_id}", actor=actor,
            )  # fmt: skip
            notices = notify_consumers(
                conn, face_ids=scope.face_ids, photo_ids=scope.photo_ids, request_id=request_id,
                new_versions=versions,
            )  # fmt: skip
            counts = {
                "photos_excluded": photos, "faces_excluded": faces, "faces_destroyed": destroyed.faces,
                "templates_destroyed": destroyed.templates, "keys_shredded": len(destroyed.key_refs),
                "versions_cut": len(versions), "notices_due": len(notices),
            }  # fmt: skip
            result = {
                **counts, "subjects_shredded": destroyed.subjects_shredded,
                "new_versions": [v.ref for v in versions], "notices": notices,
                "certificates": destroyed.certificates,
            }  # fmt: skip
            key_refs = destroyed.key_refs
        conn.execute(
            update(REQUESTS).where(REQUESTS.c.id == request_id)
            .values(status="executed", executed_at=utcnow(), result=result)
        )  # fmt: skip
        append(conn, AuditRecord(name="request.executed", actor=actor, object_type="request",
                                 object_id=str(request_id), payload={"request": request_id, "kind": row.kind, **counts}))  # fmt: skip
        shred_keys(vault, key_refs)
        return _record(conn, _find(conn, request_id))


# --- the portal's entry points (faceledger serve) -------------------------------------------


def get_request_by_receipt(ledger: Ledger, receipt: str) -> RequestRecord:
    """The request with exactly this receipt: never by numeric id (the portal is public, so
    ids must not be enumerable)."""
    key = (receipt or "").strip()
    with ledger.read() as conn:
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.receipt == key)).first() if key else None
        if row is None:
            raise RequestNotFound("no request has this receipt id: check it was copied whole")
        return _record(conn, row)


def photo_request_key(ledger: Ledger, photo_id: int) -> tuple[str, str]:
    """``(key_type, value)`` that names one ledger photo in a request: its id at its source
    (``photo``), else its page or download URL (``url``)."""
    with ledger.read() as conn:
        row = conn.execute(
            select(PHOTOS.c.external_id, PHOTOS.c.page_url, PHOTOS.c.download_url).where(PHOTOS.c.id == photo_id)
        ).first()
    if row is None:
        raise RequestNotFound(f"no photo {photo_id}")
    if row.external_id:
        return "photo", row.external_id
    if row.page_url or row.download_url:
        return "url", row.page_url or row.download_url
    raise RequestError("this photo has no id or URL at its source: file the request by owner instead")


def new_face_request(
    ledger: Ledger,
    settings: Settings,
    *,
    kind: str,
    matches: list[dict[str, Any]],
    consent_given: bool,
    law: str | None = None,
    received: datetime | None = None,
    actor: str = "portal",
) -> RequestRecord:
    """File a face request for ``matches`` a selfie search just returned (``face_id``,
    ``subject_id``, ``distance`` each), so the person does not upload their selfie twice.
    The caller vouches that the matches come from that search (the portal signs them); faces
    that no longer exist are dropped. Same lifecycle, consent and audit as :func:`new_request`.
    """
    if kind not in KINDS:
        raise RequestError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    wanted = {int(m["face_id"]): m for m in matches[:MAX_RESULTS]}
    if not wanted:
        raise RequestError("a face request needs at least one matched face")
    received = received or utcnow()
    law, due = choose_law(settings, law, received.date())
    consent_id = _selfie_consent(ledger, None, consent_given, actor)
    with ledger.begin() as conn:
        known = {int(f) for (f,) in conn.execute(select(FACES.c.id).where(FACES.c.id.in_(sorted(wanted))))}
        rows = [
            {"face_id": face_id, "subject_id": m.get("subject_id"), "distance": m.get("distance")}
            for face_id, m in wanted.items() if face_id in known
        ]  # fmt: skip
        if not rows:
            raise RequestError("none of the matched faces is in the ledger any more")
        request_id = conn.execute(
            REQUESTS.insert().values(
                receipt=secrets.token_urlsafe(24), kind=kind, key_type="face", key_value=None,
                owner_scope=None, consent_id=consent_id, law=law, status="received",
                received_at=received, deadline=due,
            ).returning(REQUESTS.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(REQUEST_FACES.insert(), [{"request_id": request_id, **row} for row in rows])
        append(
            conn,
            AuditRecord(
                name="request.received", actor=actor, object_type="request", object_id=str(request_id),
                payload={"request": int(request_id), "kind": kind, "key_type": "face", "law": law,
                         "deadline": due.isoformat(), "matched_faces": len(rows),
                         "consent": consent_id},
            ),  # fmt: skip
        )
        return _record(conn, _find(conn, request_id))
