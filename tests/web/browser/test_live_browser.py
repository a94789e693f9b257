"""Live updates against the real server: the ``/events`` stream (read with httpx, as a browser's
EventSource does) delivers a post made through the API, never another organization's change,
and replays what it missed after ``Last-Event-ID``; in Chromium, a post made through the API
appears in the open conversation page without a reload by the user."""

from __future__ import annotations

import queue
import re
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from missive_server.db.models import Organization, User
from tests.api.drafts_support import World, make_world
from tests.factories import Factory
from tests.web.browser.test_inbox_browser import sign_in
from tests.web.support import CSRF

WAIT = 8.0


@pytest.fixture
def world(factory: Factory) -> World:
    base = make_world(factory)
    factory.session.commit()
    return base


def browser_session(live: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=live, timeout=WAIT)
    found = CSRF.search(client.get("/sign-in").text)
    assert found is not None
    signed = client.post("/sign-in", data={"csrf": found.group(1), "token": token})
    assert signed.status_code in (200, 303)
    return client


def collect(client: httpx.Client, headers: dict[str, str], out: queue.Queue[Any]) -> None:
    """Parse the stream's events into ``out`` until it closes (the server stopping at the end
    of the test cuts it: not an error here)."""
    try:
        _collect(client, headers, out)
    except httpx.TransportError:
        out.put(("closed", None))


def _collect(client: httpx.Client, headers: dict[str, str], out: queue.Queue[Any]) -> None:
    with client.stream("GET", "/events", headers=headers, timeout=None) as stream:
        out.put(("open", stream.status_code))
        event: dict[str, str] = {}
        for line in stream.iter_lines():
            if not line:
                if "data" in event:
                    out.put(("event", dict(event)))
                event = {}
                continue
            name, _, value = line.partition(": ")
            event[name] = value


def next_event(out: queue.Queue[Any]) -> dict[str, str]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        kind, value = out.get(timeout=max(0.1, deadline - time.monotonic()))
        if kind == "event":
            return value  # type: ignore[no-any-return]
    raise AssertionError("no event in time")


def post(live: str, token: str, cid: str, text: str) -> None:
    body = {
        "posts": {"conversation": cid, "text": text, "notification": {"title": "t", "body": text}}
    }
    answer = httpx.post(f"{live}/v1/posts", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text


def test_stream_delivers_visible_changes_only_and_resumes(
    live: str, world: World, factory: Factory
) -> None:
    gina = factory.session.scalar(select(User).where(User.email == "gina@globex.test"))
    globex = factory.session.get(Organization, world.foreign.organization_id)
    assert gina is not None
    assert globex is not None
    foreign = factory.conversation(globex, users=[gina], subject="Globex only")
    gina_token = factory.token(gina)
    client = browser_session(live, world.token)
    out: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=collect, args=(client, {}, out), daemon=True).start()
    assert out.get(timeout=WAIT) == ("open", 200)
    time.sleep(0.2)  # let the stream read its starting cursor before the changes
    post(live, gina_token, foreign.id, "not for Alice")
    post(live, world.token, world.conversation.id, "order shipped")
    first = next_event(out)
    assert '"event":"new_post"' in first["data"]
    assert world.conversation.id in first["data"]
    assert foreign.id not in first["data"]
    resumed: queue.Queue[Any] = queue.Queue()
    before = str(int(first["id"]) - 1)
    other = browser_session(live, world.token)
    threading.Thread(target=collect, args=(other, {"Last-Event-ID": before}, resumed),
                     daemon=True).start()  # fmt: skip
    assert next_event(resumed)["id"] == first["id"]


def test_stream_needs_a_session(live: str) -> None:
    assert httpx.get(f"{live}/events").status_code == 401


def test_a_post_appears_in_the_open_conversation_page(page: Any, live: str, world: World) -> None:
    sign_in(page, world.token)
    page.goto(f"/c/{world.conversation.id}")
    page.wait_for_function("document.body.dataset.live !== undefined")
    time.sleep(0.3)  # the EventSource connects
    post(live, world.token, world.conversation.id, "Refund issued live")
    page.get_by_text("Refund issued live").wait_for(timeout=WAIT * 1000)
    assert re.search(r"/c/", page.url)
