"""Filing and following requests (``/api/v1/requests``) and claiming a face
(``/api/v1/claims``), public; the request and claim services do the work
(:mod:`faceledger.services.lifecycle.requests`, :mod:`faceledger.services.people.claims`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path

from faceledger.services.lifecycle import requests as service
from faceledger.web import models, present
from faceledger.web.deps import Portal, get_portal

router = APIRouter(prefix="/api/v1", tags=["requests"], responses=models.ERRORS)
_RECEIPT = Path(min_length=1, max_length=128, description="The receipt id you were given.")
_PROOF = Header(default=None, max_length=4096, description="The proof from /api/v1/verify/check.")


def owner_evidence(portal: Portal, proof: str | None) -> Any:
    """Verified ownership evidence from a portal owner proof (cookie or X-Owner-Proof), or
    ``None``: the proof is the profile-code check passed within the last hour."""
    from faceledger.services.people.verification import IdentityEvidence

    owner = present.owner_proof(portal, proof)
    if owner is None:
        return None
    return IdentityEvidence(
        "owner-profile-code", True, {"owner_id": owner, "verifier": getattr(portal.verifier, "name", "profile")},
        datetime.now(UTC),
    )  # fmt: skip


def file_request(
    portal: Portal, *, kind: str, token: str, law: str | None, contact: str | None = None,
    proof: str | None = None,
) -> Any:  # fmt: skip
    """File the request a signed search (or claim) token names (shared by the page and the
    API), with the requester's contact and, where the person proved they own the account,
    that evidence. The intake rules are :mod:`faceledger.services.lifecycle.request_intake`'s."""
    from faceledger.services.lifecycle.request_intake import Intake
    from faceledger.services.lifecycle.request_intake import file_request as file_intake

    key = present.request_key(portal, token)
    if key is None:
        raise HTTPException(
            400, "token: unknown or expired; search again and file from the results"
        )
    portal.audit_budget.take()  # each filed request is audited: anonymous filing is capped
    common: dict[str, Any] = {
        "kind": kind,
        "law": law or None,
        "contact": contact,
        "actor": "portal",
        "channel": "portal",
    }
    if key["key_type"] == "face":
        intake = Intake(matches=tuple(key["faces"]), consent_given=True, **common)
    elif key["key_type"] == "claim":
        intake = Intake(claims=(int(key["claim_id"]),), **common)
    elif key["key_type"] == "photo":
        intake = Intake(
            photo_id=int(key["photo_id"]), evidence=owner_evidence(portal, proof), **common
        )
    else:
        intake = Intake(owner=key["value"], evidence=owner_evidence(portal, proof), **common)
    return file_intake(portal.ledger, portal.settings, portal.vault, intake)


def claim_face(
    portal: Portal, *, token: str, by: str, relationship: str | None, is_photo_owner: bool,
    attest: bool, proof: str | None,
) -> Any:  # fmt: skip
    """Record a person's claim of the face a signed claim token names (no template is
    computed): the attestation, and owner evidence when they claim as the photo's owner."""
    from faceledger.services.people.claims import add_claim
    from faceledger.services.people.verification import IdentityEvidence

    face_id = present.claim_key(portal, token)
    if face_id is None:
        raise HTTPException(
            400, "token: unknown or expired; search again and choose the face from the results"
        )
    if not attest:
        raise HTTPException(422, "attest: confirm that what you say is true")
    if by not in ("subject", "legal-representative"):
        raise HTTPException(
            422, "by: subject (this is me) or legal-representative (this is my child)"
        )
    relationship = (relationship or "").strip() or (
        "parent" if by == "legal-representative" else None
    )
    statement = "this is me" if by == "subject" else f"this is my child (I am their {relationship})"
    evidence: Any = IdentityEvidence(
        "attestation", False, {"statement": statement, "channel": "portal"}
    )
    if is_photo_owner:
        evidence = owner_evidence(portal, proof)
        if evidence is None or by != "subject":
            raise HTTPException(
                400, "is_photo_owner: to claim your own face as the photo's owner, prove you own the "
                "account first (verify, then claim again)",
            )  # fmt: skip
    portal.audit_budget.take()  # each claim is audited: anonymous claiming is capped
    return add_claim(
        portal.ledger, face_id=face_id, by=by, relationship=relationship, is_photo_owner=is_photo_owner,
        evidence=evidence, actor="portal", minor=True if by == "legal-representative" else None,
        policies=portal.policies,
    )  # fmt: skip


def claim_document(portal: Portal, claim: Any) -> dict[str, Any]:
    return {
        "receipt": claim.receipt, "by": claim.by, "relationship": claim.relationship,
        "is_photo_owner": claim.is_photo_owner, "owner_verified": claim.owner_verified,
        "status": claim.status, "request_token": present.claim_request_token(portal, int(claim.id)),
    }  # fmt: skip


@router.post(
    "/requests",
    response_model=models.Receipt,
    status_code=201,
    summary="File an opt-out or erasure",
)
def create(
    body: models.RequestIn, portal: Portal = Depends(get_portal), x_owner_proof: str | None = _PROOF
) -> dict[str, Any]:  # fmt: skip
    """File a request for what a search returned (its ``request_token`` or ``owner_token``),
    or for a face you claimed (the claim's ``request_token``). Keep the receipt: it is the only
    way to follow the request. A request for a whole account or photo is carried out only once
    you proved you own the account (send ``X-Owner-Proof``)."""
    record = file_request(portal, kind=body.kind, token=body.token, law=body.law, contact=body.contact,
                          proof=x_owner_proof)  # fmt: skip
    return {"receipt": record.receipt, "status_url": f"/requests/{record.receipt}",
            "status": present.request_status(record)}  # fmt: skip


@router.post(
    "/claims",
    response_model=models.ClaimOut,
    status_code=201,
    summary="Claim a face: this is me / my child",
)
def claim(
    body: models.ClaimIn, portal: Portal = Depends(get_portal), x_owner_proof: str | None = _PROOF
) -> dict[str, Any]:  # fmt: skip
    """Say that a face a search showed is yours (``by=subject``) or your child's
    (``by=legal-representative``). No template of your face is computed. Then opt that face
    out with the ``request_token`` you get back."""
    record = claim_face(portal, token=body.token, by=body.by, relationship=body.relationship,
                        is_photo_owner=body.is_photo_owner, attest=body.attest, proof=x_owner_proof)  # fmt: skip
    return claim_document(portal, record)


@router.get(
    "/requests/{receipt}", response_model=models.RequestStatus, summary="A request's status"
)
def status(receipt: str = _RECEIPT, portal: Portal = Depends(get_portal)) -> dict[str, Any]:
    """Each step of the request with its time, and the legal deadline."""
    return present.request_status(service.get_request_by_receipt(portal.ledger, receipt))
