"""hardening of the portal: token rotation, template quarantine

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Placeholder in the migration chain, reserved for this change; filled in by the work that owns it.
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
