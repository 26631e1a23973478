"""Requests from people: opt-out, erasure and access, from receipt to confirmation.

Example::

    request = new_request(ledger, settings, vault, kind="erasure", key_type="owner",
                          value="7000@N01", contact="ada@example.org", evidence=owner_proof)
    request.receipt                      # unguessable: hand it to the person
    verify_request(ledger, request.id)   # the evidence shows who is asking (refused otherwise)
    execute_request(ledger, vault, settings, request.id)
    confirm_request(ledger, request.id)  # the requester was told

A request records **who is asking**: the requester's contact (encrypted in the key vault,
shown to console users only, never audited), the identity evidence
(:class:`faceledger.services.people.verification.IdentityEvidence` documents: owner verification, a
claim, or a selfie match) and what it **covers** (``account``, ``tag``, ``photo`` or
``faces``). It is keyed by a photo owner id or username (``owner``), a photo's id at its
source (``photo``), a photo or page URL (``url``), one of an owner's own tags (``tag``, with
``owner_scope``), or faces (``face``): faces the person claimed (``claims``,
:mod:`faceledger.services.people.claims`), or a selfie matched at once under a ``match-optout``
consent recorded with the request (the selfie's template is discarded after matching; only
the matched face ids are kept, each ``pending`` until a reviewer confirms or rejects it; the
other faces of the matched subjects are offered to the reviewer as ``cluster`` candidates,
pending too).

The rules (:mod:`faceledger.services.lifecycle.request_identity`): a request covering whole photos
needs verified ownership evidence before ``verify``; a face request acts only on claimed and
reviewer-confirmed faces, never on other faces of a matched subject; a pending match blocks
``execute``. Lifecycle: received -> verified -> executed -> confirmed, or rejected (from
received or verified) with a reason; a reviewer may extend the deadline with a reason (GDPR
Art. 12(3)). Each step is timestamped and audited (``request.*``) with the request id and
counts, never an owner id, URL, tag, contact or receipt. Executing:
:mod:`faceledger.services.lifecycle.request_execute`.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from faceledger.config import Settings
from faceledger.core.receipts import new_receipt
from faceledger.errors import IdentityError, RequestError, RequestNotFound, RequestStateError
from faceledger.services.biometrics.matching import MATCH_PURPOSE, MAX_RESULTS, search_by_selfie
from faceledger.services.lifecycle.request_execute import (
    Scope,
    execute_request,
    resolve,
    resolve_photos,
)
from faceledger.services.lifecycle.request_identity import (
    active_claims,
    clean_contact,
    decide_face,
    evidence_doc,
    evidence_docs,
    extend_deadline,
    identity_problem,
    read_contact,
    review_faces,
    seal_contact,
)
from faceledger.services.lifecycle.request_records import (
    COVERS,
    KEY_TYPES,
    KINDS,
    PAST,
    STATUSES,
    RequestRecord,
    choose_law,
    find,
    record,
    step,
    today,
)
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import FACE_SUBJECTS, FACES, PHOTOS, REQUEST_FACES, REQUESTS
from faceledger.store.vault import KeyVault
from faceledger.vision.dlib_models import thresholds_for

#: Most other faces of matched subjects offered to the reviewer as candidates per request.
CLUSTER_CANDIDATES = 50

__all__ = [
    "KEY_TYPES", "KINDS", "STATUSES", "IdentityError", "RequestError", "RequestNotFound", "RequestRecord",
    "RequestStateError", "Scope", "confirm_request", "decide_face", "execute_request", "extend_deadline",
    "get_request", "get_request_by_receipt", "list_requests", "new_face_request", "new_request",
    "photo_request_key", "read_contact", "reject_request", "resolve", "resolve_photos", "review_faces",
    "verify_request",
]  # fmt: skip


def _selfie_consent(ledger: Ledger, consent: str | None, consent_given: bool, actor: str) -> int:
    """The id of an active consent covering ``match-optout``: the one named, or a new one."""
    if consent is not None:
        from faceledger.services.people.consent import ConsentRecord, find_consent

        with ledger.read() as conn:
            record = ConsentRecord.from_row(find_consent(conn, consent))
        status = record.status_on(today())  # the one validity rule (== the engine's active_on)
        if MATCH_PURPOSE not in record.purposes or status != "active":
            raise RequestError(
                f"consent {record.id} does not cover {MATCH_PURPOSE!r} today ({status})"
            )
        return int(record.id)
    if not consent_given:
        raise RequestError(
            "a selfie request computes a biometric template of the requester: record their "
            f"explicit consent for {MATCH_PURPOSE!r} with the request (--consent-given, or "
            "--consent ID of one already recorded)"
        )
    from faceledger.services.people.consent import add_consent

    change = add_consent(
        ledger, owner_id=f"selfie-requester:{secrets.token_hex(8)}", form="electronic",
        purposes=[MATCH_PURPOSE], informed=True, source="request", actor=actor, policies=[],
    )  # fmt: skip
    return change.consent.id


def _claimed_faces(ledger: Ledger, claims: list[str | int]) -> list[dict[str, Any]]:
    """request_faces rows for the person's claims (each active, each of a distinct face)."""
    try:
        from faceledger.services.people.claims import get_claim
    except ImportError:
        raise RequestError(
            "claims are not available in this installation: file by selfie instead"
        ) from None
    rows: dict[int, dict[str, Any]] = {}
    for ref in claims:
        claim = get_claim(ledger, ref)
        if claim.status != "active":
            raise RequestError(
                f"claim {claim.id} is {claim.status}: only an active claim backs a request"
            )
        rows[int(claim.face_id)] = {"face_id": int(claim.face_id), "subject_id": None, "distance": None,
                                    "basis": "claim", "claim_id": int(claim.id), "status": "claimed"}  # fmt: skip
    if not rows:
        raise RequestError("a face request names the claims it rests on (or a selfie)")
    return list(rows.values())


def _insert(
    ledger: Ledger, settings: Settings, vault: KeyVault | None, *, kind: str, key_type: str,
    value: str | None, owner_scope: str | None, law: str | None, received: datetime | None,
    consent_id: int | None, contact: str | None, evidence: list[dict[str, Any]],
    faces: list[dict[str, Any]], actor: str,
) -> RequestRecord:  # fmt: skip
    received = received or utcnow()
    law, due = choose_law(settings, law, received.date())
    contact = clean_contact(contact)
    sealed: tuple[bytes | None, str | None] = (None, None)
    if contact is not None:
        if vault is None:
            raise RequestError("recording a contact needs the key vault (it is stored encrypted)")
        sealed = seal_contact(vault, contact)
    with ledger.begin() as conn:
        if faces:
            known = {int(f) for (f,) in conn.execute(
                select(FACES.c.id).where(FACES.c.id.in_(sorted({r["face_id"] for r in faces}))))}  # fmt: skip
            faces = [row for row in faces if row["face_id"] in known]
            if not faces:
                raise RequestError("none of the faces is in the ledger any more")
        request_id = conn.execute(
            REQUESTS.insert().values(
                receipt=new_receipt(), kind=kind, key_type=key_type, key_value=value,
                owner_scope=owner_scope, consent_id=consent_id, law=law, status="received",
                received_at=received, deadline=due, covers=COVERS[key_type], evidence=evidence,
                contact_ciphertext=sealed[0], contact_key_ref=sealed[1],
            ).returning(REQUESTS.c.id)
        ).scalar_one()  # fmt: skip
        faces += _cluster_mates(conn, faces)
        if faces:
            conn.execute(
                REQUEST_FACES.insert(), [{"request_id": request_id, **row} for row in faces]
            )
        append(
            conn,
            AuditRecord(
                name="request.received",
                actor=actor,
                object_type="request",
                object_id=str(request_id),
                payload={
                    "request": int(request_id),
                    "kind": kind,
                    "key_type": key_type,
                    "law": law,
                    "deadline": due.isoformat(),
                    "matched_faces": len(faces),
                    "consent": consent_id,
                    "covers": COVERS[key_type],
                    "evidence": sorted({e["kind"] for e in evidence}),
                    "claimed_faces": sum(1 for r in faces if r.get("basis") == "claim"),
                },
            ),  # fmt: skip
        )
        return record(conn, find(conn, request_id))


def _selfie_evidence(matched: int, threshold: float, consent_id: int) -> dict[str, Any]:
    """A selfie match is evidence, never proof: each face still needs a reviewer."""
    from faceledger.services.people.verification import IdentityEvidence

    evidence = IdentityEvidence("selfie-match", False, {"matched_faces": matched, "threshold": threshold,
                                                        "consent": consent_id})  # fmt: skip
    return evidence_doc(evidence)


def _cluster_mates(conn: Any, faces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Other faces of the subjects a selfie matched, as *pending* candidates a reviewer may
    confirm face by face (never acted on by themselves: a cluster is a look-alike)."""
    matched = {row["face_id"] for row in faces if row.get("basis") == "selfie"}
    if not matched:
        return []
    subjects = select(FACE_SUBJECTS.c.subject_id).where(
        FACE_SUBJECTS.c.face_id.in_(sorted(matched))
    )
    rows = conn.execute(
        select(FACE_SUBJECTS.c.face_id, FACE_SUBJECTS.c.subject_id)
        .join(FACES, FACES.c.id == FACE_SUBJECTS.c.face_id)
        .where(FACE_SUBJECTS.c.subject_id.in_(subjects), FACES.c.excluded_request_id.is_(None),
               FACE_SUBJECTS.c.face_id.not_in(sorted(matched)))
        .order_by(FACE_SUBJECTS.c.face_id).limit(CLUSTER_CANDIDATES)
    ).all()  # fmt: skip
    return [{"face_id": int(r.face_id), "subject_id": int(r.subject_id), "distance": None, "basis": "cluster",
             "status": "pending"} for r in rows]  # fmt: skip


def _selfie_rows(matches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"face_id": int(m["face_id"]), "subject_id": m.get("subject_id"), "distance": m.get("distance"),
             "basis": "selfie", "status": "pending"} for m in matches]  # fmt: skip


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
    claims: list[str | int] | None = None,
    contact: str | None = None,
    evidence: Any = None,
    received: datetime | None = None,
    actor: str = "cli",
) -> RequestRecord:
    """File a request (status ``received``); a selfie is matched now and then discarded."""
    if kind not in KINDS:
        raise RequestError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if key_type not in KEY_TYPES:
        raise RequestError(f"key {key_type!r} is not one of {', '.join(KEY_TYPES)}")
    value = value.strip() if value else None
    docs = evidence_docs(evidence)
    faces: list[dict[str, Any]] = []
    consent_id = None
    if key_type == "face":
        value = None
        if claims:
            faces = _claimed_faces(ledger, claims)
        elif selfie is None or vault is None:
            raise RequestError(
                "a face request needs the person's claims (--claim) or their selfie (--selfie FILE)"
            )
        else:
            consent_id = _selfie_consent(ledger, consent, consent_given, actor)
            matches = search_by_selfie(
                ledger, vault, settings, selfie, consent_given=True, actor=actor, k=MAX_RESULTS
            )
            faces = _selfie_rows(matches)
            docs.append(_selfie_evidence(len(faces), thresholds_for(settings).match, consent_id))
    elif not value:
        raise RequestError(f"a {key_type} request needs the {key_type} it is about")
    if key_type == "tag" and not (owner and owner.strip()):
        raise RequestError(
            "a tag request covers one photographer's own tags: name the owner (--owner)"
        )
    return _insert(
        ledger, settings, vault, kind=kind, key_type=key_type, value=value,
        owner_scope=owner.strip() if key_type == "tag" and owner else None, law=law, received=received,
        consent_id=consent_id, contact=contact, evidence=docs, faces=faces, actor=actor,
    )  # fmt: skip


def get_request(ledger: Ledger, id_or_receipt: str | int) -> RequestRecord:
    with ledger.read() as conn:
        return record(conn, find(conn, id_or_receipt))


def list_requests(
    ledger: Ledger, *, status: str | None = None, overdue: bool = False, on: date | None = None
) -> list[RequestRecord]:
    """Requests by id; ``overdue``: only open ones past their deadline (as of ``on``)."""
    query = select(REQUESTS).order_by(REQUESTS.c.id)
    if status is not None:
        query = query.where(REQUESTS.c.status == status)
    if overdue:
        query = query.where(
            REQUESTS.c.status.in_(("received", "verified")), REQUESTS.c.deadline < (on or today())
        )
    with ledger.read() as conn:
        return [record(conn, row) for row in conn.execute(query).all()]


def _advance(
    ledger: Ledger, id_or_receipt: str | int, name: str, actor: str, **extra: Any
) -> RequestRecord:
    with ledger.begin() as conn:
        row = step(conn, id_or_receipt, name)
        status = PAST[name]
        conn.execute(
            update(REQUESTS).where(REQUESTS.c.id == row.id)
            .values(status=status, **{f"{status}_at": utcnow()}, **extra)
        )  # fmt: skip
        payload: dict[str, Any] = {"request": int(row.id)}
        if name == "reject":
            payload["reason"] = extra["reject_reason"]
        append(conn, AuditRecord(name=f"request.{status}", actor=actor, object_type="request",
                                 object_id=str(row.id), payload=payload))  # fmt: skip
        return record(conn, find(conn, row.id))


def verify_request(
    ledger: Ledger, id_or_receipt: str | int, *, evidence: Any = None, actor: str = "cli"
) -> RequestRecord:
    """received -> verified: the evidence shows who is asking and that the request covers
    what it asks for. ``evidence`` (an IdentityEvidence) is added to the request first, e.g.
    a signed form the reviewer checked. Refused (:class:`IdentityError`) otherwise."""
    added = evidence_docs(evidence)
    with ledger.begin() as conn:
        row = step(conn, id_or_receipt, "verify")
        evidence_now = [*(row.evidence or []), *added]
        if added:
            conn.execute(
                update(REQUESTS).where(REQUESTS.c.id == row.id).values(evidence=evidence_now)
            )
            row = find(conn, row.id)
        photos = resolve_photos(conn, row) if row.covers != "faces" else set()
        problem = identity_problem(conn, ledger, row, photos, "verified")
        if problem:
            raise IdentityError(problem)
        conn.execute(
            update(REQUESTS)
            .where(REQUESTS.c.id == row.id)
            .values(status="verified", verified_at=utcnow())
        )
        append(conn, AuditRecord(
            name="request.verified", actor=actor, object_type="request", object_id=str(row.id),
            payload={"request": int(row.id), "evidence": sorted({e["kind"] for e in evidence_now if e.get("verified")})},
        ))  # fmt: skip
        return record(conn, find(conn, row.id))


def confirm_request(
    ledger: Ledger, id_or_receipt: str | int, *, actor: str = "cli"
) -> RequestRecord:
    """executed -> confirmed: the requester was told the outcome."""
    return _advance(ledger, id_or_receipt, "confirm", actor)


def reject_request(
    ledger: Ledger, id_or_receipt: str | int, *, reason: str, actor: str = "cli"
) -> RequestRecord:
    """received | verified -> rejected, with the reason given to the requester."""
    if not reason.strip():
        raise RequestError("a rejection needs a reason (it is given to the requester)")
    return _advance(ledger, id_or_receipt, "reject", actor, reject_reason=reason.strip())


# --- the portal's entry points (faceledger serve) -------------------------------------------


def get_request_by_receipt(ledger: Ledger, receipt: str) -> RequestRecord:
    """The request with exactly this receipt: never by numeric id (the portal is public, so
    ids must not be enumerable)."""
    key = (receipt or "").strip()
    with ledger.read() as conn:
        row = (
            conn.execute(select(REQUESTS).where(REQUESTS.c.receipt == key)).first() if key else None
        )
        if row is None:
            raise RequestNotFound("no request has this receipt id: check it was copied whole")
        return record(conn, row)


def photo_request_key(ledger: Ledger, photo_id: int) -> tuple[str, str]:
    """``(key_type, value)`` that names one ledger photo in a request: its id at its source
    (``photo``), else its page or download URL (``url``)."""
    with ledger.read() as conn:
        row = conn.execute(
            select(PHOTOS.c.external_id, PHOTOS.c.page_url, PHOTOS.c.download_url).where(
                PHOTOS.c.id == photo_id
            )
        ).first()
    if row is None:
        raise RequestNotFound(f"no photo {photo_id}")
    if row.external_id:
        return "photo", row.external_id
    if row.page_url or row.download_url:
        return "url", row.page_url or row.download_url
    raise RequestError(
        "this photo has no id or URL at its source: file the request by owner instead"
    )


def new_face_request(
    ledger: Ledger,
    settings: Settings,
    vault: KeyVault | None = None,
    *,
    kind: str,
    matches: list[dict[str, Any]],
    consent_given: bool,
    law: str | None = None,
    contact: str | None = None,
    received: datetime | None = None,
    actor: str = "portal",
) -> RequestRecord:
    """File a face request for ``matches`` a selfie search just returned (``face_id``,
    ``subject_id``, ``distance`` each), so the person does not upload their selfie twice.
    The caller vouches that the matches come from that search (the portal signs them); faces
    that no longer exist are dropped. Each face is ``pending`` until a reviewer confirms it.
    """
    if kind not in KINDS:
        raise RequestError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    rows = _selfie_rows(matches[:MAX_RESULTS])
    if not rows:
        raise RequestError("a face request needs at least one matched face")
    consent_id = _selfie_consent(ledger, None, consent_given, actor)
    evidence = [_selfie_evidence(len(rows), thresholds_for(settings).match, consent_id)]
    return _insert(
        ledger, settings, vault, kind=kind, key_type="face", value=None, owner_scope=None, law=law,
        received=received, consent_id=consent_id, contact=contact, evidence=evidence, faces=rows, actor=actor,
    )  # fmt: skip


def claims_active(ledger: Ledger, claim_ids: set[int]) -> set[int]:
    """Which of these claims are active now (for callers that present a request's faces)."""
    return active_claims(ledger, claim_ids)
