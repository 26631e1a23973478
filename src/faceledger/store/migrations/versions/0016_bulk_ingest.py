"""bulk ingest indexes and constraints (issue 15.1)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

Reserved in the chain; no schema change yet.
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
