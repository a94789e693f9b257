"""Engine and session factory. SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from missive_server.settings import Settings


def engine_from_settings(settings: Settings) -> Engine:
    """The engine of a serving or working process: ``MISSIVE_DB_POOL_SIZE`` and
    ``MISSIVE_DB_MAX_OVERFLOW`` size its PostgreSQL pool (SQLite keeps its own pooling)."""
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


def make_engine(
    url: str, *, pool_size: int | None = None, max_overflow: int | None = None, **kwargs: Any
) -> Engine:
    """``pool_size`` and ``max_overflow`` apply to PostgreSQL only: a SQLite file has one
    writer at a time whatever the pool, and an in-memory database must stay on one connection."""
    # SQL logging (``sqlalchemy.engine`` at INFO) and database errors would otherwise show
    # bound values: webhook secrets, message bodies.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if pool_size is not None:
        kwargs["pool_size"] = pool_size
    if max_overflow is not None:
        kwargs["max_overflow"] = max_overflow
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(
    engine: Engine, *, public_url: str | None = None, info: dict[str, Any] | None = None
) -> sessionmaker[Session]:
    """``public_url`` (in ``Session.info``) is what payloads rendered outside a request, such as
    webhook bodies recorded at commit, use for ``web_url`` and file links; ``info`` adds more
    (``services.sessions`` adds the hook dispatcher)."""
    merged = {**(info or {}), **({"public_url": public_url} if public_url else {})}
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False, info=merged or None)
