"""Fixtures: a fresh, migrated database per test, on SQLite and (when configured) PostgreSQL.

Set ``MISSIVE_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
to run every database test on PostgreSQL as well; ``.ci/run`` always does.

Each pytest-xdist worker is its own process, so the session fixtures below give every worker its
own SQLite template and its own PostgreSQL database: workers never share one. Migrations run
once per worker; a test starts from a copy of the migrated SQLite file, or from the worker's
PostgreSQL database emptied by ``empty_postgres`` (measured against the alternatives there).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, make_url, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db import migrate
from missive_server.db.base import Base
from missive_server.db.engine import make_engine
from missive_server.settings import Settings
from tests.factories import Factory
from tests.serve_support import Served, server_env, start_serve

POSTGRES_URL = os.environ.get("MISSIVE_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow(seconds): a test that takes about that long (subprocesses, fuzzing); started first",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Playwright's sync API (the browser tests' session-wide browser) marks this thread's
    event loop as running between its calls, so a later test of the same worker that calls
    ``asyncio.run`` failed with "cannot be called from a running event loop", depending on
    which tests a worker drew. A test that does not drive the browser runs unmarked."""
    marked = asyncio._get_running_loop()
    if marked is None or "page" in getattr(item, "fixturenames", ()):
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(marked)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first: pytest-xdist hands tests out in this order, so the long ones start at
    once on every worker and the short ones fill in around them, instead of a long test
    starting last and keeping one worker busy while the other has nothing left to do."""

    def seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("slow")
        return float(marker.args[0]) if marker else 0.0

    items.sort(key=seconds, reverse=True)  # stable: the rest keep pytest's order


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; every test gets a copy of the migrated file."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own, so concurrent runs on one server never collide."""
    assert POSTGRES_URL
    server = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"missive_test_{os.getpid()}_{secrets.token_hex(4)}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


#: Every table's rows, children first, in one round trip (psycopg runs a parameterless
#: multi-statement string as one simple query).
EMPTY_TABLES = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables))


def empty_postgres(engine: Engine) -> None:
    """Back to the freshly migrated state. ``DELETE``, not ``TRUNCATE``: a test leaves a few rows,
    and TRUNCATE gives each of the 37 tables and their indexes new files (770-1,300 ms per test
    on this machine under load, 6-18 ms for DELETE); ``CREATE DATABASE ... TEMPLATE`` of a
    migrated database and its ``DROP`` took as long as TRUNCATE (README, development section)."""
    with engine.begin() as connection:
        connection.exec_driver_sql(EMPTY_TABLES)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "missive.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    empty_postgres(request.getfixturevalue("postgres_engine"))
    postgres_url: str = request.getfixturevalue("postgres_url")
    return postgres_url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_700_000_000)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        rate_limit="off",
        public_url="http://testserver",
        run_worker=False,  # tests drive app.state.worker.run_once() with the FrozenClock
    )


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, engine: Engine):  # type: ignore[no-untyped-def]
    return create_app(settings, clock=clock, engine=engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def session(app) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with app.state.session_factory() as db:
        yield db


@pytest.fixture
def factory(session: Session, clock: FrozenClock) -> Factory:
    return Factory(session, clock)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def count_queries(engine: Engine) -> Iterator[list[str]]:
    """Records every SQL statement sent while the block runs (for no-N+1 tests)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    with count_queries(engine) as seen:
        yield seen


class ServeFixture:
    """``serve(*args, database_url=..., env={...})`` starts ``missive-server serve *args`` and
    returns once it answers; every server a test started is stopped after it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[Served] = []

    def __call__(
        self,
        *args: str,
        database_url: str | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Served:
        default_url = f"sqlite:///{self.directory / 'serve.db'}"
        overrides = {"MISSIVE_DATABASE_URL": database_url or default_url, **(env or {})}
        log = self.directory / f"serve-{len(self.started)}.log"
        served = start_serve(*args, env=server_env(overrides), log=log)
        self.started.append(served)
        return served


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFixture]:
    fixture = ServeFixture(tmp_path)
    yield fixture
    for served in fixture.started:
        served.stop()
