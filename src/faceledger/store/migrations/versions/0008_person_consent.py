"""consents keyed to the depicted person; face claims

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Placeholder in the migration chain, reserved for this change; filled in by the work that owns it.
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
