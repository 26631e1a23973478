"""decided cases stored once: decision_outcomes (issue 15.5)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02

Every ``face_decisions`` row used to carry its own copy of the scenario, the engine's result
(about 8 KB) and the policy versions, although most faces of a collection are decided alike:
on PostgreSQL writing those copies was 75% of ``assess``. Now a decided case is one
``decision_outcomes`` row (unique ``digest``: sha256 of the three JSON texts) and each face's
decision names it (``outcome_id``). Existing rows are moved as they are: identical documents
become one outcome, and every decision keeps exactly the documents it had.

Added and dropped columns only, each by the dialect's own ``ALTER TABLE`` (SQLite >= 3.35
drops a column in place), so ``face_decisions`` is never copied and the templates that
reference it keep their rows. ``outcome_id`` stays nullable: SQLite cannot add a NOT NULL
column without a default; ``assess`` always sets it.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_DOCUMENTS = ("scenario", "result", "policy_versions")
_CHUNK = 2_000


def _id_type() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def digest(scenario: str, result: str, versions: str) -> str:
    """The outcome key: sha256 of the three JSON texts, as ``assess`` computes it."""
    return hashlib.sha256("\n".join((scenario, result, versions)).encode()).hexdigest()


def _backfill(conn: sa.Connection) -> None:
    outcomes = sa.table(
        "decision_outcomes",
        sa.column("id"), sa.column("digest"),
        *(sa.column(name, sa.JSON()) for name in _DOCUMENTS),
    )  # fmt: skip
    known: dict[str, int] = {}
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, CAST(scenario AS TEXT), CAST(result AS TEXT), "
                "CAST(policy_versions AS TEXT) FROM face_decisions WHERE id > :last "
                "ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": _CHUNK},
        ).all()
        if not rows:
            return
        links: dict[int, list[int]] = {}
        for decision_id, *documents in rows:
            texts = [_text(d if d is not None else {}) for d in documents]
            key = digest(*texts)
            if key not in known:
                known[key] = conn.execute(
                    outcomes.insert()
                    .values(
                        digest=key,
                        **{n: json.loads(t) for n, t in zip(_DOCUMENTS, texts, strict=True)},
                    )
                    .returning(outcomes.c.id)
                ).scalar_one()
            links.setdefault(known[key], []).append(int(decision_id))
        for outcome_id, ids in links.items():
            conn.execute(
                sa.text("UPDATE face_decisions SET outcome_id = :o WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"o": outcome_id, "ids": ids},
            )
        last = int(rows[-1][0])


def upgrade() -> None:
    op.create_table(
        "decision_outcomes",
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("scenario", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("policy_versions", sa.JSON(), nullable=False),
        sa.UniqueConstraint("digest"),
    )
    conn = op.get_bind()
    integer = "INTEGER" if conn.dialect.name == "sqlite" else "BIGINT"
    op.execute(
        f"ALTER TABLE face_decisions ADD COLUMN outcome_id {integer} "
        "REFERENCES decision_outcomes (id)"
    )
    _backfill(conn)
    op.create_index("ix_face_decisions_outcome", "face_decisions", ["outcome_id"])
    for name in _DOCUMENTS:
        op.execute(f"ALTER TABLE face_decisions DROP COLUMN {name}")


def downgrade() -> None:
    for name in _DOCUMENTS:
        op.execute(f"ALTER TABLE face_decisions ADD COLUMN {name} JSON")
    for name in _DOCUMENTS:
        op.execute(
            f"UPDATE face_decisions SET {name} = (SELECT o.{name} FROM decision_outcomes o "
            "WHERE o.id = face_decisions.outcome_id)"
        )
    op.drop_index("ix_face_decisions_outcome", table_name="face_decisions")
    op.execute("ALTER TABLE face_decisions DROP COLUMN outcome_id")
    op.drop_table("decision_outcomes")
