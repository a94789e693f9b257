"""The failed-sign-in counters: per address and per client, cleared by a success, and shared by
every process through Redis when ``MISSIVE_TEST_REDIS_URL`` is set (two throttles, one store)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from missive_server.web.throttle import PER_ADDRESS, PER_CLIENT, SignInThrottle

REDIS_URL = os.environ.get("MISSIVE_TEST_REDIS_URL")
STORES = [None, pytest.param(REDIS_URL, marks=pytest.mark.skipif(not REDIS_URL,
          reason="set MISSIVE_TEST_REDIS_URL to run"), id="redis")]  # fmt: skip


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """On a thread of its own: Playwright's sync API may own this thread's event loop when the
    browser tests share the worker process."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def pair(url: str | None) -> tuple[SignInThrottle, SignInThrottle]:
    """Two processes' throttles: with Redis they share counts (a fresh namespace per test)."""
    if url is None:
        one = SignInThrottle(None)
        return one, one
    namespace = f"test-{uuid.uuid4().hex}"
    return SignInThrottle(url, namespace=namespace), SignInThrottle(url, namespace=namespace)


@pytest.mark.parametrize("url", STORES)
def test_address_limit_is_shared_and_cleared_by_success(url: str | None) -> None:
    async def scenario() -> None:
        first, second = pair(url)
        for n in range(PER_ADDRESS.amount):
            assert await (first if n % 2 else second).wait_seconds("a@x.test", f"10.0.0.{n}") == 0
            await (first if n % 2 else second).failed("A@x.test", f"10.0.0.{n}")
        assert await second.wait_seconds("a@x.test", "10.9.9.9") > 0
        assert await first.wait_seconds("b@x.test", "10.9.9.9") == 0
        await first.succeeded("a@x.test")
        assert await second.wait_seconds("a@x.test", "10.9.9.9") == 0

    run(scenario)


@pytest.mark.parametrize("url", STORES)
def test_client_limit_spans_addresses(url: str | None) -> None:
    async def scenario() -> None:
        first, second = pair(url)
        for n in range(PER_CLIENT.amount):
            await (first if n % 2 else second).failed(f"user{n}@x.test", "10.0.0.1")
        wait = await second.wait_seconds("fresh@x.test", "10.0.0.1")
        assert 0 < wait <= PER_CLIENT.get_expiry() + 1
        assert await first.wait_seconds("fresh@x.test", "10.0.0.2") == 0

    run(scenario)
