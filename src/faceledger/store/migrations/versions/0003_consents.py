"""consents

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-12

Consent records (``faceledger consent``): who consented (a photo owner id and/or a subject
id), in what form, for which purposes, when granted, when it expires or was revoked, and the
evidence. ``subject_id`` has no foreign key yet: subjects arrive in a later migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("receipt", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=128), nullable=True),
        sa.Column(
            "subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("informed", sa.Boolean(), nullable=False),
        sa.Column("granted", sa.Date(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=True),
        sa.Column("revoked", sa.Date(), nullable=True),
        sa.Column("evidence_uri", sa.String(length=2048), nullable=True),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "owner_id IS NOT NULL OR subject_id IS NOT NULL",
            name="ck_consents_owner_or_subject",
        ),
        sa.CheckConstraint(
            "form IN ('written', 'electronic', 'verbal', 'none')", name="ck_consents_form"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt", name="uq_consents_receipt"),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index("ix_consents_owner_id", ["owner_id"], unique=False)
        batch_op.create_index("ix_consents_subject_id", ["subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_subject_id")
        batch_op.drop_index("ix_consents_owner_id")
    op.drop_table("consents")
