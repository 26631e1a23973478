"""requests, exclusions, notices and destruction certificates

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-19

Requests from people (``faceledger request``): opt-out, erasure and access, with their
lifecycle and legal deadline; the faces a selfie request matched; exclusion tombstones on
photos and faces (``excluded_request_id``: the row stays, so a re-ingest of the same source
cannot bring it back); notices owed to release consumers (GDPR Art. 17(2) / 19); and one
destruction certificate per face whose templates were destroyed (erasure or retention).

SQLite: the two exclusion columns are added with a plain ``ADD COLUMN`` (never batch mode,
which recreates the table and, with foreign keys on, cascades deletes into
``face_decisions`` and ``templates``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("key_value", sa.String(length=2048), nullable=True),
        sa.Column("owner_scope", sa.String(length=128), nullable=True),
        sa.Column("consent_id", _ID, nullable=True),
        sa.Column("law", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.CheckConstraint("kind IN ('optout', 'erasure', 'access')", name="ck_requests_kind"),
        sa.CheckConstraint(
            "key_type IN ('owner', 'photo', 'url', 'tag', 'face')", name="ck_requests_key_type"
        ),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt", name="uq_requests_receipt"),
    )
    op.create_index("ix_requests_status", "requests", ["status"])
    op.create_table(
        "request_faces",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("face_id", _ID, nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("distance", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("request_id", "face_id"),
    )
    # A request by owner names an NSID or a username: both are looked up by index.
    op.create_index("ix_photos_owner_nickname", "photos", ["owner_nickname"])
    op.add_column("photos", sa.Column("excluded_request_id", sa.Integer(), nullable=True))
    op.create_index("ix_photos_excluded_request_id", "photos", ["excluded_request_id"])
    op.add_column("faces", sa.Column("excluded_request_id", sa.Integer(), nullable=True))
    op.create_index("ix_faces_excluded_request_id", "faces", ["excluded_request_id"])
    op.create_table(
        "consumer_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consumer_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["consumer_id"], ["consumers.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["release_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("consumer_id", "request_id", name="uq_consumer_notices_key"),
    )
    op.create_table(
        "destructions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("face_id", _ID, nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("templates", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("destroy_by", sa.Date(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("key_shredded", sa.Boolean(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("certificate", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_destructions_face_id", "destructions", ["face_id"])


def downgrade() -> None:
    op.drop_index("ix_destructions_face_id", table_name="destructions")
    op.drop_table("destructions")
    op.drop_table("consumer_notices")
    op.drop_index("ix_faces_excluded_request_id", table_name="faces")
    op.drop_column("faces", "excluded_request_id")
    op.drop_index("ix_photos_excluded_request_id", table_name="photos")
    op.drop_column("photos", "excluded_request_id")
    op.drop_index("ix_photos_owner_nickname", table_name="photos")
    op.drop_table("request_faces")
    op.drop_index("ix_requests_status", table_name="requests")
    op.drop_table("requests")
