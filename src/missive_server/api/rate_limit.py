"""Missive's rate limits, per token (spec 1.6): 5 concurrent, 300/minute, 900/15 minutes.

Without ``MISSIVE_REDIS_URL`` each process counts its own budget in memory (the ``limits``
library's windows); with it every server process draws on one budget in Redis, admitted by one
Lua script per request (issue 13: one round trip, not the four of ``limits``' hits plus a
concurrency pipeline). Concurrency slots live in the same store as the windows. A 429 carries
``Retry-After`` and the ``X-RateLimit-*`` headers; ordinary responses do not, as with Missive.
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

Clock = Callable[[], float]

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


class Budget(Protocol):
    """Where a token's windows and in-flight requests are counted."""

    async def admit(self, key: str) -> str | Refusal:
        """Take a concurrency slot and spend one request of every window, or refuse without
        spending anything: a ticket for :meth:`release`, or why not."""

    async def release(self, key: str, ticket: str) -> None: ...

    async def remaining(self, key: str) -> list[int]:
        """Requests left in each window."""

    async def aclose(self) -> None: ...


class MemoryBudget:
    """One process's budget: ``limits``' in-memory fixed windows and a counter of in-flight
    requests. No lock: one event loop runs each call without interleaving. About 5 µs of CPU
    per request (bench/README.md), so nothing to gain from a hand-written store."""

    def __init__(
        self, windows: tuple[RateLimitItem, ...], max_concurrent: int, clock: Clock
    ) -> None:
        self.windows = windows
        self.max_concurrent = max_concurrent
        self._clock = clock
        self._in_flight: dict[str, int] = {}
        self._limiter = FixedWindowRateLimiter(storage_from_string("async+memory://"))

    async def admit(self, key: str) -> str | Refusal:
        current = self._in_flight.get(key, 0)
        if current >= self.max_concurrent:
            return busy(self.max_concurrent, self._clock())
        for index, window in enumerate(self.windows):
            if await self._limiter.hit(window, key):
                continue
            for spent in self.windows[:index]:
                await self._limiter.hit(spent, key, cost=-1)
            reset_time = (await self._limiter.get_window_stats(window, key)).reset_time
            return _refusal(window.amount, reset_time, self._clock())
        self._in_flight[key] = current + 1
        return key

    async def release(self, key: str, ticket: str) -> None:
        remaining = self._in_flight.get(key, 1) - 1
        if remaining > 0:
            self._in_flight[key] = remaining
        else:
            self._in_flight.pop(key, None)

    async def remaining(self, key: str) -> list[int]:
        return [(await self._limiter.get_window_stats(w, key)).remaining for w in self.windows]

    async def aclose(self) -> None:
        return None


#: Everything a request's admission needs, in one round trip and atomically, so processes
#: sharing Redis never both take the last slot or the last request of a window.
#: KEYS[1]: the token's in-flight tickets, a sorted set scored by when each was taken (tickets
#: older than the TTL belong to a process that died mid-request and are dropped, so their slots
#: come back; a plain counter with a key TTL would never free them under steady traffic).
#: KEYS[2..]: one counter per window, expiring when its window ends (a fixed window from its
#: first request, as ``limits``' own fixed windows).
#: ARGV: now, slot TTL, maximum in flight, ticket, then each window's limit and length.
#: Answers {-1, 0} admitted, {0, 0} every slot taken, or {k, ms} refused by window k, which
#: ends in ms milliseconds. A refused request spends nothing.
_ADMIT = """
local now, ttl, maximum = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
if redis.call('ZCARD', KEYS[1]) >= maximum then
  return {0, 0}
end
for i = 2, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[2 * i + 1]) then
    return {i - 1, redis.call('PTTL', KEYS[i])}
  end
end
for i = 2, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i + 2])
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], ttl)
return {-1, 0}
"""


class RedisBudget:
    """The budget every process sharing one Redis draws on: one script call (one round trip)
    admits a request, one ``ZREM`` after its response hands the slot back. The keys of a token
    share a hash tag, so the script also runs on a Redis Cluster."""

    def __init__(
        self,
        redis: Redis,
        windows: tuple[RateLimitItem, ...],
        max_concurrent: int,
        clock: Clock,
        *,
        slot_ttl: int = SLOT_TTL_SECONDS,
    ) -> None:
        self.windows = windows
        self.max_concurrent = max_concurrent
        self.slot_ttl = slot_ttl
        self.redis = redis
        self._clock = clock
        self._admit = redis.register_script(_ADMIT)

    async def admit(self, key: str) -> str | Refusal:
        ticket, now = uuid.uuid4().hex, self._clock()
        windows = [x for w in self.windows for x in (w.amount, w.get_expiry())]
        args: list[float | int | str] = [now, self.slot_ttl, self.max_concurrent, ticket, *windows]
        code, ends_in_ms = await self._admit(keys=self.keys(key), args=args)
        if code < 0:
            return ticket
        if code == 0:
            return busy(self.max_concurrent, now)
        window = self.windows[code - 1]
        ends_in = ends_in_ms / 1000 if ends_in_ms > 0 else window.get_expiry()
        return _refusal(window.amount, now + ends_in, now)

    async def release(self, key: str, ticket: str) -> None:
        await self.redis.zrem(_slots_key(key), ticket)

    async def remaining(self, key: str) -> list[int]:
        used = await self.redis.mget(self.keys(key)[1:])
        return [max(0, w.amount - int(u or 0)) for w, u in zip(self.windows, used, strict=True)]

    async def aclose(self) -> None:
        await self.redis.aclose()

    def keys(self, key: str) -> list[str]:
        """The in-flight set, then one counter per window."""
        return [_slots_key(key)] + [
            f"missive:rate:{{{key}}}:{w.amount}/{w.get_expiry()}" for w in self.windows
        ]


def _slots_key(key: str) -> str:
    return f"missive:rate:{{{key}}}:in-flight"


def busy(max_concurrent: int, now: float) -> Refusal:
    """Every concurrency slot is taken: try again in a second."""
    return Refusal(max_concurrent, int(now) + 1, 1)


def _refusal(limit: int, reset_time: float, now: float) -> Refusal:
    return Refusal(limit, math.ceil(reset_time), max(1, math.ceil(reset_time - now)))


class RateLimiter:
    """Budgets per token key. ``windows`` and ``max_concurrent`` default to Missive's; with a
    Redis URL every process draws on one budget, without one each counts its own."""

    def __init__(
        self,
        redis_url: str | None,
        *,
        windows: tuple[RateLimitItem, ...] = WINDOWS,
        max_concurrent: int = MAX_CONCURRENT,
        clock: Clock = time.time,
    ) -> None:
        self.windows = windows
        self.max_concurrent = max_concurrent
        self.budget: Budget
        if redis_url:
            from redis.asyncio import Redis

            self.budget = RedisBudget(Redis.from_url(redis_url), windows, max_concurrent, clock)
        else:
            self.budget = MemoryBudget(windows, max_concurrent, clock)

    async def aclose(self) -> None:
        await self.budget.aclose()


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
        admitted = await self.limiter.budget.admit(key)
        if isinstance(admitted, Refusal):
            await _refuse(admitted, scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            # Shielded: a cancelled request must still hand its slot back.
            with anyio.CancelScope(shield=True):
                await self.limiter.budget.release(key, admitted)

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
