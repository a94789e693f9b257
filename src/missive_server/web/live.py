"""Live updates: ``GET /events``, a Server-Sent Events stream of the changes (new messages,
posts, comments, state changes) to conversations the signed-in user may see, read from the
live-update log (``services/live.py``). A stream sleeps until a commit wakes it: in-process
through ``LiveHub.notify``, across ``serve`` processes through Redis pub/sub when
``MISSIVE_REDIS_URL`` is set. For changes no hub announces (a separate ``worker`` process, or
several processes without Redis), one poller per process reads the log's latest id every
``POLL_SECONDS`` and wakes the streams when it moved: an idle stream costs no query. Resuming
with ``Last-Event-ID`` replays what the stream missed."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from missive_server.auth import Principal
from missive_server.services import live
from missive_server.services.web import live_feed
from missive_server.web.routes import db_session, signed_in

router = APIRouter(include_in_schema=False)
#: Redis channel of the wake-ups; the message carries nothing: streams re-read the log.
CHANNEL = "missive:web-events"
#: How often a process looks at the log for changes no hub announced.
POLL_SECONDS = 10.0
#: How often an idle stream sends a comment, so proxies keep the connection open.
KEEP_ALIVE_SECONDS = 25.0


class LiveHub:
    """Wakes the event streams of this process (``notify`` may be called from any thread)."""

    def __init__(self, redis_url: str | None) -> None:
        self._redis_url = redis_url
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._publisher: Any = None
        self._subscriber: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._latest = -1

    def notify(self) -> None:
        self.wake_local()
        if self._redis_url:
            with contextlib.suppress(Exception):  # a missed wake-up costs one poll, not data
                self._redis().publish(CHANNEL, b"1")

    def wake_local(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, woken in waiters:
            loop.call_soon_threadsafe(woken.set)

    async def wait(self, timeout: float, *, latest: Callable[[], int]) -> bool:
        """True when woken, False after ``timeout``. ``latest`` reads the log's latest id (for
        the process's poller, started with the first stream)."""
        self._ensure_background(latest)
        woken = asyncio.Event()
        entry = (asyncio.get_running_loop(), woken)
        with self._lock:
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(woken.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)

    def _redis(self) -> Any:
        if self._publisher is None:
            from redis import Redis

            self._publisher = Redis.from_url(self._redis_url or "")
        return self._publisher

    def _ensure_background(self, latest: Callable[[], int]) -> None:
        loop = asyncio.get_running_loop()
        if self._redis_url and (self._subscriber is None or self._subscriber.done()):
            self._subscriber = loop.create_task(self._subscribe())
        if self._poller is None or self._poller.done():
            self._poller = loop.create_task(self._poll(latest))

    async def _poll(self, latest: Callable[[], int]) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            with contextlib.suppress(Exception):  # a failed look is retried next round
                found = await run_in_threadpool(latest)
                if found != self._latest:
                    self._latest = found
                    self.wake_local()

    async def _subscribe(self) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(self._redis_url or "")
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.wake_local()
        finally:
            await client.aclose()


@router.get("/events")
async def events(request: Request) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return Response("Sign in first", status_code=401)
        actor = signed[0]
        resume = request.headers.get("last-event-id", "")
        start = int(resume) if resume.isdigit() else live.latest_event_id(session)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _stream(request, actor, start), media_type="text/event-stream", headers=headers
    )


async def _stream(request: Request, actor: Principal, cursor: int) -> AsyncIterator[bytes]:
    hub: LiveHub = request.app.state.live_hub
    yield b"retry: 3000\n\n"
    woken = True
    while True:
        if woken:
            found, cursor = await run_in_threadpool(_read, request, actor, cursor)
            for item in found:
                data = orjson.dumps({"conversation": item.conversation_id, "event": item.event})
                yield b"id: %d\nevent: change\ndata: %s\n\n" % (item.id, data)
        woken = await hub.wait(KEEP_ALIVE_SECONDS, latest=lambda: _latest(request))
        if not woken:
            yield b": keep-alive\n\n"
        if await request.is_disconnected():
            return


def _latest(request: Request) -> int:
    with db_session(request) as session:
        return live.latest_event_id(session)


def _read(request: Request, actor: Principal, cursor: int) -> tuple[list[Any], int]:
    with db_session(request) as session:
        return live_feed.events_after(session, actor=actor, after=cursor)
