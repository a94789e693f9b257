"""``missive_server.testing.running``: the context manager for runners other than pytest. It
leaves nothing behind: no thread, no listening port, no file, no database."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text

from missive_server.db.engine import make_engine
from missive_server.testing import running
from tests.testing.conftest import POSTGRES_URL


def _refused(url: str) -> bool:
    parsed = httpx.URL(url)
    with socket.socket() as probe:
        return probe.connect_ex((parsed.host, parsed.port or 80)) != 0


def _databases() -> set[str]:
    """This process's scratch databases (``testing._databases`` names them ``missive_<pid>_…``):
    other xdist workers create and drop their own meanwhile, which are not this test's."""
    assert POSTGRES_URL
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT datname FROM pg_database"))
            return {row[0] for row in rows if row[0].startswith(f"missive_{os.getpid()}_")}
    finally:
        engine.dispose()


def test_running_serves_and_leaves_nothing_behind(backend_args: list[str]) -> None:
    database = POSTGRES_URL if backend_args else None
    threads_before = set(threading.enumerate())
    databases_before = _databases() if database else set()

    with running(seed="demo", database_url=database) as server:
        with server.client() as client:
            users = client.get("/v1/users")
        assert users.status_code == 200
        assert len(users.json()["users"]) == 3
        url, database_url = server.url, server.database_url
        sqlite_file = make_url(database_url).database if database is None else None
        if database is not None:  # the filter below sees the database it must see dropped
            assert make_url(database_url).database in _databases()

    assert set(threading.enumerate()) <= threads_before
    assert _refused(url)
    if sqlite_file is not None:
        assert not Path(sqlite_file).parent.exists()
    else:
        assert _databases() <= databases_before


def test_running_with_a_bad_seed_raises_and_cleans_up() -> None:
    threads_before = set(threading.enumerate())
    with pytest.raises(ValueError, match="seed"), running(seed="nonsense"):
        pass  # pragma: no cover - never entered
    assert set(threading.enumerate()) <= threads_before
