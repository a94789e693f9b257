"""Two real ``missive-server serve`` processes on one PostgreSQL database and one Redis share a
token's rate-limit budget: requests alternate between them and the 429 comes exactly when the
combined count passes ``MISSIVE_RATE_LIMIT_PER_MINUTE``.

Runs only when ``MISSIVE_TEST_DATABASE_URL`` and ``MISSIVE_TEST_REDIS_URL`` are both set. The
database is the fixtures' own (truncated by ``database_url``); the Redis keys are the fresh
token's alone (every rate-limit key holds the token's hash) and are deleted afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from missive_server.auth import hash_token
from tests.conftest import ServeFixture, bearer
from tests.factories import Factory

REDIS_URL = os.environ.get("MISSIVE_TEST_REDIS_URL")
LIMIT = 10

pytestmark = [
    pytest.mark.skipif(
        not (REDIS_URL and os.environ.get("MISSIVE_TEST_DATABASE_URL")),
        reason="set MISSIVE_TEST_DATABASE_URL and MISSIVE_TEST_REDIS_URL to run",
    ),
    pytest.mark.slow(6),
]


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
    database_url: str, factory: Factory, redis_keys: list[str], serve: ServeFixture
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes need PostgreSQL")
    import redis

    user = factory.user(organizations={factory.organization(): "admin"})
    token = factory.token(user)
    redis_keys.append(f"*{hash_token(token)}*")

    env = {
        "MISSIVE_REDIS_URL": REDIS_URL,
        "MISSIVE_RATE_LIMIT": "missive",
        "MISSIVE_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "MISSIVE_RUN_WORKER": "false",
    }
    # Each waits for its first (anonymous) answer: a 401 spends no budget of the token.
    servers = [serve(database_url=database_url, env=env) for _ in range(2)]
    assert [served.first.status_code for served in servers] == [401, 401]
    bases = [served.base for served in servers]
    with httpx.Client(timeout=10) as client:
        responses = [
            client.get(f"{bases[i % 2]}/v1/organizations", headers=bearer(token))
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
