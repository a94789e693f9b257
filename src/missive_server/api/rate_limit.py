"""Missive's rate limits, per token (spec 1.6): 5 concurrent, 300/minute, 900/15 minutes.

Windows are counted by the ``limits`` library, in memory or, when ``MISSIVE_REDIS_URL`` is set,
in Redis so every server process draws on one budget. Concurrency is a counter in the same
store. A 429 carries ``Retry-After`` and the ``X-RateLimit-*`` headers; ordinary responses do
not, as with Missive.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.storage import storage_from_string
from limits.aio.strategies import FixedWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from missive_server.api.errors import error_response
from missive_server.auth import bearer_token, hash_token

MAX_CONCURRENT = 5
WINDOWS: tuple[RateLimitItem, ...] = (RateLimitItemPerMinute(300), parse("900/15 minutes"))


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: int
    reset_at: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        return {
            "Retry-After": str(self.retry_after),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(self.reset_at),
        }


class ConcurrencyCounter(Protocol):
    async def acquire(self, key: str) -> bool: ...
    async def release(self, key: str) -> None: ...


class MemoryConcurrency:
    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._in_flight: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, key: str) -> bool:
        async with self._lock:
            current = self._in_flight.get(key, 0)
            if current >= self.maximum:
                return False
            self._in_flight[key] = current + 1
            return True

    async def release(self, key: str) -> None:
        async with self._lock:
            remaining = self._in_flight.get(key, 1) - 1
            if remaining > 0:
                self._in_flight[key] = remaining
            else:
                self._in_flight.pop(key, None)


class RedisConcurrency:
    """Shared counter; the TTL frees slots held by a process that died mid-request."""

    def __init__(self, url: str, maximum: int) -> None:
        import redis.asyncio as aioredis

        self.maximum = maximum
        self._redis = aioredis.from_url(url)

    async def acquire(self, key: str) -> bool:
        name = f"missive:concurrency:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(name).expire(name, 60).execute()
        if int(count) > self.maximum:
            await self._redis.decr(name)
            return False
        return True

    async def release(self, key: str) -> None:
        await self._redis.decr(f"missive:concurrency:{key}")


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        if redis_url:
            storage = storage_from_string("async+" + redis_url)
            self.concurrency: ConcurrencyCounter = RedisConcurrency(redis_url, MAX_CONCURRENT)
        else:
            storage = storage_from_string("async+memory://")
            self.concurrency = MemoryConcurrency(MAX_CONCURRENT)
        self._windows = FixedWindowRateLimiter(storage)

    async def check_windows(self, key: str) -> Refusal | None:
        for window in WINDOWS:
            if not await self._windows.hit(window, key):
                stats = await self._windows.get_window_stats(window, key)
                reset_at = math.ceil(stats.reset_time)
                return Refusal(window.amount, reset_at, max(1, reset_at - int(time.time())))
        return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _scope_token(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        key = hash_token(token)
        refusal = await self.limiter.check_windows(key)
        if refusal is None and not await self.limiter.concurrency.acquire(key):
            refusal = Refusal(MAX_CONCURRENT, int(time.time()) + 1, 1)
        elif refusal is None:
            try:
                await self.app(scope, receive, send)
            finally:
                await self.limiter.concurrency.release(key)
            return
        response = error_response(429, "Rate limit exceeded", refusal.headers())
        await response(scope, receive, send)


def _scope_token(scope: Scope) -> str | None:
    if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
        return None
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bearer_token(value.decode("latin-1"))
    return None
