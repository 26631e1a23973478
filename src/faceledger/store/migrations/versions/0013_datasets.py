"""published face datasets and their membership lists (which datasets hold me?)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

``faceledger datasets import`` loads the membership list of a published face dataset
(DiveFace / MegaFace identity lists, a generic CSV): ``datasets`` holds its name, citation,
licence, opt-out route and the annotation kinds it attached (never their values);
``dataset_members`` one row per listed Flickr account / photo / face, unique per dataset
(``member_key``), so importing twice adds nothing. New tables only: no batch mode needed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("citation", sa.Text(), nullable=True),
        sa.Column("licence", sa.String(length=256), nullable=True),
        sa.Column("optout_url", sa.String(length=2048), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_datasets_name"),
    )
    op.create_table(
        "dataset_members",
        sa.Column("id", _ID, nullable=False),
        sa.Column("dataset_id", _ID, nullable=False),
        sa.Column("member_key", sa.String(length=256), nullable=False),
        sa.Column("owner_id", sa.String(length=128), nullable=True),
        sa.Column("photo_id", sa.String(length=64), nullable=True),
        sa.Column("face_index", sa.Integer(), nullable=True),
        sa.Column("labels", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "member_key", name="uq_dataset_members_key"),
    )
    op.create_index("ix_dataset_members_owner_id", "dataset_members", ["owner_id"])
    op.create_index("ix_dataset_members_photo_id", "dataset_members", ["photo_id"])


def downgrade() -> None:
    op.drop_index("ix_dataset_members_photo_id", table_name="dataset_members")
    op.drop_index("ix_dataset_members_owner_id", table_name="dataset_members")
    op.drop_table("dataset_members")
    op.drop_table("datasets")
