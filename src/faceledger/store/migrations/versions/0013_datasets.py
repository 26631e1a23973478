"""published face datasets and their membership lists (which datasets hold me?)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

Placeholder in the migration chain, reserved for this change; filled in by the work that owns it.
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
