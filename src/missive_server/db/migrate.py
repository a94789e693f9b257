"""Apply Alembic migrations programmatically (used by the CLI, the server and the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    # Every `serve`, `worker` and CLI command upgrades first: an up-to-date database must cost
    # one read, not SQLite's foreign-key check, which reads every row (minutes at a million
    # conversations, bench/README.md).
    if revision == "head" and is_at_head(engine):
        return
    with migration_connection(engine) as connection, connection.begin():
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def is_at_head(engine: Engine) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()) == heads


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """SQLite alters a table by copying it and dropping the original (Alembic's batch mode);
    with ``foreign_keys=ON`` that drop would cascade to every referencing row. Alembic's advice
    is to switch enforcement off around migrations, then check nothing was left dangling."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            yield connection
            return
        # A PRAGMA inside a transaction is a no-op: pysqlite has not begun one yet here.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            yield connection
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise RuntimeError(f"migration left rows with dangling foreign keys: {dangling}")
        finally:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the models (a developer tool)."""
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
