"""The pytest plugin's tests run pytest inside a test (``pytester``), once per backend: SQLite
always, PostgreSQL when ``MISSIVE_TEST_DATABASE_URL`` is set (the inner session creates and
drops its own databases on that server)."""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get("MISSIVE_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
def backend_args(request: pytest.FixtureRequest) -> list[str]:
    """Command-line arguments that select the backend of the inner session."""
    if request.param == "sqlite":
        return []
    return [f"--missive-database-url={POSTGRES_URL}"]


@pytest.fixture
def inner(pytester: pytest.Pytester, backend_args: list[str]):  # type: ignore[no-untyped-def]
    """Write ``source`` as a test file, run it with the installed plugin, return the outcome."""

    def run(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(source)
        # -p no:randomly etc. are not needed: the inner session has no ini of ours.
        return pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", *backend_args, *args)

    return run
