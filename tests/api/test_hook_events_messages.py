"""Message events (spec 2.15, 3.3): inbound email, POST /v1/messages, seeded channel messages
and sent mail queue one webhook per matching hook, with the documented payload."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Conversation, Message
from missive_server.services.inbound.inbound import receive_email
from missive_server.services.seed.seed import parse_document, seed
from tests.api.drafts_support import World, account, created, make_world
from tests.api.hooks_support import (
    bodies_for,
    make_hook,
    rest_conversation,
    rest_message,
    rule,
    webhooks,
)
from tests.conftest import bearer
from tests.factories import Factory
from tests.services import inbound_mail


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def mail(subject: str = "Help", **fields: Any) -> bytes:
    """A new thread by default (the world's conversation already has ``<first@example.com>``)."""
    fields.setdefault("message_id", "<new-1@example.com>")
    return inbound_mail.mail(subject, **fields)


def receive(session: Session, clock: FrozenClock, raw: bytes) -> Message:
    result = receive_email(session, raw, ["support@acme.test"], now=clock.now())
    session.commit()
    found = session.get(Message, result.deliveries[0].message_id)
    assert found is not None
    return found


def test_incoming_email_payload_is_rule_conversation_and_message(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    hook = make_hook(session, world.alice, "incoming_email", org=world.org)

    message = receive(session, clock, mail("Refund", text="Please refund order 12"))

    (body,) = bodies_for(session, hook)
    cid = message.conversation_id
    assert body == {
        "rule": rule(hook),
        "conversation": rest_conversation(client, world.token, cid),
        "message": rest_message(client, world.token, cid, message.id),
    }
    assert "body" not in body["message"]
    assert body["message"]["subject"] == "Refund"
    assert body["conversation"]["created_at"] == clock.now()
    assert webhooks(session)[0][1] == "incoming_email"


@pytest.mark.parametrize(
    ("filters", "fires"),
    [
        ({"from_eq": "SAM@example.com"}, True),
        ({"from_eq": "other@example.com"}, False),
        ({"subject_contains": "REFUND"}, True),
        ({"subject_contains": "invoice"}, False),
        ({"content_contains": "order 12"}, True),
        ({"content_contains": "order 13"}, False),
        ({"content_starts_with": "please"}, True),
        ({"content_starts_with": "refund"}, False),
        ({"content_ends_with": "ORDER 12"}, True),
        ({"content_ends_with": "please"}, False),
        ({"from_eq": "sam@example.com", "subject_contains": "invoice"}, False),
    ],
)
def test_incoming_email_filters(
    session: Session, world: World, clock: FrozenClock, filters: dict[str, Any], fires: bool
) -> None:
    hook = make_hook(session, world.alice, "incoming_email", org=world.org, **filters)

    receive(session, clock, mail("Refund", html="<p>Please <b>refund</b></p><p>order 12</p>"))

    assert len(bodies_for(session, hook)) == (1 if fires else 0)


def test_only_the_event_type_and_enabled_hooks_fire(
    session: Session, world: World, clock: FrozenClock
) -> None:
    sms = make_hook(session, world.alice, "incoming_sms_message", org=world.org)
    disabled = make_hook(session, world.alice, "incoming_email", org=world.org)
    disabled.enabled = False
    session.commit()

    receive(session, clock, mail())

    assert bodies_for(session, sms) == bodies_for(session, disabled) == []


def test_personal_and_foreign_hooks(
    client: TestClient, factory: Factory, session: Session, world: World, clock: FrozenClock
) -> None:
    """The support account is shared with Alice only: her personal hook fires, Bob's does not;
    another organization's hook never does, even for its own member."""
    mine = make_hook(session, world.alice, "incoming_email")
    bobs = make_hook(session, world.bob, "incoming_email")
    globex = factory.organization("Globex Two")
    gus = factory.user("gus@globex.test", organizations={globex: "owner"})
    foreign = make_hook(session, gus, "incoming_email", org=globex)

    message = receive(session, clock, mail())

    (body,) = bodies_for(session, mine)
    assert body["conversation"] == rest_conversation(client, world.token, message.conversation_id)
    assert bodies_for(session, bobs) == bodies_for(session, foreign) == []


def test_a_guests_personal_hook_gets_the_guest_conversation(
    client: TestClient, factory: Factory, session: Session, world: World, clock: FrozenClock
) -> None:
    """A user outside the organization with access (a guest) sees ``{id, last_activity_at}``
    (spec 1.10), in the webhook as over REST."""
    guest = factory.user("guest@outside.test")
    world.support.owner_id = None
    session.commit()
    from missive_server.db.models import AccountUser

    session.add(AccountUser(account_id=world.support.id, user_id=guest.id))
    session.commit()
    hook = make_hook(session, guest, "incoming_email")

    message = receive(session, clock, mail())

    (body,) = bodies_for(session, hook)
    guest_token = factory.token(guest)
    assert body["conversation"] == rest_conversation(client, guest_token, message.conversation_id)
    assert body["conversation"] == {"id": message.conversation_id, "last_activity_at": clock.now()}


def test_a_duplicate_email_fires_nothing(
    session: Session, world: World, clock: FrozenClock
) -> None:
    hook = make_hook(session, world.alice, "incoming_email", org=world.org)
    receive(session, clock, mail())
    receive(session, clock, mail())
    assert len(bodies_for(session, hook)) == 1


def test_a_reply_fires_with_the_conversation_after_it(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    hook = make_hook(session, world.alice, "incoming_email", org=world.org)
    receive(session, clock, mail())
    clock.advance(60)
    reply = receive(
        session,
        clock,
        mail("Re: Help", message_id="<new-2@example.com>", in_reply_to="<new-1@example.com>"),
    )

    first, second = bodies_for(session, hook)
    assert first["conversation"]["messages_count"] == 1
    assert second["conversation"] == rest_conversation(client, world.token, reply.conversation_id)
    assert second["conversation"]["messages_count"] == 2
    assert second["message"]["id"] == reply.id


def test_post_messages_to_an_email_type_custom_channel_is_incoming_email(
    client: TestClient, session: Session, world: World
) -> None:
    channel = account(session, "custom", "Forms", org=world.org, users=[world.alice])
    channel.message_type = "email"
    session.commit()
    hook = make_hook(session, world.alice, "incoming_email", org=world.org, subject_contains="form")
    text_hook = make_hook(session, world.alice, "incoming_email", org=world.org)

    response = client.post(
        "/v1/messages",
        headers=bearer(world.token),
        json={
            "messages": {
                "account": channel.id,
                "subject": "Contact form",
                "body": "<p>Call me</p>",
                "from_field": {"name": "Sam", "address": "sam@example.com"},
                "to_fields": [{"address": "forms@acme.test"}],
            }
        },
    )

    assert response.status_code == 201, response.json()
    ids = response.json()["messages"]
    (body,) = bodies_for(session, hook)
    assert body == {
        "rule": rule(hook),
        "conversation": rest_conversation(client, world.token, ids["conversation"]),
        "message": rest_message(client, world.token, ids["conversation"], ids["id"]),
    }
    assert len(bodies_for(session, text_hook)) == 1


def test_post_messages_to_a_text_custom_channel_fires_no_hook_type(
    client: TestClient, session: Session, world: World
) -> None:
    for kind in ("incoming_email", "incoming_sms_message", "incoming_twilio_chat_message"):
        make_hook(session, world.alice, kind, org=world.org)
    response = client.post(
        "/v1/messages",
        headers=bearer(world.token),
        json={"messages": {"account": world.custom.id, "body": "Hi", "from_field": {"id": "1"}}},
    )
    assert response.status_code == 201, response.json()
    assert webhooks(session) == []


CHANNELS = [
    ("Acme SMS", "incoming_sms_message", "sms"),
    ("Acme WhatsApp", "incoming_whatsapp_message", "whatsapp"),
    ("Acme Messenger", "incoming_facebook_message", "messenger"),
    ("Acme Instagram", "incoming_facebook_message", "instagram"),
    ("Acme Chat", "incoming_twilio_chat_message", "live_chat"),
]


@pytest.mark.parametrize(("account_name", "event", "message_type"), CHANNELS)
def test_seeded_channel_messages_fire_their_incoming_type(
    client: TestClient,
    session: Session,
    world: World,
    clock: FrozenClock,
    account_name: str,
    event: str,
    message_type: str,
) -> None:
    hook = make_hook(session, world.alice, event, org=world.org, content_contains="geraldine")
    emails = make_hook(session, world.alice, "incoming_email", org=world.org)
    document = {
        "organizations": [{"name": "Acme"}],
        "conversations": [
            {
                "key": f"seeded-{message_type}",
                "organization": "Acme",
                "account": account_name,
                "users": ["alice@acme.test"],
                "messages": [
                    {
                        "from_field": {"name": "Kate", "phone_number": "+13306795612"},
                        "body": "30740 GERALDINE ST",
                        "delivered_at": clock.now(),
                    },
                    {"author": "alice@acme.test", "body": "Thanks!", "delivered_at": clock.now()},
                ],
            }
        ],
    }

    seed(session, parse_document(document), now=clock.now())
    session.commit()

    (body,) = bodies_for(session, hook)
    cid = body["conversation"]["id"]
    incoming = session.scalars(
        select(Message).where(Message.conversation_id == cid, Message.author_id.is_(None))
    ).one()
    assert body == {
        "rule": rule(hook),
        "conversation": rest_conversation(client, world.token, cid),
        "message": rest_message(client, world.token, cid, incoming.id),
    }
    assert (body["message"]["type"], body["message"]["author"]) == (message_type, None)
    assert bodies_for(session, emails) == []


def test_sending_a_draft_is_outgoing_email(
    client: TestClient, session: Session, world: World
) -> None:
    hook = make_hook(session, world.alice, "outgoing_email", org=world.org)
    incoming = make_hook(session, world.alice, "incoming_email", org=world.org)

    sent = created(client, world.token, send=True, organization=world.org.id)

    (body,) = bodies_for(session, hook)
    conversation = session.get(Conversation, sent["conversation"])
    assert conversation is not None
    assert body == {
        "rule": rule(hook),
        "conversation": rest_conversation(client, world.token, conversation.id),
        "message": rest_message(client, world.token, conversation.id, sent["id"]),
    }
    assert body["conversation"]["messages_count"] == 1
    assert bodies_for(session, incoming) == []


def test_a_draft_not_sent_fires_nothing(client: TestClient, session: Session, world: World) -> None:
    make_hook(session, world.alice, "outgoing_email", org=world.org)
    created(client, world.token, organization=world.org.id)
    assert webhooks(session) == []


def test_a_scheduled_draft_fires_when_the_worker_sends_it(
    client: TestClient, session: Session, world: World, clock: FrozenClock, app: Any
) -> None:
    hook = make_hook(session, world.alice, "outgoing_email", org=world.org)
    draft = created(client, world.token, send_at=clock.now() + 600, organization=world.org.id)
    assert bodies_for(session, hook) == []

    clock.advance(600)
    app.state.worker.run_once()

    (body,) = bodies_for(session, hook)
    assert body["message"] == rest_message(client, world.token, draft["conversation"], draft["id"])


def test_a_reply_to_a_closed_conversation_reopens_it(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    reopened = make_hook(session, world.alice, "conversation_reopened", org=world.org)
    first = receive(session, clock, mail())
    client.patch(
        f"/v1/conversations/{first.conversation_id}",
        headers=bearer(world.token),
        json={"conversations": [{"id": first.conversation_id, "close": True}]},
    )
    clock.advance(60)

    reply = receive(
        session,
        clock,
        mail("Re: Help", message_id="<new-2@example.com>", in_reply_to="<new-1@example.com>"),
    )

    (body,) = bodies_for(session, reopened)
    cid = reply.conversation_id
    assert body == {
        "rule": rule(reopened),
        "conversation": rest_conversation(client, world.token, cid),
        "latest_message": rest_message(client, world.token, cid, reply.id),
    }
    clock.advance(60)
    receive(
        session,
        clock,
        mail("Re: Help", message_id="<new-3@example.com>", in_reply_to="<new-2@example.com>"),
    )
    assert len(bodies_for(session, reopened)) == 1  # it was open: nothing to reopen


def test_a_sent_draft_with_labels_fires_both_with_the_final_conversation(
    client: TestClient, factory: Factory, session: Session, world: World
) -> None:
    label = factory.shared_label(world.org, "Sent")
    labels = make_hook(session, world.alice, "label_change", org=world.org)
    outgoing = make_hook(session, world.alice, "outgoing_email", org=world.org)

    sent = created(
        client, world.token, send=True, organization=world.org.id, add_shared_labels=[label.id]
    )

    cid = sent["conversation"]
    final = rest_conversation(client, world.token, cid)
    (label_body,) = bodies_for(session, labels)
    (sent_body,) = bodies_for(session, outgoing)
    assert label_body == {
        "rule": rule(labels),
        "conversation": final,
        "latest_message": rest_message(client, world.token, cid, sent["id"]),
    }
    assert sent_body["conversation"] == final
    assert (final["messages_count"], final["shared_label_names"]) == (1, "Sent")


def test_post_messages_with_actions_fires_the_change_events(
    client: TestClient, session: Session, world: World
) -> None:
    closed = make_hook(session, world.alice, "conversation_closed", org=world.org)
    response = client.post(
        "/v1/messages",
        headers=bearer(world.token),
        json={
            "messages": {
                "account": world.custom.id,
                "body": "Hi",
                "from_field": {"id": "1"},
                "close": True,
            }
        },
    )
    assert response.status_code == 201, response.json()
    ids = response.json()["messages"]
    (body,) = bodies_for(session, closed)
    assert body == {
        "rule": rule(closed),
        "conversation": rest_conversation(client, world.token, ids["conversation"]),
        "latest_message": rest_message(client, world.token, ids["conversation"], ids["id"]),
    }
