"""requests record who asks, with identity evidence, per-face confirmation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Placeholder in the migration chain, reserved for this change; filled in by the work that owns it.
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
