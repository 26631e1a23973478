"""hardening of the ledger: tombstone keys across sources

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Tombstones need no table of their own: an excluded photo row (``excluded_request_id``) is the
tombstone, matched on its content hash, provider hash and provider photo id, and executed owner
requests on owner id (``faceledger.store.tombstones``). This adds what the destruction
certificate of a revocation names: ``destructions.consent_id``; and an index on
``photos.provider_hash``, which tombstones are matched on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("destructions") as batch:
        batch.add_column(sa.Column("consent_id", sa.Integer(), nullable=True))
    op.create_index("ix_photos_provider_hash", "photos", ["provider_hash"])


def downgrade() -> None:
    op.drop_index("ix_photos_provider_hash", table_name="photos")
    with op.batch_alter_table("destructions") as batch:
        batch.drop_column("consent_id")
