"""Missive's rate limits (spec 1.6): per token, 5 concurrent, 300/minute, 900/15 minutes.

Every budget test runs on the in-memory store and, when ``MISSIVE_TEST_REDIS_URL`` is set
(e.g. ``redis://127.0.0.1:6379/0``), on Redis too. Each test uses a fresh token, so its Redis
keys are its own; they are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import httpx2
import pytest
from fastapi import APIRouter, FastAPI, Request
from limits import RateLimitItemPerMinute
from starlette.responses import Response
from starlette.testclient import TestClient

from missive_server.api.rate_limit import (
    MAX_CONCURRENT,
    SLOT_TTL_SECONDS,
    WINDOWS,
    RateLimiter,
    RateLimitMiddleware,
    RedisBudget,
    Refusal,
)
from missive_server.api.responses import envelope
from missive_server.app import create_app
from missive_server.auth import hash_token
from missive_server.settings import Settings
from tests.conftest import bearer

REDIS_URL = os.environ.get("MISSIVE_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="set MISSIVE_TEST_REDIS_URL to run")
STORES = ["memory", pytest.param("redis", marks=needs_redis)]
REFUSED = {"error": {"message": "Rate limit exceeded"}}
# TestClient speaks httpx2; the async tests drive the app with httpx.
AnyResponse = httpx.Response | httpx2.Response


@dataclass
class Gate:
    """Holds requests to ``/v1/_test/slow`` until the test opens it."""

    expected: int
    arrived: int = 0
    all_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)


router = APIRouter(prefix="/v1/_test")


@router.get("/ping")
async def ping() -> Response:
    return envelope("ping", {})


@router.get("/slow")
async def slow(request: Request) -> Response:
    gate: Gate = request.app.state.gate
    gate.arrived += 1
    if gate.arrived == gate.expected:
        gate.all_arrived.set()
    await gate.opened.wait()
    return envelope("slow", {})


@pytest.fixture
def token() -> Iterator[str]:
    """A token of its own per test; its Redis keys are removed afterwards."""
    value = f"missive_pat-{uuid.uuid4().hex}"
    yield value
    if REDIS_URL:
        import redis

        with redis.Redis.from_url(REDIS_URL) as client:
            for name in client.scan_iter(match=f"*{hash_token(value)}*"):
                client.delete(name)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., FastAPI]:
    def build(store: str = "memory", **overrides: object) -> FastAPI:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            rate_limit="missive",
            redis_url=REDIS_URL if store == "redis" else None,
        )
        app = create_app(settings.model_copy(update=overrides))
        app.include_router(router)
        return app

    return build


def limiter_of(app: FastAPI) -> RateLimiter | None:
    """The limiter inside the app's (built) middleware stack, if it has one."""
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    layer: object = app.middleware_stack
    while not isinstance(layer, RateLimitMiddleware):
        layer = getattr(layer, "app", None)
        if layer is None:
            return None
    return layer.limiter


def the_limiter(app: FastAPI) -> RateLimiter:
    limiter = limiter_of(app)
    assert limiter is not None
    return limiter


def spend(client: TestClient, token: str, count: int) -> list[AnyResponse]:
    return [client.get("/v1/_test/ping", headers=bearer(token)) for _ in range(count)]


def assert_refused(response: AnyResponse, limit: int, window: int) -> None:
    now = time.time()
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.json() == REFUSED
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(response.headers["Retry-After"]) <= window
    assert now < int(response.headers["X-RateLimit-Reset"]) <= now + window + 1


# --- requests per minute -----------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_301st_request_in_a_minute_is_refused(
    make_app: Callable[..., FastAPI], token: str, store: str
) -> None:
    other = f"missive_pat-{uuid.uuid4().hex}"
    with TestClient(make_app(store)) as client:
        allowed = spend(client, token, 300)
        refused = client.get("/v1/_test/ping", headers=bearer(token))
        other_token = client.get("/v1/_test/ping", headers=bearer(other))
        anonymous = client.get("/v1/_test/ping")

    assert {r.status_code for r in allowed} == {200}
    assert not any(k.lower().startswith("x-ratelimit") for r in allowed for k in r.headers)
    assert all("retry-after" not in r.headers for r in allowed)
    assert_refused(refused, limit=300, window=60)
    assert other_token.status_code == 200
    assert anonymous.status_code == 200


@needs_redis
def test_processes_sharing_redis_share_one_budget(
    make_app: Callable[..., FastAPI], token: str
) -> None:
    first, second = make_app("redis"), make_app("redis")
    with TestClient(first) as one, TestClient(second) as two:
        allowed = spend(one, token, 150) + spend(two, token, 150)
        refused = [
            one.get("/v1/_test/ping", headers=bearer(token)),
            two.get("/v1/_test/ping", headers=bearer(token)),
        ]

    assert {r.status_code for r in allowed} == {200}
    for response in refused:
        assert_refused(response, limit=300, window=60)


def test_processes_without_redis_count_separately(
    make_app: Callable[..., FastAPI], token: str
) -> None:
    with TestClient(make_app()) as one, TestClient(make_app()) as two:
        spend(one, token, 300)
        response = two.get("/v1/_test/ping", headers=bearer(token))

    assert response.status_code == 200


def test_rate_limit_off_never_refuses(make_app: Callable[..., FastAPI], token: str) -> None:
    app = make_app(rate_limit="off")
    sixth: list[AnyResponse] = []

    async def while_held(client: httpx.AsyncClient) -> None:
        sixth.append(await client.get("/v1/_test/ping", headers=bearer(token)))

    with TestClient(app) as client:
        responses = spend(client, token, 310)
    asyncio.run(hold_slots(app, token, while_held))

    assert {r.status_code for r in responses} == {200}
    assert sixth[0].status_code == 200
    assert limiter_of(app) is None


# --- concurrency -------------------------------------------------------------------------


async def hold_slots(
    app: FastAPI, token: str, scenario: Callable[[httpx.AsyncClient], Awaitable[None]]
) -> None:
    """Runs ``scenario`` while MAX_CONCURRENT requests of ``token`` are in flight."""
    gate = app.state.gate = Gate(expected=MAX_CONCURRENT)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            held = [
                asyncio.create_task(client.get("/v1/_test/slow", headers=bearer(token)))
                for _ in range(MAX_CONCURRENT)
            ]
            await asyncio.wait_for(gate.all_arrived.wait(), timeout=5)
            try:
                await scenario(client)
            finally:
                gate.opened.set()
            assert [r.status_code for r in await asyncio.gather(*held)] == [200] * MAX_CONCURRENT
    finally:
        limiter = limiter_of(app)
        if limiter is not None:
            await limiter.aclose()


@pytest.mark.parametrize("store", STORES)
def test_sixth_concurrent_request_is_refused(
    make_app: Callable[..., FastAPI], token: str, store: str
) -> None:
    app = make_app(store)
    seen: dict[str, httpx.Response] = {}

    async def while_held(client: httpx.AsyncClient) -> None:
        seen["sixth"] = await client.get("/v1/_test/ping", headers=bearer(token))
        seen["other"] = await client.get("/v1/_test/ping", headers=bearer("missive_pat-other"))

    async def scenario() -> list[str | None]:
        await hold_slots(app, token, while_held)
        # Every held slot came back: the full allowance can be taken again.
        limiter = the_limiter(app)
        tickets = [await limiter.budget.admit(hash_token(token)) for _ in range(MAX_CONCURRENT)]
        for ticket in tickets:
            if isinstance(ticket, str):
                await limiter.budget.release(hash_token(token), ticket)
        await limiter.aclose()
        return tickets

    tickets = asyncio.run(scenario())

    assert_refused(seen["sixth"], limit=MAX_CONCURRENT, window=1)
    assert seen["other"].status_code == 200
    assert all(isinstance(ticket, str) for ticket in tickets)


@pytest.mark.parametrize("store", STORES)
def test_refused_concurrent_request_spends_no_window_budget(
    make_app: Callable[..., FastAPI], token: str, store: str
) -> None:
    app = make_app(store)
    refusals: list[int] = []

    async def while_held(client: httpx.AsyncClient) -> None:
        for _ in range(10):
            response = await client.get("/v1/_test/ping", headers=bearer(token))
            refusals.append(response.status_code)

    asyncio.run(hold_slots(app, token, while_held))
    with TestClient(app) as client:
        # The 5 held requests were counted, the 10 refused ones were not: 295 more fit.
        after = spend(client, token, 296)

    assert refusals == [429] * 10
    assert [r.status_code for r in after] == [200] * 295 + [429]


@pytest.mark.parametrize("store", STORES)
def test_slots_are_per_token(store: str) -> None:
    a, b = f"a-{uuid.uuid4().hex}", f"b-{uuid.uuid4().hex}"

    async def scenario() -> tuple[list[str | Refusal], str | Refusal]:
        limiter = RateLimiter(REDIS_URL if store == "redis" else None)
        held = [await limiter.budget.admit(a) for _ in range(MAX_CONCURRENT + 1)]
        other = await limiter.budget.admit(b)
        await forget(limiter, a, b)
        return held, other

    held, other = asyncio.run(scenario())

    assert all(isinstance(ticket, str) for ticket in held[:MAX_CONCURRENT])
    refused = held[MAX_CONCURRENT]
    assert isinstance(refused, Refusal)
    assert (refused.limit, refused.retry_after) == (MAX_CONCURRENT, 1)
    assert isinstance(other, str)


async def forget(limiter: RateLimiter, *keys: str) -> None:
    """Deletes the Redis keys of ``keys`` (made up for one test) and closes the limiter."""
    if isinstance(limiter.budget, RedisBudget):
        for key in keys:
            await limiter.budget.redis.delete(*limiter.budget.keys(key))
    await limiter.aclose()


@needs_redis
@pytest.mark.parametrize(
    ("taken_ago", "freed"), [(SLOT_TTL_SECONDS - 10, False), (SLOT_TTL_SECONDS + 10, True)]
)
def test_redis_slots_of_a_dead_process_are_freed_after_the_ttl(
    token: str, taken_ago: int, freed: bool
) -> None:
    async def scenario() -> str | None:
        dead = RateLimiter(REDIS_URL, clock=lambda: time.time() - taken_ago)
        key = hash_token(token)
        for _ in range(MAX_CONCURRENT):
            assert isinstance(await dead.budget.admit(key), str)  # never released
        await dead.aclose()
        limiter = RateLimiter(REDIS_URL)
        ticket = await limiter.budget.admit(key)
        await limiter.aclose()
        return ticket

    assert isinstance(asyncio.run(scenario()), str) is freed


# --- windows -----------------------------------------------------------------------------


async def admit_and_release(limiter: RateLimiter, key: str) -> Refusal | None:
    """One request that finishes at once: ``None`` if admitted, else its refusal."""
    admitted = await limiter.budget.admit(key)
    if isinstance(admitted, Refusal):
        return admitted
    await limiter.budget.release(key, admitted)
    return None


def test_production_limits_are_missives() -> None:
    limiter = RateLimiter(None)

    assert [(w.amount, w.get_expiry()) for w in limiter.windows] == [(300, 60), (900, 15 * 60)]
    assert limiter.windows == WINDOWS
    assert limiter.max_concurrent == MAX_CONCURRENT == 5


@pytest.mark.parametrize("store", STORES)
def test_fifteen_minute_window_refuses_with_its_own_numbers(token: str, store: str) -> None:
    minute, quarter = RateLimitItemPerMinute(10), RateLimitItemPerMinute(4, 15)

    async def scenario() -> tuple[list[object], list[int]]:
        limiter = RateLimiter(REDIS_URL if store == "redis" else None, windows=(minute, quarter))
        key = hash_token(token)
        results: list[object] = [await admit_and_release(limiter, key) for _ in range(6)]
        remaining = await limiter.budget.remaining(key)
        await limiter.aclose()
        return results, remaining

    now = time.time()
    results, remaining = asyncio.run(scenario())

    assert results[:4] == [None] * 4
    for refusal in results[4:]:
        assert refusal is not None
        assert refusal.limit == 4  # type: ignore[attr-defined]
        assert now + 60 < refusal.reset_at <= now + 15 * 60 + 1  # type: ignore[attr-defined]
        assert 60 < refusal.retry_after <= 15 * 60  # type: ignore[attr-defined]
    # The two refused requests were given back to the minute window.
    assert remaining == [6, 0]


@pytest.mark.parametrize("store", STORES)
def test_request_refused_by_the_minute_window_spends_nothing_else(token: str, store: str) -> None:
    minute, quarter = RateLimitItemPerMinute(3), RateLimitItemPerMinute(5, 15)

    async def scenario() -> tuple[list[object], list[int]]:
        limiter = RateLimiter(REDIS_URL if store == "redis" else None, windows=(minute, quarter))
        key = hash_token(token)
        results: list[object] = [await admit_and_release(limiter, key) for _ in range(5)]
        remaining = await limiter.budget.remaining(key)
        await limiter.aclose()
        return results, remaining

    results, remaining = asyncio.run(scenario())

    assert results[:3] == [None] * 3
    assert [getattr(r, "limit", None) for r in results[3:]] == [3, 3]
    assert remaining == [0, 2]


# --- connections -------------------------------------------------------------------------


@needs_redis
def test_redis_connections_close_when_the_app_shuts_down(token: str) -> None:
    import redis

    assert REDIS_URL
    name = f"missive-test-{uuid.uuid4().hex}"
    separator = "&" if "?" in REDIS_URL else "?"
    app = create_app(
        Settings(
            database_url="sqlite://",
            rate_limit="missive",
            redis_url=f"{REDIS_URL}{separator}client_name={name}",
        )
    )
    app.include_router(router)

    def ours(observer: redis.Redis) -> int:
        return sum(1 for c in observer.client_list() if c.get("name") == name)

    with redis.Redis.from_url(REDIS_URL) as observer:
        for _ in range(2):  # a restarted app reconnects
            with TestClient(app) as client:
                assert spend(client, token, 3)[-1].status_code == 200
                during = ours(observer)
            after = ours(observer)
            assert during >= 1
            assert after == 0


# --- budgets set by MISSIVE_RATE_LIMIT_* ----------------------------------------------------


def test_settings_default_to_missives_budgets() -> None:
    settings = Settings()

    assert (settings.rate_limit_per_minute, settings.rate_limit_per_15_minutes) == (300, 900)
    assert [w.amount for w in WINDOWS] == [300, 900]
    assert settings.rate_limit_concurrent == MAX_CONCURRENT == 5


def test_budgets_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSIVE_RATE_LIMIT_PER_MINUTE", "10")
    monkeypatch.setenv("MISSIVE_RATE_LIMIT_PER_15_MINUTES", "20")
    monkeypatch.setenv("MISSIVE_RATE_LIMIT_CONCURRENT", "2")
    limiter = the_limiter(create_app(Settings(database_url="sqlite://", rate_limit="missive")))

    assert [(w.amount, w.multiples, w.GRANULARITY.name) for w in limiter.windows] == [
        (10, 1, "minute"),
        (20, 15, "minute"),
    ]
    assert limiter.max_concurrent == 2


@pytest.mark.parametrize("value", ["0", "-1", "ten"])
def test_a_budget_that_is_not_a_positive_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MISSIVE_RATE_LIMIT_PER_MINUTE", value)
    with pytest.raises(ValueError, match="rate_limit_per_minute"):
        Settings()


@pytest.mark.parametrize("store", STORES)
def test_a_smaller_per_minute_budget_refuses_the_next_request(
    make_app: Callable[..., FastAPI], token: str, store: str
) -> None:
    with TestClient(make_app(store, rate_limit_per_minute=10)) as client:
        responses = spend(client, token, 11)

    assert [r.status_code for r in responses] == [200] * 10 + [429]
    assert_refused(responses[-1], limit=10, window=60)


@pytest.mark.parametrize("store", STORES)
def test_a_smaller_15_minute_budget_refuses_the_next_request(
    make_app: Callable[..., FastAPI], token: str, store: str
) -> None:
    app = make_app(store, rate_limit_per_minute=100, rate_limit_per_15_minutes=4)
    with TestClient(app) as client:
        responses = spend(client, token, 5)

    assert [r.status_code for r in responses] == [200] * 4 + [429]
    assert_refused(responses[-1], limit=4, window=15 * 60)


@pytest.mark.parametrize("store", STORES)
def test_a_smaller_concurrency_budget_refuses_the_next_request(
    make_app: Callable[..., FastAPI], token: str, store: str
) -> None:
    app = make_app(store, rate_limit_concurrent=2)
    gate = app.state.gate = Gate(expected=2)
    seen: list[httpx.Response] = []

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                held = [
                    asyncio.create_task(c.get("/v1/_test/slow", headers=bearer(token)))
                    for _ in range(2)
                ]
                await asyncio.wait_for(gate.all_arrived.wait(), timeout=5)
                try:
                    seen.append(await c.get("/v1/_test/ping", headers=bearer(token)))
                finally:
                    gate.opened.set()
                return [r.status_code for r in await asyncio.gather(*held)]
        finally:
            await the_limiter(app).aclose()

    held = asyncio.run(scenario())

    assert held == [200, 200]
    assert_refused(seen[0], limit=2, window=1)
