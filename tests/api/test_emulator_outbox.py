"""``GET /_emulator/outbox`` and ``GET /_emulator/outbox/{id}/raw``, in emulator mode only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.services import outbox
from missive_server.settings import Settings
from tests.delivery.mail_support import T0, Queued, World, fresh, make_world, queue_mail
from tests.factories import Factory


@pytest.fixture
def emulator(settings: Settings, clock: FrozenClock, engine: Engine) -> FastAPI:
    return create_app(settings.model_copy(update={"emulator": True}), clock=clock, engine=engine)


@pytest.fixture
def emu(emulator: FastAPI) -> Iterator[TestClient]:
    with TestClient(emulator) as test_client:
        yield test_client


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def entry(session: Session, queued: Queued, **changes: Any) -> dict[str, Any]:
    item = fresh(session, queued.item)
    return {
        "id": item.id,
        "message_id": queued.message.id,
        "conversation": queued.message.conversation_id,
        "kind": "mail",
        "from": {"name": "Alice Lidell-Ünïcode", "address": "alice@acme.test"},
        "to": [{"name": "Paul", "address": "paul@example.com"}],
        "cc": [{"name": None, "address": "carol@example.com"}],
        "bcc": [{"name": "Secret", "address": "secret@example.com"}],
        "subject": "Re: Ünïcode ✓ subject",
        "status": item.status,
        "attempts": item.attempts,
        "next_attempt_at": item.next_attempt_at,
        "last_error": item.last_error,
        "captured": item.captured,
        "created_at": item.created_at,
        "sent_at": item.sent_at,
        "raw": item.raw.decode() if item.raw is not None else None,
    } | changes


def test_the_outbox_lists_captured_pending_and_failed_mail_newest_first(
    emu: TestClient,
    emulator: FastAPI,
    session: Session,
    world: World,
    clock: FrozenClock,
) -> None:
    captured = queue_mail(session, world.conversation, T0)
    emulator.state.worker.run_once()
    clock.advance(10)
    doomed = queue_mail(session, world.conversation, clock.now(), recipients=["x@example.com"])
    doomed.item.payload = {"envelope_from": "alice@acme.test", "recipients": []}
    session.commit()
    emulator.state.worker.run_once()
    clock.advance(10)
    pending = queue_mail(session, world.conversation, clock.now())

    response = emu.get("/_emulator/outbox")

    assert response.status_code == 200
    assert response.json() == {
        "outbox": [
            entry(session, pending, status="pending", attempts=0, created_at=T0 + 20),
            entry(
                session,
                doomed,
                status="failed",
                attempts=1,
                last_error="cannot write this message: the outbox payload has no 'recipients'",
            ),
            entry(session, captured, status="sent", captured=True, sent_at=T0),
        ]
    }
    raw = response.json()["outbox"][2]["raw"]
    assert raw.startswith("From: Alice =?utf-8?")
    assert "Message-ID: <out-1@acme.test>\r\n" in raw


def test_the_outbox_filters_and_limits(
    emu: TestClient, emulator: FastAPI, session: Session, world: World, clock: FrozenClock
) -> None:
    first = queue_mail(session, world.conversation, T0)
    emulator.state.worker.run_once()
    clock.advance(1)
    second = queue_mail(session, world.conversation, clock.now())

    def ids(query: str) -> list[str]:
        response = emu.get(f"/_emulator/outbox?{query}")
        assert response.status_code == 200, response.json()
        return [e["id"] for e in response.json()["outbox"]]

    assert ids("limit=1") == [second.item.id]
    assert ids("status=sent") == [first.item.id]
    assert ids("status=pending&kind=mail") == [second.item.id]
    assert ids("kind=channel") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "'limit' input should be greater than or equal to 1"),
        ("limit=501", "'limit' input should be less than or equal to 500"),
        ("limit=ten", "'limit' must be an integer"),
        ("status=lost", "'status' must be 'pending', 'sent', 'failed' or 'cancelled'"),
    ],
)
def test_bad_filters_are_400(emu: TestClient, query: str, message: str) -> None:
    response = emu.get(f"/_emulator/outbox?{query}")

    assert (response.status_code, response.json()) == (400, {"error": {"message": message}})


def test_the_raw_message_is_served_as_rfc822(
    emu: TestClient, emulator: FastAPI, session: Session, world: World
) -> None:
    queued = queue_mail(session, world.conversation, T0)
    emulator.state.worker.run_once()
    raw = fresh(session, queued.item).raw

    response = emu.get(f"/_emulator/outbox/{queued.item.id}/raw")
    by_prefix = emu.get(f"/_emulator/outbox/{queued.item.id[:8]}/raw")

    assert response.status_code == 200
    assert response.headers["content-type"] == "message/rfc822"
    assert response.content == raw
    assert by_prefix.content == raw


def test_raw_of_an_unknown_or_unsent_row_is_404(
    emu: TestClient, session: Session, world: World
) -> None:
    pending = queue_mail(session, world.conversation, T0)

    unknown_id = "0b7f6c36-6f7c-4a3e-9d7e-000000000000"
    unknown = emu.get(f"/_emulator/outbox/{unknown_id}/raw")
    unsent = emu.get(f"/_emulator/outbox/{pending.item.id}/raw")

    assert unknown.status_code == 404
    assert unknown.json() == error(f"Outbox item with id '{unknown_id}' does not exist")
    assert unsent.status_code == 404
    assert unsent.json() == error(
        f"Outbox item with id '{pending.item.id}' has no message yet (pending)"
    )


def test_an_ambiguous_prefix_is_400(emu: TestClient, session: Session) -> None:
    for suffix in ("a", "b"):
        item = outbox.enqueue(session, kind="mail", now=T0, policy=outbox.RetryPolicy())
        item.id = f"abcd0000-0000-4000-8000-00000000000{suffix}"
    session.commit()

    response = emu.get("/_emulator/outbox/abcd/raw")

    assert response.status_code == 400
    assert response.json() == error("'abcd' matches several outbox items; give more of the id")


def test_the_emulator_routes_do_not_exist_without_emulator_mode(
    client: TestClient, session: Session, world: World
) -> None:
    queued = queue_mail(session, world.conversation, T0)

    for path in ("/_emulator/outbox", f"/_emulator/outbox/{queued.item.id}/raw"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (404, {"error": {"message": "Not found"}})
    assert not any(p.startswith("/_emulator") for p in client.get("/openapi.json").json()["paths"])


def test_the_emulator_routes_are_documented_in_emulator_mode(emu: TestClient) -> None:
    paths = emu.get("/openapi.json").json()["paths"]

    assert set(paths["/_emulator/outbox"]) == {"get"}
    assert set(paths["/_emulator/outbox/{item_id}/raw"]) == {"get"}
