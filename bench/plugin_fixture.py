"""What the pytest plugin costs a test (issue 20): ``python bench/plugin_fixture.py [N]``.

- cold start: a new process's ``running(seed="demo")``, from entering the block to the first 200
  (template migrated and seeded, app built, uvicorn started), after the imports;
- per test: the ``missive_server`` fixture's set-up (a fresh copy of the template, the running
  server rebound to it) plus its teardown, then the same with the test's first request.

Set ``MISSIVE_PYTEST_DATABASE_URL`` to measure PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from missive_server.testing import ServerPool, running


def cold_start(database_url: str | None) -> float:
    started = time.perf_counter()
    with running(seed="demo", database_url=database_url) as server:
        response = httpx.get(server.url + "/v1/users", headers=server.headers)
        assert response.status_code == 200
        return time.perf_counter() - started


def per_test(pool: ServerPool, count: int) -> tuple[list[float], list[float]]:
    setup, first = [], []
    with httpx.Client() as client:
        for _ in range(count):
            started = time.perf_counter()
            with pool.fresh("demo") as server:
                ready = time.perf_counter()
                response = client.get(server.url + "/v1/users", headers=server.headers)
                assert response.status_code == 200
                answered = time.perf_counter()
            done = time.perf_counter()
            setup.append((ready - started) + (done - answered))
            first.append(answered - started)
    return setup, first


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    database_url = os.environ.get("MISSIVE_PYTEST_DATABASE_URL")
    print(f"backend: {'postgresql' if database_url else 'sqlite'}, {count} tests")
    print(f"cold start to first 200: {cold_start(database_url) * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as workdir:
        pool = ServerPool(Path(workdir), database_url=database_url)
        try:
            with pool.fresh("demo"):
                pass  # the first test pays the template and the server start (cold start)
            setup, first = per_test(pool, count)
        finally:
            pool.close()
    for name, values in (("fixture set-up + teardown", setup), ("to the test's first 200", first)):
        ms = sorted(v * 1000 for v in values)
        print(
            f"{name}: median {statistics.median(ms):.1f} ms, "
            f"p90 {ms[int(len(ms) * 0.9) - 1]:.1f} ms, max {ms[-1]:.1f} ms"
        )


if __name__ == "__main__":
    main()
