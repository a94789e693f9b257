"""``MISSIVE_DB_POOL_SIZE`` and ``MISSIVE_DB_MAX_OVERFLOW`` size the PostgreSQL pool only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from missive_server.db.engine import engine_from_settings, make_engine
from missive_server.settings import Settings


def test_pool_settings_default_to_sqlalchemys() -> None:
    settings = Settings()

    assert (settings.db_pool_size, settings.db_max_overflow) == (5, 10)


def test_pool_size_and_overflow_apply_to_postgresql_only(database_url: str) -> None:
    settings = Settings(database_url=database_url, db_pool_size=2, db_max_overflow=1)
    engine = engine_from_settings(settings)
    default = make_engine(database_url)
    try:
        connections = [engine.connect() for _ in range(3)]
        try:
            assert [c.execute(text("SELECT 1")).scalar() for c in connections] == [1, 1, 1]
            if engine.dialect.name == "postgresql":
                assert isinstance(engine.pool, QueuePool)
                assert engine.pool.size() == 2
                assert engine.pool.overflow() == 1  # the third connection is the one overflow
                assert engine.pool._max_overflow == 1  # no public accessor
            else:
                # SQLite keeps the pool SQLAlchemy picks for it, whatever the settings say.
                assert type(engine.pool) is type(default.pool)
                if isinstance(engine.pool, QueuePool):
                    assert engine.pool.size() == default.pool.size()  # type: ignore[attr-defined]
        finally:
            for connection in connections:
                connection.close()
    finally:
        engine.dispose()
        default.dispose()


def test_pool_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSIVE_DB_POOL_SIZE", "7")
    monkeypatch.setenv("MISSIVE_DB_MAX_OVERFLOW", "0")

    settings = Settings()

    assert (settings.db_pool_size, settings.db_max_overflow) == (7, 0)
