"""The API's units of work run on database threads (``db.threads``): the server's
event loop keeps serving while one of them waits on the database."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event

from missive_server.db.threads import DatabaseThreads
from tests.conftest import bearer
from tests.factories import Factory

# --- the threads ------------------------------------------------------------------------


def test_work_runs_on_a_database_thread_and_its_answer_comes_back() -> None:
    threads = DatabaseThreads(2)

    async def where() -> str:
        return threading.current_thread().name

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(threads.run(where) for _ in range(8))))

    try:
        names = asyncio.run(scenario())
    finally:
        threads.close()

    assert set(names) <= {"missive-db-0", "missive-db-1"}
    assert threading.current_thread().name not in names


def test_an_error_is_raised_in_the_caller() -> None:
    threads = DatabaseThreads(1)

    async def fail() -> None:
        raise LookupError("no such row")

    async def scenario() -> None:
        await threads.run(fail)

    try:
        with pytest.raises(LookupError, match="no such row"):
            asyncio.run(scenario())
    finally:
        threads.close()


def test_a_caller_that_stops_waiting_does_not_cut_the_work_short() -> None:
    threads = DatabaseThreads(1)
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    async def unit_of_work() -> None:
        started.set()
        release.wait(5)  # a statement waiting on the database
        finished.set()

    async def scenario() -> None:
        waiting = asyncio.create_task(threads.run(unit_of_work))
        await asyncio.to_thread(started.wait, 5)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    try:
        asyncio.run(scenario())
        assert not finished.is_set()
        release.set()
        assert finished.wait(5)
    finally:
        threads.close()


def test_closed_threads_start_again_on_the_next_run() -> None:
    threads = DatabaseThreads(1)

    async def one() -> int:
        return 1

    asyncio.run(threads.run(one))
    threads.close()
    assert asyncio.run(threads.run(one)) == 1
    threads.close()


# --- the event loop keeps serving -------------------------------------------------------


@contextmanager
def writes_held(engine: Engine) -> Iterator[None]:
    """Another client holds the lock a post's insert needs until the block ends: SQLite's
    write lock (``BEGIN IMMEDIATE``), or PostgreSQL's table lock on ``posts`` (reads of
    other tables go on)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute("LOCK TABLE posts IN EXCLUSIVE MODE")
        yield
        raw.rollback()
    finally:
        raw.close()


def _blocking_statement(engine: Engine, statement: str) -> bool:
    """The statement that will wait on the lock ``writes_held`` holds."""
    if engine.dialect.name == "sqlite":
        return statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    return statement.lstrip().upper().startswith("INSERT INTO POSTS")


def test_a_request_is_served_while_another_waits_on_the_database(
    app: FastAPI, engine: Engine, factory: Factory
) -> None:
    org = factory.organization()
    alice = factory.user("alice@acme.test", organizations={org: "owner"})
    token = factory.token(alice)
    conversation = factory.conversation(org, users=[alice])
    factory.session.commit()
    waiting = threading.Event()

    def watch(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if _blocking_statement(engine, statement):
            waiting.set()

    note = {"title": "Held", "body": "behind a lock"}
    post = {"posts": {"conversation": conversation.id, "text": "held", "notification": note}}

    async def scenario() -> tuple[int, bool, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with writes_held(engine):
                writing = asyncio.create_task(
                    client.post("/v1/posts", json=post, headers=bearer(token))
                )
                assert await asyncio.to_thread(waiting.wait, 10)
                # The post's unit of work now waits on the lock in its database thread.
                users = await asyncio.wait_for(
                    client.get("/v1/users", headers=bearer(token)), timeout=10
                )
                still_waiting = not writing.done()
            written = await asyncio.wait_for(writing, timeout=10)
        return users.status_code, still_waiting, written.status_code

    event.listen(engine, "before_cursor_execute", watch)
    try:
        users_status, still_waiting, post_status = asyncio.run(scenario())
    finally:
        event.remove(engine, "before_cursor_execute", watch)
        app.state.database_threads.close()

    assert users_status == 200
    assert still_waiting
    assert post_status == 201
