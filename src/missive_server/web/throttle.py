"""Failed web sign-ins are limited per address and per client (``limits``, in memory or, with
``MISSIVE_REDIS_URL``, in Redis so every ``serve`` process counts together). Only failures count:
a user who signs in right is never slowed down, and a success clears the address's count."""

from __future__ import annotations

import hashlib
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

#: Five wrong passwords for one address, or twenty from one client, per 15 minutes.
PER_ADDRESS: RateLimitItem = RateLimitItemPerMinute(5, 15)
PER_CLIENT: RateLimitItem = RateLimitItemPerMinute(20, 15)


class SignInThrottle:
    def __init__(self, redis_url: str | None, *, namespace: str = "missive-sign-in") -> None:
        if redis_url:
            # redis-py, as api/rate_limit.py (limits would default to coredis, not installed).
            storage = storage_from_string(
                f"async+{redis_url}", implementation="redispy", key_prefix=namespace
            )
        else:
            storage = storage_from_string("async+memory://")
        self._limiter = FixedWindowRateLimiter(storage)

    async def wait_seconds(self, email: str, client: str) -> int:
        """0 when a sign-in may be tried now, else how long until it may."""
        waits = [
            await self._wait(PER_ADDRESS, "address", _key(email)),
            await self._wait(PER_CLIENT, "client", client),
        ]
        return max(waits)

    async def failed(self, email: str, client: str) -> None:
        await self._limiter.hit(PER_ADDRESS, "address", _key(email))
        await self._limiter.hit(PER_CLIENT, "client", client)

    async def succeeded(self, email: str) -> None:
        await self._limiter.clear(PER_ADDRESS, "address", _key(email))

    async def _wait(self, item: RateLimitItem, *identifiers: str) -> int:
        if await self._limiter.test(item, *identifiers):
            return 0
        stats = await self._limiter.get_window_stats(item, *identifiers)
        # The storage's windows run on the wall clock, not on the app's injected clock.
        return max(1, int(stats.reset_time - time.time()) + 1)


def _key(email: str) -> str:
    # Addresses are kept out of the counter store: a hash names the bucket.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
