"""fetch state, content store and opt-out reservations on photos

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Placeholder in the migration chain, reserved for this change; filled in by the work that owns it.
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
