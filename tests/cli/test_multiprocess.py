"""Two real ``missive-server serve`` processes on one PostgreSQL database and one Redis share a
token's rate-limit budget: requests alternate between them and the 429 comes exactly when the
combined count passes ``MISSIVE_RATE_LIMIT_PER_MINUTE``.

Runs only when ``MISSIVE_TEST_DATABASE_URL`` and ``MISSIVE_TEST_REDIS_URL`` are both set. The
database is the fixtures' own (truncated by ``database_url``); the Redis keys are the fresh
token's alone (every rate-limit key holds the token's hash) and are deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from missive_server.auth import hash_token
from tests.cli.test_serve import command, free_port, wait_for
from tests.conftest import bearer
from tests.factories import Factory

REDIS_URL = os.environ.get("MISSIVE_TEST_REDIS_URL")
LIMIT = 10

pytestmark = pytest.mark.skipif(
    not (REDIS_URL and os.environ.get("MISSIVE_TEST_DATABASE_URL")),
    reason="set MISSIVE_TEST_DATABASE_URL and MISSIVE_TEST_REDIS_URL to run",
)


@contextmanager
def serving(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A ``serve`` process on a free port; terminated (killed if it must be) on the way out."""
    assert REDIS_URL
    port = free_port()
    env = {
        **os.environ,
        "MISSIVE_DATABASE_URL": database_url,
        "MISSIVE_REDIS_URL": REDIS_URL,
        "MISSIVE_RATE_LIMIT": "missive",
        "MISSIVE_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "MISSIVE_RUN_WORKER": "false",
    }
    server = subprocess.Popen(
        [*command(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


@pytest.fixture
def redis_keys() -> Iterator[list[str]]:
    """Patterns whose keys are deleted after the test (and must be gone then)."""
    import redis

    patterns: list[str] = []
    yield patterns
    assert REDIS_URL
    with redis.Redis.from_url(REDIS_URL) as client:
        for pattern in patterns:
            for name in client.scan_iter(match=pattern):
                client.delete(name)
            assert list(client.scan_iter(match=pattern)) == []


def test_two_serve_processes_share_one_budget_in_redis(
    database_url: str, factory: Factory, redis_keys: list[str]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes need PostgreSQL")
    import redis

    user = factory.user(organizations={factory.organization(): "admin"})
    token = factory.token(user)
    redis_keys.append(f"*{hash_token(token)}*")

    with ExitStack() as stack:
        servers = [stack.enter_context(serving(database_url)) for _ in range(2)]
        for process, base in servers:
            # Anonymous: spends no budget of the token.
            assert wait_for(f"{base}/v1/organizations", process).status_code == 401
        with httpx.Client(timeout=10) as client:
            responses = [
                client.get(f"{servers[i % 2][1]}/v1/organizations", headers=bearer(token))
                for i in range(LIMIT + 2)
            ]
        assert REDIS_URL
        with redis.Redis.from_url(REDIS_URL) as observer:
            stored = list(observer.scan_iter(match=redis_keys[0]))

    statuses = [r.status_code for r in responses]
    # Each process alone saw only LIMIT/2 + 1 requests: only a shared budget refuses them.
    assert statuses == [200] * LIMIT + [429, 429], statuses
    assert responses[0].json()["organizations"][0]["id"]
    for refused in responses[LIMIT:]:
        assert refused.json() == {"error": {"message": "Rate limit exceeded"}}
        assert refused.headers["X-RateLimit-Limit"] == str(LIMIT)
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert stored, "the budget was not counted in Redis"
