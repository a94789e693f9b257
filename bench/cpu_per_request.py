"""CPU time per request, in process: the app's ASGI callable driven directly (no socket, no
uvicorn), so the figure is what our code and its libraries cost, and hardly moves when other
work shares the machine (wrk's req/s does). For before/after comparisons of an optimisation;
wrk through bench/run.py stays the measure of record.

    .venv/bin/python bench/cpu_per_request.py --database-url sqlite:////tmp/bench/10k.db
    # --requests 2000 per endpoint; --only conversation_get,post_create
    # --profile FILE: cProfile statistics of the timed requests (python -m pstats FILE)

Uses a dataset made by ``missive-server bench-data`` (its token) and prints, per endpoint,
the CPU µs per request (``time.process_time``; best and median batch of 100), the statements
per request, and the Python function calls per request (deterministic: compare those across
versions when the machine is busy).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text

from missive_server.app import create_app
from missive_server.settings import Settings

TOKEN = "missive_pat-bench-data"


async def call(
    app: Any, method: str, path: str, body: bytes = b"", extra: tuple[Any, ...] = ()
) -> int:
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def requests(conversations: list[str], messages: list[str]) -> dict[str, Callable[[], Any]]:
    def post() -> tuple[str, str, bytes]:
        body = {
            "posts": {
                "conversation": random.choice(conversations),
                "notification": {"title": "Bench", "body": "load"},
                "text": "bench post",
            }
        }
        return "POST", "/v1/posts", json.dumps(body).encode()

    draft = {
        "drafts": {
            "subject": "Bench",
            "body": "<p>Hello</p>",
            "from_field": {"address": "support@bench.test"},
            "to_fields": [{"address": "c@client.test"}],
            "send": True,
        }
    }
    # Reads first: a post moves its conversation to the top of the inbox at the current second,
    # and the ties of one busy second would lengthen the inbox page (bench/run.py does the same).
    return {
        "inbox_list": lambda: ("GET", "/v1/conversations?inbox=true&limit=50", b""),
        "conversation_get": lambda: (
            "GET",
            f"/v1/conversations/{random.choice(conversations)}",
            b"",
        ),
        "message_get": lambda: ("GET", f"/v1/messages/{random.choice(messages)}", b""),
        "post_create": post,
        # A new key every time: the cost of reserving and storing, never a replay.
        "post_create_keyed": lambda: (*post(), ((b"idempotency-key", uuid.uuid4().hex.encode()),)),
        "draft_send": lambda: ("POST", "/v1/drafts", json.dumps(draft).encode()),
    }


async def measure(
    app: Any, make: Callable[[], Any], count: int, statements: list[int]
) -> tuple[float, float]:
    """(best, median) mean CPU µs per request over batches of 100: the best batch is the figure
    least disturbed by other processes (as timeit reports its best run)."""
    for _ in range(50):  # warm the statement caches
        await call(app, *make())
    statements[0] = 0
    batches: list[float] = []
    for _ in range(max(1, count // 100)):
        used = 0.0
        for _ in range(100):
            request = make()
            started = time.process_time()
            status = await call(app, *request)
            used += time.process_time() - started
            if status >= 300:
                raise SystemExit(f"{request[0]} {request[1]} answered {status}")
        batches.append(used / 100 * 1e6)
    return min(batches), statistics.median(batches)


async def python_calls(app: Any, make: Callable[[], Any], count: int) -> float:
    """Python function calls per request (cProfile's count): not a time, but it moves only
    when the code does, so it compares two versions even on a busy machine."""
    profile = cProfile.Profile()
    for _ in range(count):
        request = make()
        profile.enable()
        await call(app, *request)
        profile.disable()
    return pstats.Stats(profile).total_calls / count  # type: ignore[attr-defined,no-any-return]


class InThisThread:
    """``DatabaseThreads.run`` without the hop."""

    async def run(self, work: Callable[[], Any]) -> Any:
        return await work()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only")
    parser.add_argument("--profile")
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, rate_limit="off", run_worker=False)
    app = create_app(settings)
    # The units of work run in this thread, where cProfile and the calls count see them: this
    # tool measures the code; the thread hop is wrk's to measure (docs/architecture.md).
    app.state.database_threads = InThisThread()
    engine = app.state.engine
    with engine.connect() as c:
        conversations = list(c.scalars(text("SELECT id FROM conversations LIMIT 2000")))
        messages = list(c.scalars(text("SELECT id FROM messages LIMIT 2000")))
    counter = [0]
    event.listen(engine, "before_cursor_execute", lambda *_: counter.__setitem__(0, counter[0] + 1))
    chosen = requests(conversations, messages)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    print(f"{'endpoint':<18} {'best µs':>8} {'median µs':>10} {'statements':>11} {'calls':>7}")
    for name, make in chosen.items():
        best, median = asyncio.run(measure(app, make, args.requests, counter))
        per = counter[0] / (args.requests // 100 * 100)
        # One profiler at a time: with --profile the calls column is left out.
        calls = "-" if profiler else f"{asyncio.run(python_calls(app, make, 100)):.0f}"
        print(f"{name:<18} {best:8.0f} {median:10.0f} {per:11.1f} {calls:>7}")
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
