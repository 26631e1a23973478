"""assess in bulk and sensitive-dataset evidence (issues 15.5, 13.13)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02

Reserved in the chain; no schema change yet.
"""

from __future__ import annotations

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
