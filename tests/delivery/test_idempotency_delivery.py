"""``Idempotency-Key`` end to end (issue 14): a retried ``send: true`` draft sends one mail over
real SMTP and one webhook to a real receiver; concurrent requests with one key, served by
separate apps (each its own event loop and connections, as separate processes would be),
write once; the delivery worker removes expired keys on the injected clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db.models import IdempotencyKey, Message, OutboxItem, Post
from missive_server.settings import Settings
from tests.api.drafts_support import World, email_draft, make_world
from tests.conftest import bearer
from tests.delivery.mail_support import Relay, app_with, running
from tests.delivery.webhook_receiver import WebhookReceiver, receiver
from tests.delivery.webhook_support import make_hook
from tests.factories import Factory

__all__ = ["receiver"]  # fixture

SUBJECT = "Idempotent hello"


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running(Relay()) as started:
        yield started


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


@pytest.fixture
def relay_app(settings: Settings, clock: FrozenClock, engine: Engine, relay: Relay) -> FastAPI:
    return app_with(settings, clock, engine, smtp_url=relay.url)


def send_body(world: World) -> dict[str, Any]:
    return {"drafts": email_draft(subject=SUBJECT, send=True, organization=world.org.id)}


def keyed(token: str, key: str) -> dict[str, str]:
    return {**bearer(token), "Idempotency-Key": key}


def sent_messages(session: Session) -> int:
    session.expire_all()
    query = select(func.count()).select_from(Message).where(Message.subject == SUBJECT)
    return int(session.scalar(query) or 0)


def outbox_kinds(session: Session) -> list[str]:
    session.expire_all()
    return sorted(session.scalars(select(OutboxItem.kind)))


def test_a_retried_send_sends_one_mail_and_one_webhook(
    relay_app: FastAPI,
    relay: Relay,
    receiver: WebhookReceiver,
    session: Session,
    world: World,
) -> None:
    make_hook(session, user=world.alice, org=world.org, url=receiver.url(), type="outgoing_email")
    with TestClient(relay_app) as client:
        first = client.post("/v1/drafts", json=send_body(world), headers=keyed(world.token, "s1"))
        retries = [
            client.post("/v1/drafts", json=send_body(world), headers=keyed(world.token, "s1"))
            for _ in range(2)
        ]
        relay_app.state.worker.run_once()

    assert first.status_code == 201, first.text
    for retry in retries:
        assert (retry.status_code, retry.content) == (201, first.content)
        assert retry.headers["Idempotent-Replayed"] == "true"
    assert sent_messages(session) == 1
    assert outbox_kinds(session) == ["mail", "webhook"]
    assert len(relay.received) == 1
    assert relay.received[0].rcpt_tos == ["paul@example.com"]
    assert len(receiver.requests) == 1


def test_concurrent_requests_with_one_key_write_once(
    settings: Settings, clock: FrozenClock, session: Session, world: World
) -> None:
    """Six apps on one database fire the same keyed send at once: one runs it, the others get
    its answer replayed or a 409 while it runs; one message and one mail row in any case."""
    apps = [create_app(settings, clock=clock) for _ in range(6)]
    barrier = threading.Barrier(len(apps))
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def fire(app: FastAPI) -> None:
        with TestClient(app) as client:
            barrier.wait()
            response = client.post(
                "/v1/drafts", json=send_body(world), headers=keyed(world.token, "race")
            )
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=fire, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for app in apps:
        app.state.engine.dispose()

    statuses = sorted(r.status_code for r in responses)
    assert len(responses) == 6
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    originals = [r for r in created if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1, statuses
    assert {r.content for r in created} == {originals[0].content}
    assert sent_messages(session) == 1
    assert outbox_kinds(session) == ["mail"]


def test_the_worker_removes_expired_keys_and_an_expired_key_runs_again(
    app: FastAPI, client: TestClient, clock: FrozenClock, session: Session, factory: Factory
) -> None:
    org = factory.organization()
    _, token = factory.member(org, "admin")
    ttl = app.state.settings.idempotency_ttl_seconds
    body = {"posts": {"notification": {"title": "t", "body": "b"}, "text": "first"}}
    other = {"posts": {"notification": {"title": "t", "body": "b"}, "text": "second"}}
    for key in ("kept", "dropped"):
        assert client.post("/v1/posts", json=body, headers=keyed(token, key)).status_code == 201

    clock.advance(ttl - 1)
    app.state.worker.run_once()
    assert keys(session) == ["dropped", "kept"]
    alive = client.post("/v1/posts", json=other, headers=keyed(token, "kept"))
    clock.advance(1)
    expired = client.post("/v1/posts", json=other, headers=keyed(token, "kept"))
    clock.advance(60)
    app.state.worker.run_once()

    assert alive.status_code == 422
    assert expired.status_code == 201
    assert "idempotent-replayed" not in expired.headers
    assert keys(session) == ["kept"]  # renewed by the request after expiry; "dropped" removed
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Post)) == 3


def keys(session: Session) -> list[str]:
    session.expire_all()
    return sorted(session.scalars(select(IdempotencyKey.key)))
