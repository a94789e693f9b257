"""Missive's rate limits, per token (spec 1.6): 5 concurrent, 300/minute, 900/15 minutes.

Windows are counted by the ``limits`` library, in memory or, when ``MISSIVE_REDIS_URL`` is set,
in Redis so every server process draws on one budget. Concurrency slots live in the same store.
A 429 carries ``Retry-After`` and the ``X-RateLimit-*`` headers; ordinary responses do not, as
with Missive.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import anyio
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from missive_server.api.errors import error_response
from missive_server.auth import bearer_token, hash_token
from missive_server.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

MAX_CONCURRENT = 5
WINDOWS: tuple[RateLimitItem, ...] = (RateLimitItemPerMinute(300), RateLimitItemPerMinute(900, 15))
#: A slot older than this is considered abandoned (its process died mid-request) and is freed.
SLOT_TTL_SECONDS = 60


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


class ConcurrencySlots(Protocol):
    async def acquire(self, key: str) -> str | None:
        """A ticket for one in-flight request, or ``None`` when every slot is taken."""

    async def release(self, key: str, ticket: str) -> None: ...


class MemorySlots:
    """In-process counters. No lock: one event loop runs each call without interleaving."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._in_flight: dict[str, int] = {}

    async def acquire(self, key: str) -> str | None:
        current = self._in_flight.get(key, 0)
        if current >= self.maximum:
            return None
        self._in_flight[key] = current + 1
        return key

    async def release(self, key: str, ticket: str) -> None:
        remaining = self._in_flight.get(key, 1) - 1
        if remaining > 0:
            self._in_flight[key] = remaining
        else:
            self._in_flight.pop(key, None)


class RedisSlots:
    """A semaphore shared by processes: one sorted set per token, a ticket per request, scored
    by when it was taken. Tickets older than the TTL are dropped on the next acquire, so slots
    held by a process that died come back on their own (a plain counter with a key TTL never
    frees them while traffic keeps refreshing the TTL, and drifts when a release lands after
    the key expired)."""

    def __init__(
        self,
        redis: Redis,
        maximum: int,
        *,
        ttl: int = SLOT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.maximum = maximum
        self.ttl = ttl
        self._redis = redis
        self._clock = clock

    async def acquire(self, key: str) -> str | None:
        name, ticket, now = _slots_key(key), uuid.uuid4().hex, self._clock()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, "-inf", now - self.ttl)
            pipe.zadd(name, {ticket: now})
            pipe.zcard(name)
            pipe.expire(name, self.ttl)
            _, _, held, _ = await pipe.execute()
        if int(held) > self.maximum:
            await self._redis.zrem(name, ticket)
            return None
        return ticket

    async def release(self, key: str, ticket: str) -> None:
        await self._redis.zrem(_slots_key(key), ticket)


def _slots_key(key: str) -> str:
    return f"missive:concurrency:{key}"


class RateLimiter:
    """Budgets per token key. ``windows`` and ``max_concurrent`` default to Missive's."""

    def __init__(
        self,
        redis_url: str | None,
        *,
        windows: tuple[RateLimitItem, ...] = WINDOWS,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        self.windows = windows
        self.max_concurrent = max_concurrent
        self.redis: Redis | None = None
        self.concurrency: ConcurrencySlots
        if redis_url:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(redis_url)
            # limits defaults to the coredis client; use redis-py and share this one pool.
            storage = storage_from_string(
                "async+" + redis_url,
                implementation="redispy",
                connection_pool=self.redis.connection_pool,  # type: ignore[arg-type]  # typed too narrowly
            )
            self.concurrency = RedisSlots(self.redis, max_concurrent)
        else:
            storage = storage_from_string("async+memory://")
            self.concurrency = MemorySlots(max_concurrent)
        self._windows = FixedWindowRateLimiter(storage)

    async def check_windows(self, key: str) -> Refusal | None:
        """Count one request in every window, or refuse it without spending any budget."""
        for index, window in enumerate(self.windows):
            if await self._windows.hit(window, key):
                continue
            for spent in self.windows[:index]:
                await self._windows.hit(spent, key, cost=-1)
            reset_time = (await self._windows.get_window_stats(window, key)).reset_time
            wait = max(1, math.ceil(reset_time - time.time()))
            return Refusal(window.amount, math.ceil(reset_time), wait)
        return None

    async def remaining(self, key: str) -> list[int]:
        """Requests left in each window."""
        return [(await self._windows.get_window_stats(w, key)).remaining for w in self.windows]

    def busy(self) -> Refusal:
        return Refusal(self.max_concurrent, int(time.time()) + 1, 1)

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def rate_limiter(settings: Settings) -> RateLimiter:
    """The limiter ``MISSIVE_RATE_LIMIT_*`` describe (Missive's budgets unless changed)."""
    return RateLimiter(
        settings.redis_url,
        windows=(
            RateLimitItemPerMinute(settings.rate_limit_per_minute),
            RateLimitItemPerMinute(settings.rate_limit_per_15_minutes, 15),
        ),
        max_concurrent=settings.rate_limit_concurrent,
    )


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._close_after_shutdown(send))
            return
        token = _scope_token(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        key = hash_token(token)
        # The slot first: a request refused for concurrency spends no window budget.
        ticket = await self.limiter.concurrency.acquire(key)
        if ticket is None:
            await _refuse(self.limiter.busy(), scope, receive, send)
            return
        try:
            refusal = await self.limiter.check_windows(key)
            if refusal is None:
                await self.app(scope, receive, send)
        finally:
            # Shielded: a cancelled request must still hand its slot back.
            with anyio.CancelScope(shield=True):
                await self.limiter.concurrency.release(key, ticket)
        if refusal is not None:
            await _refuse(refusal, scope, receive, send)

    def _close_after_shutdown(self, send: Send) -> Send:
        """Closes the limiter's Redis connections when the server shuts down."""

        async def lifespan_send(message: Message) -> None:
            if message["type"] in {"lifespan.shutdown.complete", "lifespan.shutdown.failed"}:
                await self.limiter.aclose()
            await send(message)

        return lifespan_send


async def _refuse(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(429, "Rate limit exceeded", refusal.headers())
    await response(scope, receive, send)


def _scope_token(scope: Scope) -> str | None:
    if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
        return None
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bearer_token(value.decode("latin-1"))
    return None
