"""Servers of one test session over one template store: ``fresh`` hands each test the same
running server rebound to a new copy of its template (milliseconds), ``dedicated`` starts a
server of its own (the session-scoped fixture, ``running``)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from missive_server.testing._databases import Seed, TemplateStore
from missive_server.testing._handle import MissiveServer
from missive_server.testing._runtime import Runtime


class ServerPool:
    """``database_url``: a PostgreSQL URL whose user may create databases (each test gets a
    database of its own on that server), or ``None`` for SQLite files under ``workdir``.
    ``settings``: ``Settings`` fields to override (e.g. ``{"rate_limit": "missive"}``)."""

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.store = TemplateStore(workdir, admin_url=database_url)
        self.settings = settings
        self._shared: Runtime | None = None
        #: The copy the shared runtime serves, dropped when it moves on (or at ``close``).
        self._served: str | None = None

    @contextmanager
    def fresh(self, seed: Seed = "demo") -> Iterator[MissiveServer]:
        template = self.store.template(seed, now=int(time.time()))
        url = self.store.copy(template)
        if self._shared is None:
            self._served = url
            runtime = Runtime(url, settings=self.settings)
            runtime.start()
            self._shared = runtime
        else:
            self._shared.switch(url).dispose()
            self._drop_served()
            self._served = url
        server = MissiveServer(
            self._shared.url,
            template.seeded,
            deliver=self._shared.deliver,
            database_url=url,
            transport=self._shared.transport,
        )
        try:
            yield server
        finally:
            server.close()

    @contextmanager
    def dedicated(self, seed: Seed = "demo") -> Iterator[MissiveServer]:
        template = self.store.template(seed, now=int(time.time()))
        url = self.store.copy(template)
        runtime = Runtime(url, settings=self.settings)
        try:
            runtime.start()
            server = MissiveServer(
                runtime.url,
                template.seeded,
                deliver=runtime.deliver,
                database_url=url,
                transport=runtime.transport,
            )
            try:
                yield server
            finally:
                server.close()
        finally:
            runtime.stop()
            self.store.drop(url)

    def close(self) -> None:
        if self._shared is not None:
            self._shared.stop()
            self._shared = None
        self._drop_served()
        self.store.close()

    def _drop_served(self) -> None:
        if self._served is not None:
            self.store.drop(self._served)
            self._served = None


@contextmanager
def running(
    seed: Seed = "demo",
    *,
    database_url: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Iterator[MissiveServer]:
    """A server for the duration of the block, for any test runner::

        with missive_server.testing.running(seed="demo") as server:
            httpx.get(server.url + "/v1/users", headers=server.headers)

    ``seed``: ``"demo"``, a seed document (dict) or ``None`` (empty). ``database_url``: a
    PostgreSQL URL allowed to create databases, else a temporary SQLite file."""
    with tempfile.TemporaryDirectory(prefix="missive-server-") as workdir:
        pool = ServerPool(Path(workdir), database_url=database_url, settings=settings)
        try:
            with pool.dedicated(seed) as server:
                yield server
        finally:
            pool.close()
