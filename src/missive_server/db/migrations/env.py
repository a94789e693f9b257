"""Alembic environment: run with the connection handed over by ``db.migrate``."""

from __future__ import annotations

from alembic import context

import missive_server.db.models  # noqa: F401  (registers every table)
from missive_server.db.base import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only used by `alembic` run by hand
    from missive_server.db.engine import make_engine

    connection = make_engine(config.get_main_option("sqlalchemy.url") or "").connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
