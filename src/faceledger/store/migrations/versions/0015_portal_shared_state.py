"""rate limits and sessions shared by several server processes (issue 15.3)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

``faceledger serve --workers N`` runs several server processes over one ledger; what they must
agree on lives in the ledger. ``web_buckets`` holds one row per limited key: a client's token
bucket (``rate:<HMAC of the client address>``, never the address itself) or the anonymous
audit budget of one clock hour (``audit:<hour>``). Each row is updated by one atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on both backends; ``allowed`` is what that
statement decided, ``expires`` when the row means no more than its absence (a full bucket, a
past hour) and may be deleted. Sessions (``web_sessions``) were in the ledger already; the
signing secret is the ``web_secret_key`` setting or one key file shared by all processes.
New table only: no batch mode needed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_buckets",
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_web_buckets_expires", "web_buckets", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_web_buckets_expires", table_name="web_buckets")
    op.drop_table("web_buckets")
