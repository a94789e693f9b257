"""Live updates across processes: two servers (one app each, the same database) share Redis;
a post made through server B wakes a stream open on server A at once, well before A's own poll
(``POLL_SECONDS``) would have found it. Runs when ``MISSIVE_TEST_REDIS_URL`` is set."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.settings import Settings
from missive_server.web.live import POLL_SECONDS
from tests.api.drafts_support import World, make_world
from tests.factories import Factory
from tests.serve_support import free_port
from tests.web.browser.test_live_browser import browser_session, collect, next_event, post

REDIS_URL = os.environ.get("MISSIVE_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="set MISSIVE_TEST_REDIS_URL to run")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_url": REDIS_URL})


@pytest.fixture
def world(factory: Factory) -> World:
    base = make_world(factory)
    factory.session.commit()
    return base


@pytest.fixture
def second(settings: Settings, clock: FrozenClock, engine: Engine) -> Iterator[str]:
    """Another server with its own app (its own hub), as a second ``serve`` process has."""
    app: FastAPI = create_app(settings, clock=clock, engine=engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_post_on_one_server_wakes_a_stream_on_another(
    live: str, second: str, world: World
) -> None:
    client = browser_session(live, world.token)
    out: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=collect, args=(client, {}, out), daemon=True).start()
    assert out.get(timeout=5) == ("open", 200)
    time.sleep(0.5)  # the stream reads its cursor and subscribes
    started = time.monotonic()
    post(second, world.token, world.conversation.id, "from the other process")
    event = next_event(out)
    elapsed = time.monotonic() - started
    assert world.conversation.id in event["data"]
    assert elapsed < POLL_SECONDS / 2, elapsed
