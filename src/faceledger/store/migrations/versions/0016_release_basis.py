"""release disclosure basis (issue 13.6)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

``release create --disclosure-basis BASIS`` records, on the version, the basis on which its
faces are disclosed (consent, required-by-law, ...: the law engine's scenario key
``disclosure_basis``); ``content_sha256`` identifies what a version holds (its manifest's
sha256 with the version number and creation time left out), so that a ``create`` that would
cut a version identical to the latest is refused. Both are nullable: versions cut before
this migration have neither. Added columns only: no batch mode needed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "release_versions", sa.Column("disclosure_basis", sa.String(length=32), nullable=True)
    )
    op.add_column(
        "release_versions", sa.Column("content_sha256", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("release_versions") as batch:
        batch.drop_column("content_sha256")
        batch.drop_column("disclosure_basis")
