"""Alembic environment: runs on the connection that :func:`faceledger.store.migrate` passes."""

from __future__ import annotations

from alembic import context

from faceledger.store.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through faceledger.store.migrate
    raise RuntimeError("run migrations through faceledger.store.migrate(), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
