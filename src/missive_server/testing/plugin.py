"""The pytest plugin (entry point ``pytest11: missive_server``), active once the package is
installed. Fixtures:

- ``missive_server``: a running server with a fresh database per test. One server per session
  is rebound to a new copy of a migrated, seeded template for each test, so a test pays a file
  copy (SQLite) or ``CREATE DATABASE ... TEMPLATE`` (PostgreSQL), never a migration or a start.
- ``missive_server_session``: one server, one database, for the whole session.

``@pytest.mark.missive_seed(document)`` seeds a test's database with a document of
``missive-server seed``'s format (or ``None`` for an empty one) instead of the demo
organization. ``--missive-database-url`` (or ``MISSIVE_PYTEST_DATABASE_URL``) runs them on a
PostgreSQL server instead of SQLite files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the server is imported when a fixture is used, not when pytest starts
    from missive_server.testing import MissiveServer, ServerPool

DATABASE_OPTION = "--missive-database-url"
DATABASE_ENV = "MISSIVE_PYTEST_DATABASE_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("missive-server")
    group.addoption(
        DATABASE_OPTION,
        default=None,
        help="PostgreSQL URL (a user that may CREATE DATABASE) for the missive_server "
        f"fixtures; default: ${DATABASE_ENV}, else SQLite files",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "missive_seed(document): seed the missive_server fixture's database with this seed "
        'document (a dict), "demo" (the default) or None (empty)',
    )


@pytest.fixture(scope="session")
def missive_server_pool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerPool]:
    """The session's templates and servers (both fixtures draw on it)."""
    from missive_server.testing import ServerPool

    database_url = request.config.getoption(DATABASE_OPTION) or os.environ.get(DATABASE_ENV)
    pool = ServerPool(tmp_path_factory.mktemp("missive-server"), database_url=database_url)
    yield pool
    pool.close()


@pytest.fixture
def missive_server(
    request: pytest.FixtureRequest, missive_server_pool: ServerPool
) -> Iterator[MissiveServer]:
    """A running missive-server with a fresh database (the demo organization, or the
    ``missive_seed`` marker's document) for this test."""
    marker = request.node.get_closest_marker("missive_seed")
    seed = marker.args[0] if marker is not None and marker.args else "demo"
    with missive_server_pool.fresh(seed) as server:
        yield server


@pytest.fixture(scope="session")
def missive_server_session(missive_server_pool: ServerPool) -> Iterator[MissiveServer]:
    """One running missive-server (demo organization) shared by the whole session: tests see
    each other's writes; ``reset()`` starts over."""
    with missive_server_pool.dedicated("demo") as server:
        yield server
