"""rate limits and sessions shared by several server processes (issue 15.3)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

Reserved in the chain; no schema change yet.
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
