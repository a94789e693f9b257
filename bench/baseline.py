"""The ceiling: a bare ASGI app on the server stack `missive-server serve` uses (uvicorn, uvloop,
httptools, one process) on the same database, doing one thing per request and nothing else: no
framework, no authentication, no rate limit, no ORM, one DBAPI connection held for the process.

    POST /insert     one single-row INSERT into ``bench_baseline``, committed
    GET  /read/<id>  one primary-key SELECT of a ``conversations`` row, as JSON

The connection comes from ``make_engine``, so it has the driver and SQLite pragmas the API's
connections have (WAL, ``synchronous=NORMAL``), in autocommit mode: one round trip per request.
Like the API's routes it calls the synchronous
driver inline on the event loop: the difference between the two is what the API does per
request, not how it reaches the database.

    BASELINE_DATABASE_URL=sqlite:////tmp/bench/10k.db .venv/bin/python -m uvicorn --factory \
        --loop uvloop --http httptools --no-access-log --port 8113 bench.baseline:build_app
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from missive_server.db.engine import make_engine

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

CREATE = (
    "CREATE TABLE IF NOT EXISTS bench_baseline "
    "(id VARCHAR(36) PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL)"
)
INSERT = "INSERT INTO bench_baseline (id, body, created_at) VALUES ({p}, {p}, {p})"
READ = (
    "SELECT id, latest_message_subject, messages_count, last_activity_at "
    "FROM conversations WHERE id = {p}"
)
COLUMNS = ("id", "latest_message_subject", "messages_count", "last_activity_at")


def build_app() -> App:
    engine = make_engine(os.environ["BASELINE_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text(CREATE))
        connection.execute(text("DELETE FROM bench_baseline"))  # every run starts from empty
    dbapi = engine.raw_connection()  # held for the life of the process
    # Autocommit: one round trip per request (the INSERT commits itself; the SELECT needs no
    # transaction), the least any database access can cost.
    driver: Any = dbapi.driver_connection
    if engine.dialect.name == "sqlite":
        driver.isolation_level = None  # pysqlite's autocommit (Python 3.11)
    else:
        driver.autocommit = True
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    insert, read = INSERT.format(p=mark), READ.format(p=mark)

    async def respond(send: Send, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if scope["method"] == "POST" and path == "/insert":
            while (await receive()).get("more_body"):
                pass
            row_id = str(uuid.uuid4())
            cursor = dbapi.cursor()
            cursor.execute(insert, (row_id, "bench post", 1_700_000_000))
            cursor.close()
            await respond(send, 201, json.dumps({"id": row_id}).encode())
        elif scope["method"] == "GET" and path.startswith("/read/"):
            cursor = dbapi.cursor()
            cursor.execute(read, (path[6:],))
            found = cursor.fetchone()
            cursor.close()
            if found is None:
                await respond(send, 404, b'{"error":{"message":"not found"}}')
            else:
                await respond(
                    send, 200, json.dumps(dict(zip(COLUMNS, found, strict=True))).encode()
                )
        else:
            await respond(send, 404, b'{"error":{"message":"not found"}}')

    return app
