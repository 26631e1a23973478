"""the persisted template search index (issue 15.2)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

``template_index`` lists the searchable embeddings (template, face, subject, model version;
ids only, no vector) with the index generation of each row's last change and a ``removed``
tombstone; ``template_index_state`` holds each model version's generation and epoch. Every
process keeps its decrypted in-memory index in step with them (``store/template_index.py``).
The existing searchable embeddings are indexed here at generation 1. New tables only.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "template_index",
        sa.Column("template_id", _ID, nullable=False),
        sa.Column("face_id", _ID, nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("template_id"),
    )
    op.create_index(
        "ix_template_index_model_generation", "template_index", ["model_version", "generation"]
    )
    op.create_index("ix_template_index_face_id", "template_index", ["face_id"])
    op.create_index("ix_template_index_subject_id", "template_index", ["subject_id"])
    op.create_table(
        "template_index_state",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("model_version"),
    )
    templates = sa.table(
        "templates", sa.column("id"), sa.column("face_id"), sa.column("subject_id"), sa.column("kind"),
        sa.column("model_version"), sa.column("quarantined_at"),
    )  # fmt: skip
    subjects = sa.table("subjects", sa.column("id"), sa.column("status"))
    faces = sa.table("faces", sa.column("id"), sa.column("excluded_request_id"))
    index = sa.table(
        "template_index", sa.column("template_id"), sa.column("face_id"), sa.column("subject_id"),
        sa.column("model_version"), sa.column("generation"), sa.column("removed"),
    )  # fmt: skip
    state = sa.table(
        "template_index_state",
        sa.column("model_version"),
        sa.column("generation"),
        sa.column("epoch"),
    )
    searchable = (
        sa.select(templates.c.id, templates.c.face_id, templates.c.subject_id, templates.c.model_version,
                  sa.literal(1, sa.BigInteger()), sa.false())
        .join(subjects, subjects.c.id == templates.c.subject_id)
        .join(faces, faces.c.id == templates.c.face_id)
        .where(templates.c.kind == "embedding", templates.c.quarantined_at.is_(None),
               subjects.c.status == "active", faces.c.excluded_request_id.is_(None))
    )  # fmt: skip
    bind = op.get_bind()
    bind.execute(index.insert().from_select(
        ["template_id", "face_id", "subject_id", "model_version", "generation", "removed"], searchable))  # fmt: skip
    versions = bind.execute(sa.select(index.c.model_version).distinct()).scalars().all()
    if versions:
        bind.execute(
            state.insert(),
            [
                {"model_version": v, "generation": 1, "epoch": secrets.token_hex(8)}
                for v in versions
            ],
        )


def downgrade() -> None:
    op.drop_table("template_index_state")
    op.drop_index("ix_template_index_subject_id", table_name="template_index")
    op.drop_index("ix_template_index_face_id", table_name="template_index")
    op.drop_index("ix_template_index_model_generation", table_name="template_index")
    op.drop_table("template_index")
