"""fetch state, content store and opt-out reservations on photos

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

``faceledger fetch`` downloads the bytes of URL-only photos into a content-addressed store
and records, on the photo, how the fetch went (``fetch_status`` fetched | reserved | failed,
the failure's reason code and detail, attempts, when) and any machine-readable opt-out it
found (``reservation``: the signal's code; ``reservation_evidence``: header value, file,
rule). ``optout_entries`` holds imported opt-out lists (URLs, domains, owner ids).

SQLite: plain ``ADD COLUMN`` (never batch mode, which recreates the table and would cascade
deletes through foreign keys), as in 0006.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PHOTO_COLUMNS = (
    sa.Column("fetch_status", sa.String(length=16), nullable=True),
    sa.Column("fetch_error", sa.String(length=32), nullable=True),
    sa.Column("fetch_error_detail", sa.Text(), nullable=True),
    sa.Column("fetch_attempts", sa.Integer(), nullable=True),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reservation", sa.String(length=32), nullable=True),
    sa.Column("reservation_evidence", sa.JSON(), nullable=True),
)


def upgrade() -> None:
    for column in _PHOTO_COLUMNS:
        op.add_column("photos", column)
    op.create_index("ix_photos_fetch_status", "photos", ["fetch_status"])
    op.create_table(
        "optout_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("list_name", sa.String(length=512), nullable=False),
        sa.Column("list_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('url', 'domain', 'owner')", name="ck_optout_entries_kind"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "value", name="uq_optout_entries_key"),
    )


def downgrade() -> None:
    op.drop_table("optout_entries")
    op.drop_index("ix_photos_fetch_status", table_name="photos")
    for column in reversed(_PHOTO_COLUMNS):
        op.drop_column("photos", column.name)
