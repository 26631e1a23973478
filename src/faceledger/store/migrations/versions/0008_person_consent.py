"""consents keyed to the depicted person; face claims

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A consent now says who gave it (``given_by``: subject | legal-representative | photo-owner,
with ``relationship``), what kind it is (``kind``: consent | sale-authorization, with
``purchaser``) and who signed its evidence and when (``signer``, ``signed_on``). What it
covers: the claimed faces linked in ``consent_claims``, a subject, or, for a photo-owner
consent, only the faces claimed as that owner's own. ``claims`` records a person's statement
that a detected face is theirs (or their child's), with its identity evidence.
``photos.acquired_at`` holds when the dataset owner acquired a photo, where a source says.

Existing rows keyed by an owner id become ``photo-owner`` consents: they then cover only faces
claimed as the owner's own, so nothing that was allowed by an owner's word alone stays
allowed. Rows keyed only by a subject become ``subject`` consents. The old CHECK "owner or
subject" goes (a consent for claimed faces names neither) and new CHECKs come.

SQLite: changing a CHECK recreates the table (batch mode). With foreign keys on, dropping the
old ``consents`` table fails while rows elsewhere (``requests.consent_id``) point at it, so
those references are set aside (NULL) first and put back once the new table holds the same
ids, all in the migration's one transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NEW_CHECKS = (
    ("ck_consents_given_by", "given_by IN ('subject', 'legal-representative', 'photo-owner')"),
    ("ck_consents_kind", "kind IN ('consent', 'sale-authorization')"),
    ("ck_consents_photo_owner", "given_by <> 'photo-owner' OR owner_id IS NOT NULL"),
)


def _references_to_consents(conn: sa.Connection) -> list[tuple[str, str]]:
    """(table, column) pairs of SQLite foreign keys that point at ``consents``."""
    found = []
    tables = (
        conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'consents'"
        )
        .scalars()
        .all()
    )
    for table in tables:
        for row in conn.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")'):
            if row[2] == "consents":  # (id, seq, table, from, to, ...)
                found.append((table, row[3]))
    return found


def _set_aside(conn: sa.Connection) -> list[tuple[str, str, list[tuple[int, int]]]]:
    kept = []
    for table, column in _references_to_consents(conn):
        rows = conn.exec_driver_sql(
            f'SELECT rowid, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
        ).all()
        if rows:
            conn.exec_driver_sql(
                f'UPDATE "{table}" SET "{column}" = NULL WHERE "{column}" IS NOT NULL'
            )
            kept.append((table, column, [(int(r[0]), int(r[1])) for r in rows]))
    return kept


def _put_back(conn: sa.Connection, kept: list[tuple[str, str, list[tuple[int, int]]]]) -> None:
    for table, column, rows in kept:
        statement = sa.text(f'UPDATE "{table}" SET "{column}" = :value WHERE rowid = :rowid')
        conn.execute(statement, [{"value": value, "rowid": rowid} for rowid, value in rows])


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    kept = _set_aside(conn) if sqlite else []
    with op.batch_alter_table(
        "consents", schema=None, recreate="always" if sqlite else "auto"
    ) as batch:
        batch.add_column(
            sa.Column("given_by", sa.String(length=32), server_default="subject", nullable=False)
        )
        batch.add_column(sa.Column("relationship", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("kind", sa.String(length=32), server_default="consent", nullable=False)
        )
        batch.add_column(sa.Column("purchaser", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("signer", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("signed_on", sa.Date(), nullable=True))
        batch.drop_constraint("ck_consents_owner_or_subject", type_="check")
        for name, condition in _NEW_CHECKS:
            batch.create_check_constraint(name, condition)
    # Owner-keyed consents become photo-owner consents (they cover only the owner's own face).
    conn.execute(sa.text("UPDATE consents SET given_by = 'photo-owner' WHERE owner_id IS NOT NULL"))
    if kept:
        _put_back(conn, kept)

    # When the dataset owner acquired a photo, where the source states it (plain ADD COLUMN).
    op.add_column("photos", sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "claims",
        sa.Column("id", _ID, nullable=False),
        sa.Column("receipt", sa.String(length=64), nullable=False),
        sa.Column("face_id", _ID, nullable=False),
        sa.Column("photo_id", _ID, nullable=False),
        sa.Column("claimed_by", sa.String(length=32), nullable=False),
        sa.Column("relationship", sa.String(length=64), nullable=True),
        sa.Column("is_photo_owner", sa.Boolean(), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "claimed_by IN ('subject', 'legal-representative')", name="ck_claims_claimed_by"
        ),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_claims_status"),
        sa.ForeignKeyConstraint(["face_id"], ["faces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt", name="uq_claims_receipt"),
    )
    op.create_index("ix_claims_face_id", "claims", ["face_id"])
    op.create_index("ix_claims_photo_id", "claims", ["photo_id"])
    op.create_table(
        "consent_claims",
        sa.Column("consent_id", _ID, nullable=False),
        sa.Column("claim_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("consent_id", "claim_id"),
    )
    op.create_index("ix_consent_claims_claim_id", "consent_claims", ["claim_id"])


def downgrade() -> None:
    op.drop_index("ix_consent_claims_claim_id", table_name="consent_claims")
    op.drop_table("consent_claims")
    op.drop_index("ix_claims_photo_id", table_name="claims")
    op.drop_index("ix_claims_face_id", table_name="claims")
    op.drop_table("claims")
    op.drop_column("photos", "acquired_at")
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    kept = _set_aside(conn) if sqlite else []
    # A consent for claimed faces names no owner or subject: it cannot survive the old CHECK.
    conn.execute(sa.text("DELETE FROM consents WHERE owner_id IS NULL AND subject_id IS NULL"))
    with op.batch_alter_table(
        "consents", schema=None, recreate="always" if sqlite else "auto"
    ) as batch:
        for name, _condition in _NEW_CHECKS:
            batch.drop_constraint(name, type_="check")
        for column in ("signed_on", "signer", "purchaser", "kind", "relationship", "given_by"):
            batch.drop_column(column)
        batch.create_check_constraint(
            "ck_consents_owner_or_subject", "owner_id IS NOT NULL OR subject_id IS NOT NULL"
        )
    if kept:
        _put_back(conn, kept)
