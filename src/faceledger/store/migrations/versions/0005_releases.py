"""releases

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-19

Releases (``faceledger release``): a named selection for one purpose, cut into immutable,
numbered versions; the photos and faces each version holds (so "every release that held this
face" is a query); and the consumers registered as having received a version.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_releases_name"),
    )
    op.create_table(
        "release_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.Column("with_features", sa.Boolean(), nullable=False),
        sa.Column("photo_count", sa.Integer(), nullable=False),
        sa.Column("face_count", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.ForeignKeyConstraint(["parent_id"], ["release_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "version", name="uq_release_versions_number"),
    )
    op.create_table(
        "release_items",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("face_id", _ID, nullable=False),
        sa.Column("photo_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["release_versions.id"]),
        sa.PrimaryKeyConstraint("version_id", "face_id"),
    )
    op.create_index("ix_release_items_face_id", "release_items", ["face_id"])
    op.create_index("ix_release_items_photo_id", "release_items", ["photo_id"])
    op.create_table(
        "consumers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(length=512), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["release_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "version_id", name="uq_consumers_name_version"),
    )
    op.create_index("ix_consumers_version_id", "consumers", ["version_id"])


def downgrade() -> None:
    op.drop_index("ix_consumers_version_id", table_name="consumers")
    op.drop_table("consumers")
    op.drop_index("ix_release_items_photo_id", table_name="release_items")
    op.drop_index("ix_release_items_face_id", table_name="release_items")
    op.drop_table("release_items")
    op.drop_table("release_versions")
    op.drop_table("releases")
