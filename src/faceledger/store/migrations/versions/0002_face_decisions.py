"""face decisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

One law-engine decision per face, purpose and action (``faceledger assess``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("face_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("destroy_by", sa.Date(), nullable=True),
        sa.Column("scenario", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("policy_versions", sa.JSON(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["face_id"], ["faces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("face_id", "purpose", "action", name="uq_face_decisions_key"),
    )
    with op.batch_alter_table("face_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_face_decisions_purpose_decision", ["purpose", "decision"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("face_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_face_decisions_purpose_decision")
    op.drop_table("face_decisions")
