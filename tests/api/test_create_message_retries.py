"""POST /v1/messages with an ``external_id`` the channel already recorded (spec 2.7.1): a channel
retrying after a lost answer gets the same answer, and nothing is written a second time."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import (
    Conversation,
    Message,
    OutboxItem,
    WebEvent,
    WebhookDelivery,
)
from tests.api.drafts_support import World, account, make_world
from tests.api.hooks_support import make_hook
from tests.conftest import bearer
from tests.factories import Factory


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def form(channel_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "messages": {
            "account": channel_id,
            "subject": "Contact form",
            "body": "<p>Call me</p>",
            "from_field": {"name": "Sam", "address": "sam@example.com"},
            "to_fields": [{"address": "forms@acme.test"}],
            "external_id": "form-42",
            **fields,
        }
    }


def counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Message, Conversation, OutboxItem, WebhookDelivery, WebEvent)
    }


def test_a_retried_external_id_answers_the_first_message_and_writes_nothing(
    client: TestClient, session: Session, world: World
) -> None:
    channel = account(
        session, "custom", "Forms", org=world.org, users=[world.alice], message_type="email"
    )
    make_hook(session, world.alice, "incoming_email", org=world.org)

    first = client.post("/v1/messages", headers=bearer(world.token), json=form(channel.id))
    assert first.status_code == 201, first.json()
    after_first = counts(session)
    assert after_first["webhook_deliveries"] == 1
    assert after_first["outbox"] >= 1

    retry = client.post("/v1/messages", headers=bearer(world.token), json=form(channel.id))

    assert retry.status_code == first.status_code
    assert retry.json() == first.json()
    assert counts(session) == after_first


def test_a_retry_changes_nothing_even_with_other_actions(
    client: TestClient, session: Session, world: World
) -> None:
    channel = account(session, "custom", "Chat", org=world.org, users=[world.alice])
    first = client.post(
        "/v1/messages",
        headers=bearer(world.token),
        json=form(channel.id, subject=None, from_field={"id": "7"}, to_fields=[]),
    )
    assert first.status_code == 201, first.json()
    cid = first.json()["messages"]["conversation"]
    before = client.get(f"/v1/conversations/{cid}", headers=bearer(world.token)).json()

    retry = client.post(
        "/v1/messages",
        headers=bearer(world.token),
        json=form(channel.id, subject=None, from_field={"id": "7"}, to_fields=[], close=True),
    )

    assert (retry.status_code, retry.json()) == (201, first.json())
    after = client.get(f"/v1/conversations/{cid}", headers=bearer(world.token)).json()
    assert after == before
    assert after["conversations"][0]["messages_count"] == 1


def test_the_same_external_id_in_another_channel_is_another_message(
    client: TestClient, session: Session, world: World
) -> None:
    one = account(session, "custom", "One", org=world.org, users=[world.alice])
    two = account(session, "custom", "Two", org=world.org, users=[world.alice])
    body = {"subject": None, "from_field": {"id": "7"}, "to_fields": []}

    first = client.post("/v1/messages", headers=bearer(world.token), json=form(one.id, **body))
    other = client.post("/v1/messages", headers=bearer(world.token), json=form(two.id, **body))

    assert (first.status_code, other.status_code) == (201, 201)
    assert other.json()["messages"]["id"] != first.json()["messages"]["id"]


def test_messages_without_external_id_are_never_deduplicated(
    client: TestClient, session: Session, world: World
) -> None:
    channel = account(session, "custom", "Chat", org=world.org, users=[world.alice])
    body = {"subject": None, "from_field": {"id": "7"}, "to_fields": [], "external_id": None}

    ids = {
        client.post(
            "/v1/messages", headers=bearer(world.token), json=form(channel.id, **body)
        ).json()["messages"]["id"]
        for _ in range(2)
    }

    assert len(ids) == 2


def test_a_retry_is_checked_like_a_first_delivery(
    client: TestClient, session: Session, world: World, factory: Factory
) -> None:
    # The account check runs first: an outsider learns nothing about another channel's ids.
    channel = account(session, "custom", "Chat", org=world.org, users=[world.alice])
    body = {"subject": None, "from_field": {"id": "7"}, "to_fields": []}
    first = client.post("/v1/messages", headers=bearer(world.token), json=form(channel.id, **body))
    assert first.status_code == 201, first.json()
    other = factory.organization("Other")
    outsider = factory.user("mallory@other.test", organizations={other: "user"})

    retry = client.post(
        "/v1/messages", headers=bearer(factory.token(outsider)), json=form(channel.id, **body)
    )

    assert retry.status_code == 404
    assert retry.json() == {"error": {"message": f"Account with id '{channel.id}' does not exist"}}
