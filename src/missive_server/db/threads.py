"""Where the API's units of work run: a few threads, each with an event loop of its own, so
the server's event loop never waits on the database (issue 13).

Services call a synchronous SQLAlchemy session. Run inline in ``async def`` routes, every
statement, flush and commit (an fsync on SQLite) blocked the one event loop, so a process served
one request's database time at a time and a slow query stalled every connection. A thread pool
per call (``def`` routes and dependencies) hopped threads four or five times a request and
halved throughput (docs/architecture.md, "Route style"). Here a request hops once: the API
route's whole unit of work (dependencies, the endpoint, the commit) runs as one coroutine on a
database thread's own loop, and the server's loop only receives, rate-limits and sends. An
async driver would have meant a second session type through every service; measured against
this in docs/architecture.md.

A unit of work that has started runs to its end even if its client goes away: its transaction
commits or rolls back whole, never cut at an ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

Work = Callable[[], Coroutine[Any, Any, Any]]
_Job = tuple[Work, asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class DatabaseThreads:
    """``await threads.run(work)`` runs ``work()`` on the next free database thread."""

    def __init__(self, count: int, *, name: str = "missive-db") -> None:
        self.count = count
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    async def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        self._start()
        caller = asyncio.get_running_loop()
        future: asyncio.Future[T] = caller.create_future()
        self._jobs.put((work, caller, future))
        # Cancelling the caller cancels only its wait: the unit of work finishes on its thread.
        return await future

    def close(self) -> None:
        """Let every thread finish the work it has and stop; a later ``run`` starts anew."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()

    def _start(self) -> None:
        if len(self._threads) == self.count:
            return
        with self._lock:
            while len(self._threads) < self.count:
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while (job := self._jobs.get()) is not None:
                work, caller, future = job
                try:
                    outcome: tuple[bool, Any] = (True, loop.run_until_complete(work()))
                except BaseException as error:  # handed to the caller, which re-raises it
                    outcome = (False, error)
                with contextlib.suppress(RuntimeError):  # the caller's loop has closed
                    caller.call_soon_threadsafe(_settle, future, outcome)
        finally:
            loop.close()


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():  # the caller stopped waiting
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
