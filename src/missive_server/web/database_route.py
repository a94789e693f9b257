"""Pages that work with the database run on the database threads (``db.threads``), as the
API's units of work do, so the server's event loop never waits on a page's queries.

Not for the pages that use clients bound to the server's loop (sign-in and password reset
count failures in Redis through an asyncio client) or that stream (``/events``): those keep
``APIRoute`` and read in the thread pool where they touch the database.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from missive_server.db.threads import DatabaseThreads


class DatabaseThreadRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def on_database_thread(request: Request) -> Response:
            # Read here, on the loop that owns the connection; the page finds it read.
            await request.body()
            threads: DatabaseThreads = request.app.state.database_threads
            return await threads.run(lambda: handler(request))

        return on_database_thread
