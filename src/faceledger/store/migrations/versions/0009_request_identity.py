"""requests record who asks, with identity evidence, per-face confirmation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

A request records the requester's contact (encrypted under its own key-vault key:
``contact_ciphertext`` + ``contact_key_ref``), the identity evidence (``evidence``, a JSON list
of IdentityEvidence documents), what it covers (``covers``: account | tag | photo | faces) and
a deadline extension (``deadline_original``, ``extended_at``, ``extension_reason``; GDPR
Art. 12(3)). A face a request covers says why (``basis``: selfie | cluster | claim, with ``claim_id``)
and where its review stands (``status``: pending | confirmed | rejected | claimed, who decided,
when, why). Rows from before this revision become ``selfie`` / ``pending``: a selfie match
is acted on only once a reviewer confirms it (fail closed).

SQLite: plain ``ADD COLUMN`` (never batch mode, which recreates the table and would cascade
deletes through foreign keys), as in 0006.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_REQUEST_COLUMNS = (
    sa.Column("contact_ciphertext", sa.LargeBinary(), nullable=True),
    sa.Column("contact_key_ref", sa.String(length=64), nullable=True),
    sa.Column("evidence", sa.JSON(), nullable=True),
    sa.Column("covers", sa.String(length=16), nullable=True),
    sa.Column("deadline_original", sa.Date(), nullable=True),
    sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("extension_reason", sa.Text(), nullable=True),
)
_FACE_COLUMNS = (
    sa.Column("basis", sa.String(length=16), server_default="selfie", nullable=False),
    sa.Column("claim_id", sa.Integer(), nullable=True),
    sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decided_by", sa.String(length=128), nullable=True),
    sa.Column("decision_reason", sa.Text(), nullable=True),
)
_COVERS = {"owner": "account", "tag": "tag", "photo": "photo", "url": "photo", "face": "faces"}


def upgrade() -> None:
    for request_column in _REQUEST_COLUMNS:
        op.add_column("requests", request_column)
    for face_column in _FACE_COLUMNS:
        op.add_column("request_faces", face_column)
    requests = sa.table(
        "requests", sa.column("key_type", sa.String), sa.column("covers", sa.String)
    )
    for key_type, covers in _COVERS.items():
        op.execute(requests.update().where(requests.c.key_type == key_type).values(covers=covers))


def downgrade() -> None:
    for face_column in reversed(_FACE_COLUMNS):
        op.drop_column("request_faces", face_column.name)
    for request_column in reversed(_REQUEST_COLUMNS):
        op.drop_column("requests", request_column.name)
