"""Console users, their API tokens and login sessions (the portal's owner console).

Example::

    user, token = add_user(ledger, "ada", role="admin")   # token shown once: "flt_1_..."
    authenticate_token(ledger, token)                       # -> User(name="ada", role="admin")
    session = login(ledger, "ada", token, hours=8)          # cookie value + CSRF secret
    session_user(ledger, session.cookie)                    # -> (User, csrf)

Secrets are never stored. A token is ``flt_<token id>_<secret>`` with a 256-bit secret; the
ledger keeps ``scrypt(secret)`` (n=2**14, r=8, p=1, per-token salt) and compares in constant
time. A session id is also 256 random bits; the ledger keeps only its SHA-256 (a fast hash
is enough for a secret that is not chosen by a person), its CSRF secret and its expiry.
Logging in takes the user name and one of the user's tokens: there are no passwords to
choose, forget or reuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from faceledger.errors import RoleRequired, UserError
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import SESSIONS, TOKENS, USERS

ROLES = ("admin", "reviewer")
#: What only an admin may do; a reviewer reads everything and moves requests along, but
#: never destroys data, imports consents or manages users. The one role rule: the console
#: API, its pages and any other front end ask :func:`require`.
ADMIN_ONLY = frozenset({"request.execute", "consent.import"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^flt_(\d{1,12})_([A-Za-z0-9_-]{43})$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def require(user: User, action: str) -> User:
    """``user`` if their role allows ``action`` (a key of :data:`ADMIN_ONLY` or any other
    console action); else :class:`~faceledger.errors.RoleRequired` (HTTP 403)."""
    if action in ADMIN_ONLY and not user.is_admin:
        raise RoleRequired(
            f"{action.replace('.', ' ')} needs the admin role; {user.name} is a {user.role}"
        )
    return user


@dataclass(frozen=True)
class Session:
    """A new login session: ``cookie`` goes to the browser, ``csrf`` into every form."""

    cookie: str
    csrf: str
    user: User
    expires_at: datetime


def _hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def _check_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        candidate = hashlib.scrypt(
            secret.encode(), salt=base64.b64decode(salt), dklen=len(expected), **_SCRYPT
        )
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(candidate, expected)


_dummy_hash: list[str] = []


def _dummy() -> str:
    """A stored-hash stand-in for unknown token ids, so that an unknown id costs the same
    scrypt as a known one (no timing difference tells which ids exist)."""
    if not _dummy_hash:
        _dummy_hash.append(_hash_secret(secrets.token_urlsafe(32)))
    return _dummy_hash[0]


def looks_like_secret(text: str) -> bool:
    """Whether ``text`` holds something shaped like a console token (e.g. pasted into a name
    field): such text is never stored, logged or echoed."""
    return "flt_" in (text or "").lower() or bool(_TOKEN.search(text or ""))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _issue_token(conn: Connection, user_id: int) -> str:
    secret = secrets.token_urlsafe(32)
    token_id = conn.execute(
        TOKENS.insert()
        .values(user_id=user_id, secret_hash=_hash_secret(secret), created_at=utcnow())
        .returning(TOKENS.c.id)
    ).scalar_one()
    return f"flt_{token_id}_{secret}"


def add_user(ledger: Ledger, name: str, *, role: str, actor: str = "cli") -> tuple[User, str]:
    """Create a console user and its first API token; the token is returned once, never kept."""
    if looks_like_secret(name):
        raise UserError("that user name looks like a console token: choose a plain name")
    if not _NAME.match(name or ""):
        raise UserError(f"user name {name!r}: 1-64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    with ledger.begin() as conn:
        if conn.execute(select(USERS.c.id).where(USERS.c.name == name)).first():
            raise UserError(f"a user named {name!r} already exists")
        user_id = conn.execute(
            USERS.insert().values(name=name, role=role, created_at=utcnow()).returning(USERS.c.id)
        ).scalar_one()
        token = _issue_token(conn, user_id)
        append(conn, AuditRecord(
            name="user.add", actor=actor, object_type="web_user", object_id=str(user_id),
            payload={"user_id": user_id, "name": name, "role": role},
        ))  # fmt: skip
    return User(user_id, name, role), token


def list_users(ledger: Ledger) -> list[User]:
    with ledger.read() as conn:
        rows = conn.execute(
            select(USERS.c.id, USERS.c.name, USERS.c.role)
            .where(USERS.c.disabled_at.is_(None))
            .order_by(USERS.c.id)
        ).all()
    return [User(*row) for row in rows]


def authenticate_token(ledger: Ledger, token: str) -> User | None:
    """The active user an API token belongs to, or ``None`` (bad, revoked or unknown)."""
    match = _TOKEN.match(token or "")
    if not match:
        return None
    with ledger.read() as conn:
        row = conn.execute(
            select(TOKENS.c.secret_hash, USERS.c.id, USERS.c.name, USERS.c.role)
            .join(USERS, USERS.c.id == TOKENS.c.user_id)
            .where(
                TOKENS.c.id == int(match.group(1)),
                TOKENS.c.revoked_at.is_(None),
                USERS.c.disabled_at.is_(None),
            )
        ).first()
    if row is None:
        _check_secret(match.group(2), _dummy())  # the same work as for a real token id
        return None
    if not _check_secret(match.group(2), row.secret_hash):
        return None
    return User(row.id, row.name, row.role)


def login(
    ledger: Ledger,
    name: str,
    token: str,
    *,
    hours: int,
    actor: str = "web",
    audit_failure: bool = True,
) -> Session | None:
    """A new session when ``token`` is one of ``name``'s tokens; ``None`` (and audited, unless
    ``audit_failure`` is False: the caller counts it, see :func:`record_unaudited_logins`)
    if not. What was typed is never written: only the named user's id, if there is one."""
    user = authenticate_token(ledger, token)
    ok = user is not None and user.name == name
    if not ok and not audit_failure:
        return None
    now = utcnow()
    with ledger.begin() as conn:
        session = None
        named = user.id if ok and user else None
        if not ok and _NAME.match(name or "") and not looks_like_secret(name):
            named = conn.execute(select(USERS.c.id).where(USERS.c.name == name)).scalar()
        if ok and user is not None:
            cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            expires = now + timedelta(hours=hours)
            conn.execute(SESSIONS.insert().values(
                id_hash=_sha256(cookie), user_id=user.id, csrf=csrf, created_at=now,
                expires_at=expires,
            ))  # fmt: skip
            session = Session(cookie, csrf, user, expires)
        append(conn, AuditRecord(
            name="user.login", actor=actor, object_type="web_user",
            object_id=str(named) if named is not None else None,
            payload={"user_id": named, "ok": ok,
                     "expires_at": session.expires_at.isoformat() if session else None},
        ))  # fmt: skip
    return session


def record_unaudited_logins(
    ledger: Ledger, count: int, *, hour: datetime, actor: str = "web"
) -> None:
    """One ``user.login`` event for ``count`` refused logins in the hour from ``hour`` that
    were not audited one by one (anonymous traffic past the portal's audit budget)."""
    if count <= 0:
        return
    with ledger.begin() as conn:
        append(conn, AuditRecord(
            name="user.login", actor=actor, object_type="web_user", object_id=None,
            payload={"ok": False, "count": count, "hour": hour.isoformat(), "aggregated": True},
        ))  # fmt: skip


def _user_id(conn: Connection, name: str) -> int:
    found = conn.execute(
        select(USERS.c.id).where(USERS.c.name == name, USERS.c.disabled_at.is_(None))
    ).scalar()
    if found is None:
        raise UserError(f"no active console user named {name!r}")
    return int(found)


def _end_access(
    conn: Connection, user_id: int, *, keep_token: int | None = None
) -> tuple[int, int]:
    """Revoke the user's tokens (all but ``keep_token``) and end their sessions: how many."""
    now = utcnow()
    where = [TOKENS.c.user_id == user_id, TOKENS.c.revoked_at.is_(None)]
    if keep_token is not None:
        where.append(TOKENS.c.id != keep_token)
    tokens = conn.execute(update(TOKENS).where(*where).values(revoked_at=now)).rowcount
    sessions = conn.execute(
        update(SESSIONS)
        .where(SESSIONS.c.user_id == user_id, SESSIONS.c.ended_at.is_(None))
        .values(ended_at=now)
    ).rowcount
    return int(tokens or 0), int(sessions or 0)


def revoke_user(ledger: Ledger, name: str, *, actor: str = "cli") -> dict[str, int]:
    """Disable a console user: every token revoked, every session ended, at once (audited)."""
    with ledger.begin() as conn:
        user_id = _user_id(conn, name)
        tokens, sessions = _end_access(conn, user_id)
        conn.execute(update(USERS).where(USERS.c.id == user_id).values(disabled_at=utcnow()))
        append(conn, AuditRecord(
            name="user.revoke", actor=actor, object_type="web_user", object_id=str(user_id),
            payload={"user_id": user_id, "tokens_revoked": tokens, "sessions_ended": sessions},
        ))  # fmt: skip
    return {"user_id": user_id, "tokens_revoked": tokens, "sessions_ended": sessions}


def rotate_token(ledger: Ledger, name: str, *, actor: str = "cli") -> tuple[User, str]:
    """A new token for ``name``; every older token is revoked and every session ended in the
    same transaction (audited). The new token is returned once, never kept."""
    with ledger.begin() as conn:
        user_id = _user_id(conn, name)
        token = _issue_token(conn, user_id)
        token_id = int(_TOKEN.match(token).group(1))  # type: ignore[union-attr]
        revoked, sessions = _end_access(conn, user_id, keep_token=token_id)
        role = conn.execute(select(USERS.c.role).where(USERS.c.id == user_id)).scalar_one()
        append(conn, AuditRecord(
            name="user.rotate", actor=actor, object_type="web_user", object_id=str(user_id),
            payload={"user_id": user_id, "token_id": token_id, "tokens_revoked": revoked,
                     "sessions_ended": sessions},
        ))  # fmt: skip
    return User(user_id, name, str(role)), token


def session_user(ledger: Ledger, cookie: str) -> tuple[User, str] | None:
    """The user and CSRF secret of a live session, or ``None`` (unknown, ended or expired)."""
    if not cookie or len(cookie) > 128:
        return None
    with ledger.read() as conn:
        row = conn.execute(
            select(SESSIONS.c.csrf, SESSIONS.c.expires_at, USERS.c.id, USERS.c.name, USERS.c.role)
            .join(USERS, USERS.c.id == SESSIONS.c.user_id)
            .where(
                SESSIONS.c.id_hash == _sha256(cookie),
                SESSIONS.c.ended_at.is_(None),
                USERS.c.disabled_at.is_(None),
            )
        ).first()
    if row is None:
        return None
    expires = (
        row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=utcnow().tzinfo)
    )
    if expires <= utcnow():
        return None
    return User(row.id, row.name, row.role), row.csrf


def logout(ledger: Ledger, cookie: str, *, actor: str = "web") -> None:
    """End a session (idempotent)."""
    with ledger.begin() as conn:
        row = conn.execute(
            select(SESSIONS.c.user_id).where(
                SESSIONS.c.id_hash == _sha256(cookie), SESSIONS.c.ended_at.is_(None)
            )
        ).first()
        if row is None:
            return
        conn.execute(
            update(SESSIONS).where(SESSIONS.c.id_hash == _sha256(cookie)).values(ended_at=utcnow())
        )
        append(conn, AuditRecord(
            name="user.logout", actor=actor, object_type="web_user", object_id=str(row.user_id),
            payload={"user_id": row.user_id},
        ))  # fmt: skip
