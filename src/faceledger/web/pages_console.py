"""The owner's console pages (session login; forms carry the session's CSRF token)."""

from __future__ import annotations

from pathlib import Path, PurePath

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from faceledger.errors import AssessmentNotFound
from faceledger.services.decisions.exposure import ledger_exposure
from faceledger.services.lifecycle import release_consumers, release_versions
from faceledger.services.oversight.audit import (
    event_facets,
    find_events,
    recent_events,
    verify_audit,
)
from faceledger.services.people.consent import import_consents, list_consents
from faceledger.services.portal.users import User, login, logout
from faceledger.web import console, uploads
from faceledger.web.charts import bar_chart
from faceledger.web.deps import Portal, flush_unaudited_logins, get_portal, page_may, page_user
from faceledger.web.pages_public import render
from faceledger.web.security import SESSION_COOKIE, check_csrf

router = APIRouter(prefix="/console", include_in_schema=False)

CONSENT_IMPORTER = page_may("consent.import")  # admins only (services.users.ADMIN_ONLY)


def _session_csrf(request: Request, token: str | None) -> None:
    check_csrf(request, token, session_csrf=getattr(request.state, "session_csrf", ""))


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, portal: Portal = Depends(get_portal)) -> HTMLResponse:
    return render(portal, request, "console_login.html")


@router.post("/login")
def login_submit(
    request: Request, portal: Portal = Depends(get_portal), name: str = Form("", max_length=64),
    token: str = Form("", max_length=256), csrf_token: str = Form("", max_length=256),
) -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    flush_unaudited_logins(portal)
    audited = portal.audit_budget.try_take()
    session = login(portal.ledger, name.strip(), token.strip(), hours=portal.settings.web_session_hours,
                    audit_failure=audited)  # fmt: skip
    if session is None and not audited:
        portal.audit_budget.note_unaudited()
    if session is None:
        return render(portal, request, "console_login.html", http_status=401,
                      failed="That name and token do not match an active console user.")  # fmt: skip
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session.cookie, max_age=portal.settings.web_session_hours * 3600,
        httponly=True, samesite="strict", secure=portal.settings.web_cookie_secure, path="/console",
    )  # fmt: skip
    return response


@router.post("/logout")
def logout_submit(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(page_user),
    csrf_token: str = Form("", max_length=256),
) -> Response:  # fmt: skip
    _session_csrf(request, csrf_token)
    logout(portal.ledger, request.cookies.get(SESSION_COOKIE, ""), actor=f"web:{user.name}")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@router.get("", response_class=HTMLResponse)
def queue(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(page_user),
    status: str | None = Query(None, pattern="^(received|verified|executed|confirmed|rejected)$"),
    overdue: bool = Query(False),
) -> HTMLResponse:  # fmt: skip
    requests = console.queue(portal, status=status, overdue=overdue)
    return render(portal, request, "console_queue.html", user=user, requests=requests)


@router.post("/requests/{request_id}/{action}")
def act(
    request: Request, action: str, request_id: int = PathParam(ge=1, le=2**62),
    portal: Portal = Depends(get_portal), user: User = Depends(page_user), reason: str = Form("", max_length=2000),
    csrf_token: str = Form("", max_length=256),
) -> Response:  # fmt: skip
    _session_csrf(request, csrf_token)
    console.act(portal, user, request_id, action, reason)
    return RedirectResponse("/console", status_code=303)


@router.get("/exposure", response_class=HTMLResponse)
def exposure(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(page_user),
    purpose: str | None = Query(None, min_length=1, max_length=128),
) -> HTMLResponse:  # fmt: skip
    purpose = portal.settings.purpose_or(purpose)
    try:
        doc = ledger_exposure(portal.ledger, purpose=purpose, policies=portal.policies)
    except AssessmentNotFound as exc:
        return render(portal, request, "console_exposure.html", user=user, doc=None, purpose=purpose,
                      note=str(exc), chart="")  # fmt: skip
    chart = bar_chart(
        [(law["law"], law["faces"]) for law in doc["laws"]],
        title=f"Faces at risk by law ({purpose})",
    )
    return render(portal, request, "console_exposure.html", user=user, doc=doc, purpose=purpose,
                  note=None, chart=Markup(chart))  # fmt: skip


@router.get("/consents", response_class=HTMLResponse)
def consents(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(page_user)
) -> HTMLResponse:
    records = [c.to_dict() for c in list_consents(portal.ledger)][-200:]
    return render(
        portal, request, "console_consents.html", user=user, consents=records, report=None
    )


@router.post("/consents/import", response_class=HTMLResponse)
async def consents_import(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(CONSENT_IMPORTER)
) -> HTMLResponse:
    limit = portal.settings.web_max_upload_bytes
    parts = uploads.parse_multipart(
        await uploads.read_body(request, limit), request.headers.get("content-type")
    )
    _session_csrf(request, uploads.text_part(parts, "csrf_token"))
    part = parts.get("file")
    if part is None or not part.data or not part.filename:
        raise HTTPException(400, "attach a consent file (.csv or .jsonl) in the 'file' field")
    name = PurePath(part.filename).name[:128] or "upload.csv"
    report = import_consents(
        portal.ledger,
        Path(name),
        data=part.data,
        actor=f"web:{user.name}",
        policies=portal.policies,
    )
    records = [c.to_dict() for c in list_consents(portal.ledger)][-200:]
    return render(
        portal,
        request,
        "console_consents.html",
        user=user,
        consents=records,
        report=report.to_dict(),
    )


@router.get("/releases", response_class=HTMLResponse)
def releases(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(page_user)
) -> HTMLResponse:
    versions = [v.to_dict() for v in release_versions.list_releases(portal.ledger)]
    consumers = release_consumers.list_consumers(portal.ledger)
    return render(
        portal, request, "console_releases.html", user=user, versions=versions, consumers=consumers
    )


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(page_user),
    before: int | None = Query(None, ge=1, le=2**62),
    event: str | None = Query(None, max_length=128), actor: str | None = Query(None, max_length=256),
) -> HTMLResponse:  # fmt: skip
    event, actor = (event or "").strip() or None, (actor or "").strip() or None
    events = find_events(portal.ledger, limit=100, before_id=before, name=event, actor=actor)
    return render(portal, request, "console_audit.html", user=user, events=events, check=None,
                  facets=event_facets(portal.ledger), event=event, actor=actor)  # fmt: skip


@router.post("/audit/verify", response_class=HTMLResponse)
def audit_verify(
    request: Request, portal: Portal = Depends(get_portal), user: User = Depends(page_user),
    csrf_token: str = Form("", max_length=256),
) -> HTMLResponse:  # fmt: skip
    _session_csrf(request, csrf_token)
    check = verify_audit(
        portal.ledger, checkpoints=portal.settings.data_dir / "audit-checkpoints.jsonl"
    )
    events = recent_events(portal.ledger, limit=100)
    return render(portal, request, "console_audit.html", user=user, events=events, check=check,
                  facets=event_facets(portal.ledger), event=None, actor=None)  # fmt: skip


@router.get("/faces/{face_id}", response_class=HTMLResponse)
def face(
    request: Request, face_id: int = PathParam(ge=1, le=2**62), portal: Portal = Depends(get_portal),
    user: User = Depends(page_user), purpose: str | None = Query(None, min_length=1, max_length=128),
) -> HTMLResponse:  # fmt: skip
    """One face: its photo and boxes, decision and reasons, claims, consent and requests."""
    view = console.face_page(portal, face_id, purpose)
    return render(portal, request, "console_face.html", user=user, v=view)
