"""One app served by uvicorn in a thread on a free loopback port, whose database can be
swapped between tests (``switch``) without rebuilding the app or restarting the server.

Deliveries (mail, webhooks, scheduled sends) are run by a small poller thread of our own rather
than the app's worker thread, because the worker must follow the database swaps; ``deliver``
runs due work at once, under the same lock, for tests that want it deterministically.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from missive_server.app import bind_database, create_app
from missive_server.db.engine import make_engine
from missive_server.settings import Settings
from missive_server.testing._handle import SharedTransport

log = logging.getLogger("missive_server.testing")

#: Webhook receivers in tests listen on loopback, which production refuses (SSRF guard).
LOOPBACK = ["127.0.0.0/8", "::1", "localhost"]
STARTUP_TIMEOUT = 30.0


class _Server(uvicorn.Server):
    """uvicorn's server, stopped by an event instead of its 100 ms polling loop."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if not self.should_exit:
            await self._stop.wait()

    def request_stop(self) -> None:
        self.should_exit = True
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)


class Runtime:
    def __init__(
        self,
        database_url: str,
        *,
        poll_seconds: float = 0.1,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.database_url = database_url
        options: dict[str, Any] = {
            "database_url": database_url,
            "emulator": True,
            "rate_limit": "off",
            "public_url": self.url,
            "run_worker": False,
            "web_ui": False,
            "access_log": False,
            "webhook_allow_private": LOOPBACK,
            **(settings or {}),
        }
        self.app: FastAPI = create_app(Settings(**options), engine=make_engine(database_url))
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self._server = _Server(config)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._poll_seconds = poll_seconds
        self._threads: list[threading.Thread] = []
        self.transport = SharedTransport()

    def start(self) -> None:
        serve = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="missive-server"
        )
        serve.start()
        self._threads.append(serve)
        poll = threading.Thread(target=self._poll, name="missive-deliveries")
        while serve.is_alive() and not self._server.started:
            serve.join(0.001)
        if not self._server.started:
            self._socket.close()
            raise RuntimeError("missive-server did not start (see the log above)")
        poll.start()
        self._threads.append(poll)

    def deliver(self) -> int:
        """Run every due delivery now; how many outbox rows were attempted."""
        with self._lock:
            attempted: int = self.app.state.worker.run_once()
        return attempted

    def switch(self, database_url: str) -> Engine:
        """Serve ``database_url`` from now on, with the clock and faults back to their defaults;
        returns the previous engine, for the caller to dispose of."""
        engine = make_engine(database_url)
        with self._lock:
            previous: Engine = self.app.state.engine
            bind_database(self.app, engine)
            self.database_url = database_url
        self.app.state.clock.reset()
        self.app.state.faults.clear()
        return previous

    def stop(self) -> None:
        self._stopping.set()
        self._server.request_stop()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._socket.close()
        self.transport.shutdown()
        self.app.state.engine.dispose()

    def _poll(self) -> None:
        while not self._stopping.wait(self._poll_seconds):
            try:
                self.deliver()
            except Exception:  # a test's broken database must not end deliveries for the next
                log.exception("delivery pass failed")
