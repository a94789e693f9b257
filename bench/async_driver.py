"""The async-driver alternative of issue 13, measured against the database-thread design.

    .venv/bin/pip install aiosqlite==0.22.1   # bench-only dependency, not in pyproject.toml
    MISSIVE_DATABASE_URL=sqlite:////tmp/wta-10k.db .venv/bin/missive-server bench-data \
        --conversations 10000
    .venv/bin/python bench/async_driver.py --database-url sqlite:////tmp/wta-10k.db \
        --json bench/results/async-driver-sqlite.json --text bench/results/async-driver-sqlite.txt
    .venv/bin/python bench/async_driver.py --database-url URL --pool-size 16   # see below
    .venv/bin/python bench/async_driver.py --database-url URL --check-only   # answers only

A prototype, not a change to the product. ``build_app`` is ``missive_server.app.create_app``
(settings from the environment, rate limits off) serving, side by side from one process:

- the real ``GET /v1/conversations/{id}`` and ``POST /v1/posts``: the database-thread design
  (``db/threads.py``, ``api/routing.py``), unchanged;
- their twins ``GET /async/v1/conversations/{id}`` and ``POST /async/v1/posts``, run on the
  server's event loop with SQLAlchemy asyncio: an ``AsyncEngine`` (``sqlite+aiosqlite``, or
  ``postgresql+psycopg``, psycopg 3's async connection) and an ``AsyncSession`` per request,
  committed before the response leaves. The unit of work is one ``await session.run_sync(fn)``
  in which ``fn`` authenticates (``api.deps.authenticate_request``: the app's token cache, else
  ``tokens.authenticate``) and runs the real endpoint functions, ``api.conversations
  .get_conversation`` and ``api.posts.create_post``, to their end on the sync ``Session`` that
  the ``AsyncSession`` wraps: the same services, arguments, renderer and JSON. Those endpoints
  are ``async def`` but await nothing, so ``settle`` runs them without a loop.

The same in both: the session class and ``Session.info`` of ``services/sessions
.session_factory`` (its ``before_commit`` dispatch writes the live log and webhook deliveries,
its ``after_commit`` wakes the event streams), ``expire_on_commit=False``, ``autoflush=False``;
``db/engine.make_engine``'s SQLite pragmas (WAL, foreign keys, busy timeout 5 s,
``synchronous=NORMAL``, from its own ``_sqlite_pragmas``) and PostgreSQL pool
(``MISSIVE_DB_POOL_SIZE``/``MISSIVE_DB_MAX_OVERFLOW``, 5 + 10, pre-ping); the input checks of
``UnitOfWorkRoute`` (query integers, the JSON body); the middleware and error handlers. The
SQL is the same: counted with ``before_cursor_execute`` on both engines (2026-12-06, SQLite and
PostgreSQL), a read is the same 4 statements and a post the same 5 (``INSERT INTO web_events``
included) once the token cache holds the token.

What differs (the twins only serve what is measured):

- no ``Idempotency-Key`` on the twins (without the header the real route only looks it up);
  a value the database refuses (``OverflowError``, ``DataError``) is a 500 there, not a 400;
- the post body is validated by FastAPI on the loop, where the thread design validates it on
  its database thread (the same work either way, on a different thread);
- concurrency: the threads run 2 units of work at a time (``MISSIVE_DB_THREADS``) on 2
  connections, the twins as many as there are requests, one connection each, up to the pool's
  ``--pool-size`` (``MISSIVE_DB_POOL_SIZE``, 5 by default, applied to the async SQLite engine
  too) + 10 overflow: at wrk's 16 the default pool keeps closing and reopening its overflow
  connections, hence ``--pool-size 16``; SQLite writers queue on the file's lock (busy
  timeout) inside the driver rather than in the thread queue;
- aiosqlite runs each connection on a thread of its own, and every DBAPI call is a hop to
  it and back (that is the driver); psycopg async talks to the socket from the loop;
- a twin's transaction can be cancelled at an ``await`` (rolled back), where the thread design
  always finishes a unit of work it has started;
- the twins' router comes first in the app's route list, so a real request is matched against
  it before its own (microseconds).

``main`` (this file run as a script) removes earlier runs' writes (``bench_data
.forget_writes``, also before each round), samples 2,000 conversation ids (``bench/run.py``),
serves ``build_app`` with uvicorn (uvloop, httptools, one process, no access log,
``MISSIVE_RATE_LIMIT=off MISSIVE_RUN_WORKER=false``), checks that each twin answers what its
real route answers (the same GET JSON, 401 and 404 bodies; a post's status, keys and live-log
rows), then runs wrk ``-t2 -c16 -d{--duration}s --latency`` (after 2 s of warm-up) on the four
routes, ``--rounds`` times, reads before writes, the design that goes first alternating by
round; ``uptime`` after each run, and the server's CPU time over each (warm-up included) per
second of it. Prints a Markdown table; ``--json``, ``--text`` keep it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from starlette.responses import Response

from missive_server.api import conversations as conversation_routes
from missive_server.api import posts as post_routes
from missive_server.api.deps import ApiContext, authenticate_request
from missive_server.api.input_guard import check_json_body, check_query, int_query_names
from missive_server.app import create_app
from missive_server.db.engine import _sqlite_pragmas, make_engine
from missive_server.db.models import WebEvent
from missive_server.errors import Unauthorized
from missive_server.schemas.posts import PostsCreateBody
from missive_server.services.seed import bench_data
from missive_server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/async"
TOKEN = "missive_pat-bench-data"
T = TypeVar("T")

# ---------------------------------------------------------------------------------- the app


def require_aiosqlite() -> None:
    if importlib.util.find_spec("aiosqlite") is None:
        raise SystemExit(
            "aiosqlite is not installed: .venv/bin/pip install aiosqlite==0.22.1 "
            "(a bench-only dependency, deliberately not in pyproject.toml)"
        )


def make_async_engine(settings: Settings) -> AsyncEngine:
    """``db/engine.make_engine``'s settings on an async driver."""
    url = make_url(settings.database_url)
    # Unlike make_engine, the pool size applies to SQLite too (SQLAlchemy's default there is
    # the settings' default, 5 + 10): here every request in flight holds a connection.
    pool = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
    if url.get_backend_name() == "sqlite":
        require_aiosqlite()
        engine = create_async_engine(
            url.set(drivername="sqlite+aiosqlite"), hide_parameters=True, **pool
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url.set(drivername="postgresql+psycopg"),  # psycopg 3's AsyncConnection
        hide_parameters=True,
        pool_pre_ping=True,
        **pool,
    )


class AsyncDriverRoute(APIRoute):
    """``api.routing.UnitOfWorkRoute`` on the server's loop: one ``AsyncSession`` per request,
    committed before the response leaves, rolled back (on close) when anything raises."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        int_names = int_query_names(self)

        async def unit_of_work(request: Request) -> Response:
            check_query(request, int_names)
            await request.body()
            await check_json_body(request)
            factory: async_sessionmaker[AsyncSession] = request.app.state.async_session_factory
            async with factory() as session:
                request.state.db = session
                response = await handler(request)
                if session.in_transaction():
                    await session.commit()
                return response

        return unit_of_work


def settle(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("the endpoint awaited something: it cannot run inside run_sync")


async def in_session(
    request: Request, endpoint: Callable[[ApiContext], Coroutine[Any, Any, Response]]
) -> Response:
    """The real endpoint with the ``Context`` the real route's dependency builds, on the sync
    ``Session`` of the request's ``AsyncSession`` (its I/O goes through the async driver)."""
    session: AsyncSession = request.state.db

    def work(sync: Session) -> Response:
        principal = authenticate_request(request, sync)
        if principal is None:
            raise Unauthorized()
        state = request.app.state
        return settle(endpoint(ApiContext(sync, principal, state.settings, state.clock)))

    return await session.run_sync(work)


twins = APIRouter(route_class=AsyncDriverRoute)


@twins.get("/conversations/{conversation_id}")
async def get_conversation(conversation_id: str, request: Request) -> Response:
    return await in_session(
        request, lambda ctx: conversation_routes.get_conversation(conversation_id, ctx)
    )


@twins.post("/posts", status_code=201)
async def create_post(body: PostsCreateBody, request: Request) -> Response:
    return await in_session(request, lambda ctx: post_routes.create_post(body, ctx))


def build_app() -> FastAPI:
    """Uvicorn's factory (``--factory bench.async_driver:build_app``): settings from the
    environment, as ``missive-server serve``, with rate limits off."""
    settings = Settings(rate_limit="off")
    app = create_app(settings)
    engine = make_async_engine(settings)
    sync_factory = app.state.session_factory
    app.state.async_session_factory = async_sessionmaker(
        engine,
        sync_session_class=sync_factory.class_,
        **{key: value for key, value in sync_factory.kw.items() if key != "bind"},
    )
    before = len(app.router.routes)
    app.include_router(twins, prefix=f"{PREFIX}/v1")
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added  # first, not behind every router the app has
    served = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with served(app):
            yield
        await engine.dispose()

    app.router.lifespan_context = lifespan
    return app


# ------------------------------------------------------------------------------- the runner

DESIGNS = {"threads": "", "async": PREFIX}
ROUTES = {"conversation_get": "`GET /v1/conversations/:id`", "post_create": "`POST /v1/posts`"}


@dataclass
class Run:
    backend: str
    route: str
    design: str
    round: int
    rps: float
    p50: str
    p99: str
    non_2xx: int
    uptime: str
    server_cores: float  # the server's CPU seconds per second over warm-up and run


def call(port: int, method: str, path: str, body: Any = None, token: str | None = TOKEN) -> Any:
    """``(status, JSON body)`` of one request."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def check(port: int, url: str, ids: list[str]) -> str:
    """Each twin answers what its real route answers; raises ``SystemExit`` where not."""

    def same(what: str, real: Any, twin: Any) -> None:
        if real != twin:
            raise SystemExit(f"{what}: the twin differs\n real: {real}\n twin: {twin}")

    for conversation in ids[:5]:
        path = f"/v1/conversations/{conversation}"
        real = call(port, "GET", path)
        if real[0] != 200:
            raise SystemExit(f"GET {path}: {real}")
        same(f"GET {path}", real, call(port, "GET", PREFIX + path))
    for what, path, token in [
        ("unknown id", "/v1/conversations/nope", TOKEN),
        ("no token", f"/v1/conversations/{ids[0]}", None),
        ("bad token", f"/v1/conversations/{ids[0]}", "missive_pat-wrong"),
    ]:
        real = call(port, "GET", path, token=token)
        same(what, real, call(port, "GET", PREFIX + path, token=token))
    engine = make_engine(url)
    notification = {"title": "Bench", "body": "check"}  # as post_create.lua
    post = {"posts": {"conversation": ids[0], "notification": notification, "text": "check"}}
    posted = []

    def log_rows() -> int:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(WebEvent)) or 0)

    for prefix in DESIGNS.values():
        before = log_rows()
        status, body = call(port, "POST", f"{prefix}/v1/posts", post)
        events = log_rows() - before
        if status != 201 or body["posts"]["conversation"] != ids[0]:
            raise SystemExit(f"POST {prefix}/v1/posts: {status} {body}")
        posted.append((status, sorted(body), sorted(body["posts"]), events))
    engine.dispose()
    same("POST /v1/posts (status, keys, live-log rows)", *posted)
    same(
        "POST /v1/posts without a token",
        *[
            call(port, "POST", f"{prefix}/v1/posts", post, token=None)
            for prefix in DESIGNS.values()
        ],
    )
    return (
        f"checked: GET JSON identical ({len(ids[:5])} ids), 404 and 401 bodies identical, "
        f"POST status/keys/live-log rows identical {posted[0]}"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(args: argparse.Namespace, server: int, ids_file: str, backend: str) -> list[Run]:
    import run as common  # bench/run.py (sys.path[0] is bench/ when this file runs)

    runs: list[Run] = []
    for number in range(1, args.rounds + 1):
        if number > 1:
            engine = make_engine(args.database_url)
            bench_data.forget_writes(engine)  # each round reads the dataset as generated
            engine.dispose()
        order = list(DESIGNS) if number % 2 else list(reversed(DESIGNS))
        for route in ROUTES:
            for design in order:
                script = common.Script(route, ROUTES[route], route, env={"PREFIX": DESIGNS[design]})
                cpu, started = cpu_seconds(server), time.monotonic()
                result = common.wrk(script, args.port, args.duration, {"IDS": ids_file})
                cores = (cpu_seconds(server) - cpu) / (time.monotonic() - started)
                uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout
                entry = Run(
                    *(backend, route, design, number, result.rps, result.p50, result.p99),
                    *(result.non_2xx, uptime.strip(), round(cores, 2)),
                )
                print(f"{route} {design} round {number}: {entry.rps:,.0f}/s {entry.uptime}")
                runs.append(entry)
    return runs


def table(runs: list[Run]) -> str:
    lines = [
        "| route | design | round | req/s | p50 | p99 | non-2xx | server CPU | load (uptime) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(runs, key=lambda r: (r.route, r.design != "threads", r.round)):
        load = r.uptime.rsplit("load average:", 1)[-1].strip()
        lines.append(
            f"| {ROUTES[r.route]} | {r.design} | {r.round} | {r.rps:,.0f} | {r.p50} | {r.p99} "
            f"| {r.non_2xx} | {r.server_cores:.2f} cores | {load} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a `bench-data` dataset")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per route and design")
    parser.add_argument("--port", type=int, default=8114)
    parser.add_argument("--json", type=Path, help="also write the runs here")
    parser.add_argument("--text", type=Path, help="also write the table here")
    parser.add_argument("--check-only", action="store_true", help="compare the answers only")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=5,
        help="MISSIVE_DB_POOL_SIZE of the server (the async engine's on SQLite too)",
    )
    args = parser.parse_args()
    import run as common  # bench/run.py

    backend = make_url(args.database_url).get_backend_name()
    if backend == "sqlite":
        require_aiosqlite()
    engine = make_engine(args.database_url)
    removed = bench_data.forget_writes(engine)
    engine.dispose()
    print(f"removed {removed:,} rows written by earlier runs", file=sys.stderr)
    directory = Path(tempfile.mkdtemp(prefix="missive-async-driver-"))
    common.sample(args.database_url, directory)
    ids_file = str(directory / "conversations")
    ids = Path(ids_file).read_text().split()
    python = str(ROOT / ".venv/bin/python")
    server = common.serving(
        [
            *(python, "-m", "uvicorn", "--factory", "--loop", "uvloop", "--http", "httptools"),
            *("--no-access-log", "--log-level", "warning", "--port", str(args.port)),
            "bench.async_driver:build_app",
        ],
        {
            "MISSIVE_DATABASE_URL": args.database_url,
            "MISSIVE_RATE_LIMIT": "off",
            "MISSIVE_RUN_WORKER": "false",
            "MISSIVE_ACCESS_LOG": "false",
            "MISSIVE_DB_POOL_SIZE": str(args.pool_size),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        },
        args.port,
    )
    try:
        checked = check(args.port, args.database_url, ids)
        print(checked, file=sys.stderr)
        runs = [] if args.check_only else measure(args, server.pid, ids_file, backend)
    finally:
        server.terminate()
        server.wait(10)
    if args.check_only:
        return 0
    text = (
        f"{args.database_url}, one uvicorn process, wrk -t2 -c16 -d{args.duration}s --latency "
        f"(2 s warm-up each), threads = the real routes (MISSIVE_DB_THREADS default), "
        f"async = the {PREFIX} twins (SQLAlchemy asyncio), pool size {args.pool_size} + 10"
        f"\n{checked}\n\n{table(runs)}\n"
    )
    print(f"\n{text}")
    if args.text:
        args.text.write_text(text)
    if args.json:
        document = {"database_url": args.database_url, "duration": args.duration}
        document |= {"pool_size": args.pool_size}
        document |= {"checked": checked, "runs": [asdict(r) for r in runs]}
        args.json.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
