"""Outgoing email end to end: an outbox row, the worker, and a real aiosmtpd relay on loopback.

What arrives is parsed back with the stdlib parser and compared header by header, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.settings import Settings
from tests.delivery.mail_support import (
    DATE_T0,
    PDF,
    PNG,
    RECIPIENTS,
    T0,
    Relay,
    World,
    app_with,
    delivery,
    fresh,
    lines,
    make_world,
    parse,
    queue_mail,
    running,
)
from tests.factories import Factory
from tests.serve_support import free_port


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running(Relay()) as started:
        yield started


@pytest.fixture
def relay_app(settings: Settings, clock: FrozenClock, engine: Engine, relay: Relay) -> FastAPI:
    return app_with(settings, clock, engine, smtp_url=relay.url)


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def test_queued_mail_arrives_byte_correct(
    relay_app: FastAPI, relay: Relay, session: Session, world: World
) -> None:
    queued = queue_mail(session, world.conversation, T0)
    png = queued.attachments["logo.png"]

    assert relay_app.state.worker.run_once() == 1

    [received] = relay.received
    assert received.mail_from == "alice@acme.test"
    assert received.rcpt_tos == RECIPIENTS
    assert b"secret@example.com" not in received.content
    mail = parse(received.content)
    assert {name: str(mail[name]) for name in mail if name not in ("Content-Type",)} == {
        "From": "Alice Lidell-Ünïcode <alice@acme.test>",
        "To": "Paul <paul@example.com>",
        "Cc": "carol@example.com",
        "Subject": "Re: Ünïcode ✓ subject",
        "Date": DATE_T0,
        "Message-ID": "<out-1@acme.test>",
        "In-Reply-To": "<prev@example.com>",
        "References": "<root@example.com> <prev@example.com>",
        "MIME-Version": "1.0",
    }
    assert [part.get_content_type() for part in mail.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "application/pdf",
    ]
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert lines(text) == "Hello Paul,\n\nHere is the logo & the CV.\n"
    assert lines(html) == (
        "<div>Hello Paul,</div><div><br></div><div>Here is the logo &amp; the CV.</div>"
        f'<div><img alt="logo" style="max-width: 100%" src="cid:{png.id}@acme.test"></div>\n'
    )
    image, document = list(mail.walk())[5:]
    assert image["Content-ID"] == f"<{png.id}@acme.test>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PNG
    assert document.get_content_disposition() == "attachment"
    assert document.get_filename() == "résumé 2024.pdf"
    assert document.get_content() == PDF


def test_sent_mail_is_recorded_on_the_row_and_the_message(
    relay_app: FastAPI, relay: Relay, session: Session, world: World, client: TestClient
) -> None:
    queued = queue_mail(session, world.conversation, T0)

    relay_app.state.worker.run_once()

    item = fresh(session, queued.item)
    [received] = relay.received
    assert (item.status, item.attempts, item.captured, item.sent_at) == ("sent", 1, False, T0)
    assert (item.last_error, item.locked_until) == (None, None)
    assert item.raw == received.content
    assert delivery(client, world, queued) == ("sent", None)
    assert relay_app.state.worker.run_once() == 0
    assert len(relay.received) == 1


def test_a_relay_refusal_is_retried_with_backoff_then_fails_visibly(
    relay_app: FastAPI,
    relay: Relay,
    session: Session,
    world: World,
    clock: FrozenClock,
    client: TestClient,
) -> None:
    relay.answers = ["451 4.3.0 Try again later"] * 3
    queued = queue_mail(session, world.conversation, T0)
    worker = relay_app.state.worker
    error = f"127.0.0.1:{relay.port} answered 451 4.3.0 Try again later"

    assert worker.run_once() == 1
    item = fresh(session, queued.item)
    assert (item.status, item.attempts, item.next_attempt_at, item.last_error) == (
        "pending",
        1,
        T0 + 30,
        error,
    )
    assert delivery(client, world, queued) == ("queued", error)

    clock.advance(29)
    assert worker.run_once() == 0
    clock.advance(1)
    assert worker.run_once() == 1
    item = fresh(session, queued.item)
    assert (item.status, item.attempts, item.next_attempt_at) == ("pending", 2, T0 + 30 + 60)

    clock.advance(59)
    assert worker.run_once() == 0
    clock.advance(1)
    assert worker.run_once() == 1
    item = fresh(session, queued.item)
    assert (item.status, item.attempts, item.last_error, item.sent_at) == ("failed", 3, error, None)
    assert delivery(client, world, queued) == ("failed", error)
    clock.advance(10_000)
    assert worker.run_once() == 0
    assert relay.received == []


def test_a_transient_refusal_then_success_delivers_once(
    relay_app: FastAPI, relay: Relay, session: Session, world: World, clock: FrozenClock
) -> None:
    relay.answers = ["421 4.7.0 Too busy, come back later"]
    queued = queue_mail(session, world.conversation, T0)

    relay_app.state.worker.run_once()
    clock.advance(30)
    relay_app.state.worker.run_once()

    item = fresh(session, queued.item)
    assert (item.status, item.attempts, item.last_error, item.sent_at) == ("sent", 2, None, T0 + 30)
    assert len(relay.received) == 1
    assert fresh(session, queued.message).delivery_status == "sent"


def test_a_relay_that_is_down_is_retried_then_fails(
    settings: Settings,
    clock: FrozenClock,
    engine: Engine,
    session: Session,
    world: World,
    client: TestClient,
) -> None:
    port = free_port()  # nothing listens there
    app = app_with(settings, clock, engine, smtp_url=f"smtp://127.0.0.1:{port}")
    queued = queue_mail(session, world.conversation, T0)

    for delay in (0, 30, 60):
        clock.advance(delay)
        assert app.state.worker.run_once() == 1

    item = fresh(session, queued.item)
    assert (item.status, item.attempts) == ("failed", 3)
    assert item.last_error.startswith(f"127.0.0.1:{port}: ConnectionRefusedError: ")
    assert delivery(client, world, queued) == ("failed", item.last_error)


def test_a_5xx_refusal_fails_at_once(
    relay_app: FastAPI,
    relay: Relay,
    session: Session,
    world: World,
    client: TestClient,
) -> None:
    relay.answers = ["550 5.7.1 Message rejected as spam"]
    queued = queue_mail(session, world.conversation, T0)

    relay_app.state.worker.run_once()

    item = fresh(session, queued.item)
    error = f"127.0.0.1:{relay.port} answered 550 5.7.1 Message rejected as spam"
    assert (item.status, item.attempts, item.last_error) == ("failed", 1, error)
    assert delivery(client, world, queued) == ("failed", error)


def test_every_recipient_refused_fails_at_once(
    relay_app: FastAPI, relay: Relay, session: Session, world: World
) -> None:
    relay.refuse = {"nobody@example.com"}
    queued = queue_mail(session, world.conversation, T0, recipients=["nobody@example.com"])

    relay_app.state.worker.run_once()

    item = fresh(session, queued.item)
    assert (item.status, item.attempts) == ("failed", 1)
    assert item.last_error == (
        f"127.0.0.1:{relay.port} refused every recipient: "
        "nobody@example.com: 550 5.1.1 No such user here"
    )


def test_some_recipients_refused_still_delivers_to_the_others(
    relay_app: FastAPI, relay: Relay, session: Session, world: World
) -> None:
    relay.refuse = {"carol@example.com"}
    queued = queue_mail(session, world.conversation, T0)

    relay_app.state.worker.run_once()

    assert relay.received[0].rcpt_tos == ["paul@example.com", "secret@example.com"]
    assert fresh(session, queued.item).status == "sent"


def test_without_a_relay_mail_is_captured(
    app: FastAPI, session: Session, world: World, client: TestClient
) -> None:
    queued = queue_mail(session, world.conversation, T0)

    assert app.state.worker.run_once() == 1

    item = fresh(session, queued.item)
    assert (item.status, item.attempts, item.captured, item.sent_at) == ("sent", 1, True, T0)
    mail = parse(item.raw)
    assert (mail["Message-ID"], mail["To"], mail["Bcc"]) == (
        "<out-1@acme.test>",
        "Paul <paul@example.com>",
        None,
    )
    assert delivery(client, world, queued) == ("sent", None)
