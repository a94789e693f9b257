"""Sent messages of every channel fire their outgoing rule type, as sent email fires
``outgoing_email`` (spec 3.3: ``outgoing_sms_message`` observed; the other channels mirror their
incoming names)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from tests.api.drafts_support import SMS_NUMBER, World, account, make_world, post_draft
from tests.api.hooks_support import bodies_for, make_hook, rest_conversation, rest_message, rule
from tests.factories import Factory

PHONE_TO = {"to_fields": [{"phone_number": "+13306795612"}]}


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def send(client: TestClient, world: World, **fields: Any) -> dict[str, Any]:
    body = {"drafts": {"body": "We open at 9", **fields}}
    response = post_draft(client, world.token, body)
    assert response.status_code == 201, response.json()
    sent: dict[str, Any] = response.json()["drafts"]
    return sent


CHANNELS: list[tuple[str, str, dict[str, Any]]] = [
    ("outgoing_sms_message", "sms", {"from_field": {"phone_number": SMS_NUMBER}, **PHONE_TO}),
    (
        "outgoing_whatsapp_message",
        "whatsapp",
        {"from_field": {"phone_number": SMS_NUMBER, "type": "twilio_whatsapp"}, **PHONE_TO},
    ),
    ("outgoing_facebook_message", "messenger", {"to_fields": [{"id": "1736313053102918"}]}),
    ("outgoing_facebook_message", "instagram", {"to_fields": [{"id": "1736313053102918"}]}),
    ("outgoing_twilio_chat_message", "live_chat", {"to_fields": [{"id": "7"}]}),
]


@pytest.mark.parametrize(("event", "channel", "fields"), CHANNELS)
def test_a_sent_channel_draft_fires_its_outgoing_type(
    client: TestClient,
    session: Session,
    world: World,
    event: str,
    channel: str,
    fields: dict[str, Any],
) -> None:
    hook = make_hook(session, world.alice, event, org=world.org, content_contains="open at 9")
    others = [
        make_hook(session, world.alice, kind, org=world.org)
        for kind in ("outgoing_email", "incoming_sms_message", "incoming_facebook_message")
    ]
    if "from_field" not in fields:
        fields = {"account": getattr(world, channel).id, **fields}

    sent = send(client, world, send=True, **fields)

    (body,) = bodies_for(session, hook)
    assert body == {
        "rule": rule(hook),
        "conversation": rest_conversation(client, world.token, sent["conversation"]),
        "message": rest_message(client, world.token, sent["conversation"], sent["id"]),
    }
    assert (body["message"]["type"], body["message"]["author"]["id"]) == (channel, world.alice.id)
    assert [bodies_for(session, other) for other in others] == [[], [], []]


def test_a_scheduled_sms_fires_when_the_worker_sends_it(
    client: TestClient, session: Session, world: World, clock: FrozenClock, app: Any
) -> None:
    hook = make_hook(session, world.alice, "outgoing_sms_message", org=world.org)
    draft = send(
        client,
        world,
        from_field={"phone_number": SMS_NUMBER},
        send_at=clock.now() + 60,
        **PHONE_TO,
    )
    assert bodies_for(session, hook) == []

    clock.advance(60)
    app.state.worker.run_once()

    (body,) = bodies_for(session, hook)
    assert body["message"] == rest_message(client, world.token, draft["conversation"], draft["id"])


def test_an_unsent_channel_draft_fires_nothing(
    client: TestClient, session: Session, world: World
) -> None:
    hook = make_hook(session, world.alice, "outgoing_sms_message", org=world.org)
    send(client, world, from_field={"phone_number": SMS_NUMBER}, **PHONE_TO)
    assert bodies_for(session, hook) == []


def test_custom_channels_follow_their_message_type(
    client: TestClient, session: Session, world: World
) -> None:
    # As for incoming messages: an email-type custom channel sends email, a text one has no
    # Missive hook type (its own outgoing webhook, spec 3.4, is the channel's delivery).
    emails = make_hook(session, world.alice, "outgoing_email", org=world.org)
    forms = account(
        session, "custom", "Forms", org=world.org, users=[world.alice], message_type="email"
    )
    to = [{"address": "sam@example.com"}]

    by_email = send(client, world, account=forms.id, subject="Hi", to_fields=to, send=True)
    send(client, world, account=world.custom.id, to_fields=[{"id": "7"}], send=True)

    (body,) = bodies_for(session, emails)
    assert body["message"]["id"] == by_email["id"]
