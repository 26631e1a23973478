"""hardening of the portal: token rotation, template quarantine

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

A template whose ciphertext fails its integrity check (AES-GCM) is set aside, never deleted:
``templates.quarantined_at`` and ``quarantine_reason``; readers skip it from then on (issue 16,
finding 7). Token rotation and revocation (``faceledger user rotate|revoke``) use the existing
``web_tokens.revoked_at`` and ``web_users.disabled_at``; nothing new is stored for them.

SQLite: plain ``ADD COLUMN`` (never batch mode, which recreates the table and would cascade
deletes through foreign keys), as in 0006 and 0009.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TEMPLATE_COLUMNS = (
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("quarantine_reason", sa.String(length=64), nullable=True),
)


def upgrade() -> None:
    for column in _TEMPLATE_COLUMNS:
        op.add_column("templates", column)


def downgrade() -> None:
    for column in reversed(_TEMPLATE_COLUMNS):
        op.drop_column("templates", column.name)
