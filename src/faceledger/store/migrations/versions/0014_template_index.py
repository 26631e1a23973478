"""the persisted template search index (issue 15.2)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

Reserved in the chain; no schema change yet.
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
