"""the embedder version a face was clustered on (issue 14.2c)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

The embedder is a setting (``embedder``), so one ledger may hold templates of several
embedder versions. A subject is a person, not a model: ``face_subjects`` keeps one row per
face (its primary key stays ``face_id``), made by the first embedder version that extracts
the face; a later version's templates of that face are stored under the same subject, so
claims, consents, opt-outs and erasure reach every model's templates. ``distance`` is a
distance in one embedder's space, so the row now names that version: ``model_version``.
Rows made before this migration were all clustered on their subject's own version (each
subject was founded by, and clustered within, one version), and are backfilled from it.
Nullable, for rows written without an embedding. Added column only: no batch mode needed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("face_subjects", sa.Column("model_version", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE face_subjects SET model_version = "
        "(SELECT subjects.model_version FROM subjects WHERE subjects.id = face_subjects.subject_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("face_subjects") as batch:
        batch.drop_column("model_version")
