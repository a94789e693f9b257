"""Scheduled drafts (spec 2.6.1 ``send_at`` / ``auto_followup``): durable outbox rows that the
worker turns into sent messages when the injected clock passes ``send_at``."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db.models import Message, OutboxItem
from missive_server.delivery.handlers import build_handlers
from missive_server.delivery.inbound import InboundServer
from missive_server.delivery.scheduled import SendDraftHandler
from missive_server.delivery.worker import DeliveryError, Worker
from missive_server.services.outbox import RetryPolicy
from missive_server.settings import Settings
from tests.api.drafts_support import (
    FIRST_ID,
    T0,
    World,
    created,
    get_conversation,
    get_message,
    make_world,
    outbox_rows,
)
from tests.conftest import bearer
from tests.delivery.mail_support import parse
from tests.factories import Factory
from tests.serve_support import free_port

LATER = T0 + 3600


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


@pytest.fixture
def worker(app: FastAPI, settings: Settings, clock: FrozenClock) -> Iterator[Worker]:
    with httpx.Client() as http:
        yield Worker(
            app.state.session_factory,
            clock=clock,
            handlers=build_handlers(settings, http_client=http),
            policy=RetryPolicy(),
        )


def counts(client: TestClient, world: World, cid: str) -> tuple[int, int, int]:
    c = get_conversation(client, world.token, cid)
    return c["drafts_count"], c["send_later_messages_count"], c["messages_count"]


def stored(session: Session, message_id: str) -> Message:
    session.expire_all()
    message = session.get(Message, message_id)
    assert message is not None
    return message


def test_a_scheduled_draft_is_sent_when_due(
    client: TestClient, world: World, session: Session, clock: FrozenClock, worker: Worker
) -> None:
    cid = world.conversation.id
    draft = created(client, world.token, conversation=cid, send_at=LATER)

    assert (draft["draft"], draft["send_at"], draft["delivered_at"]) == (True, LATER, None)
    assert counts(client, world, cid) == (0, 1, 1)
    [row] = outbox_rows(session)
    assert (row.kind, row.status, row.message_id, row.next_attempt_at, row.payload) == (
        "send_draft",
        "pending",
        draft["id"],
        LATER,
        {},
    )

    clock.advance(3599)
    assert worker.run_once() == 0

    clock.advance(61)
    assert worker.run_once() == 1
    message = get_message(client, world.token, draft["id"])
    assert (message["delivered_at"], message["delivery_status"]) == (LATER + 60, "queued")
    assert (message["in_reply_to"], message["conversation"]["last_activity_at"]) == (
        [FIRST_ID],
        LATER + 60,
    )
    assert counts(client, world, cid) == (0, 0, 2)
    assert [(r.kind, r.status) for r in outbox_rows(session)] == [
        ("send_draft", "sent"),
        ("mail", "pending"),
    ]

    assert worker.run_once() == 1  # the mail row, captured (no relay configured)
    mail = outbox_rows(session, kind="mail")[0]
    assert (mail.status, mail.captured) == ("sent", True)
    assert parse(mail.raw or b"")["Message-ID"] == message["email_message_id"]
    assert get_message(client, world.token, draft["id"])["delivery_status"] == "sent"


def test_a_schedule_survives_a_restart(
    settings: Settings, clock: FrozenClock, engine: Any, factory: Factory
) -> None:
    world = make_world(factory)
    with TestClient(create_app(settings, clock=clock, engine=engine)) as first:
        draft = created(first, world.token, send_at=LATER, subject="Later")

    # A new process: its own engine, app and worker on the same database.
    restarted = create_app(settings, clock=clock)
    with httpx.Client() as http, restarted.state.session_factory() as session:
        worker = Worker(
            restarted.state.session_factory,
            clock=clock,
            handlers=build_handlers(settings, http_client=http),
            policy=RetryPolicy(),
        )
        clock.advance(3600)
        assert worker.run_once() == 1

        message = stored(session, draft["id"])
        assert (message.draft, message.delivered_at, message.subject) == (False, LATER, "Later")
        [mail] = outbox_rows(session, kind="mail")
        assert (mail.status, mail.message_id) == ("pending", draft["id"])
        assert mail.payload == {
            "envelope_from": "support@acme.test",
            "recipients": ["paul@example.com"],
        }
    restarted.state.engine.dispose()


def test_a_send_at_in_the_past_is_due_at_once(
    client: TestClient, world: World, session: Session, worker: Worker
) -> None:
    draft = created(client, world.token, send_at=T0 - 86400)

    assert draft["send_at"] == T0 - 86400
    assert worker.run_once() == 1
    assert stored(session, draft["id"]).delivered_at == T0


def test_deleting_a_scheduled_draft_cancels_its_send(
    client: TestClient, world: World, session: Session, clock: FrozenClock, worker: Worker
) -> None:
    draft = created(client, world.token, conversation=world.conversation.id, send_at=LATER)

    response = client.delete(f"/v1/drafts/{draft['id']}", headers=bearer(world.token))

    assert (response.status_code, response.json()) == (200, {})
    assert counts(client, world, world.conversation.id) == (0, 0, 1)
    [row] = outbox_rows(session)
    assert (row.kind, row.status, row.conversation_id) == (
        "send_draft",
        "cancelled",
        world.conversation.id,
    )
    clock.advance(7200)
    assert worker.run_once() == 0


def test_a_reply_threads_a_later_send_to_itself(
    client: TestClient, world: World, session: Session, clock: FrozenClock, worker: Worker
) -> None:
    """Threading is decided when the draft is sent, not when it was scheduled."""
    draft = created(client, world.token, conversation=world.conversation.id, send_at=LATER)
    reply = created(client, world.token, conversation=world.conversation.id, send=True)
    reply_id = get_message(client, world.token, reply["id"])["email_message_id"]

    clock.advance(3600)
    worker.run_once()

    message = get_message(client, world.token, draft["id"])
    assert message["in_reply_to"] == [reply_id]


# --- auto follow-ups --------------------------------------------------------------------------


def reply_by_smtp(app: FastAPI, clock: FrozenClock, subject: str = "Re: Help") -> None:
    """Sam answers the conversation's first message, through the inbound SMTP listener."""
    mail = EmailMessage()
    mail["From"] = "Sam <sam@example.com>"
    mail["To"] = "support@acme.test"
    mail["Subject"] = subject
    mail["Message-ID"] = "<reply@example.com>"
    mail["In-Reply-To"] = FIRST_ID
    mail.set_content("Any news?")
    with (
        InboundServer(app.state.session_factory, clock, "127.0.0.1", free_port()) as server,
        smtplib.SMTP(server.host, server.port, timeout=10) as smtp,
    ):
        assert smtp.send_message(mail) == {}


def test_an_auto_followup_is_discarded_by_a_reply(
    client: TestClient,
    app: FastAPI,
    world: World,
    session: Session,
    clock: FrozenClock,
    worker: Worker,
) -> None:
    cid = world.conversation.id
    followup = created(client, world.token, conversation=cid, send_at=LATER, auto_followup=True)
    plain = created(client, world.token, conversation=cid, send_at=LATER, subject="Plain")
    assert counts(client, world, cid) == (0, 2, 1)

    reply_by_smtp(app, clock)

    assert counts(client, world, cid) == (0, 1, 2)
    session.expire_all()
    assert session.get(Message, followup["id"]) is None
    statuses = {r.message_id: r.status for r in outbox_rows(session, kind="send_draft")}
    assert statuses == {None: "cancelled", plain["id"]: "pending"}
    clock.advance(3600)
    assert worker.run_once() == 1
    assert stored(session, plain["id"]).draft is False


def test_an_auto_followup_is_sent_when_nobody_replies(
    client: TestClient, world: World, session: Session, clock: FrozenClock, worker: Worker
) -> None:
    cid = world.conversation.id
    followup = created(client, world.token, conversation=cid, send_at=LATER, auto_followup=True)
    # Our own messages are not replies.
    created(client, world.token, conversation=cid, send=True)

    clock.advance(3600)
    worker.run_once()

    assert stored(session, followup["id"]).draft is False


# --- the handler on its own -------------------------------------------------------------------


def test_the_handler_refuses_a_draft_that_is_gone(
    client: TestClient, world: World, session: Session
) -> None:
    sent = created(client, world.token, send=True)
    handler = SendDraftHandler(RetryPolicy())
    for message_id in (sent["id"], None):
        item = OutboxItem(id="x", kind="send_draft", message_id=message_id, payload={})
        with pytest.raises(DeliveryError, match="deleted or already sent") as raised:
            handler.deliver(session, item, now=T0)
        assert raised.value.permanent


def test_the_handler_retries_with_the_configured_policy(settings: Settings) -> None:
    handler = SendDraftHandler.from_settings(
        settings.model_copy(update={"delivery_max_attempts": 2, "delivery_backoff_seconds": 5})
    )

    assert handler.policy == RetryPolicy(2, 5)
    assert isinstance(
        build_handlers(settings, http_client=httpx.Client())["send_draft"], SendDraftHandler
    )
