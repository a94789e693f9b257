"""SMS and WhatsApp conversations thread by the phone-number pair (spec 1A: ``references`` like
``["+13306795612+18336856203"]``, the other party's number then the account's)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.services.conversations.messages import MessageInput
from tests.api.drafts_support import (
    SMS_NUMBER,
    T0,
    World,
    get_conversation,
    get_message,
    make_world,
    post_draft,
)
from tests.factories import Factory

CUSTOMER = "+13306795612"
PAIR = f"{CUSTOMER}{SMS_NUMBER}"


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def send(client: TestClient, world: World, to: str = CUSTOMER, **fields: Any) -> dict[str, Any]:
    body = {
        "body": "Your order shipped",
        "from_field": {"phone_number": SMS_NUMBER},
        "to_fields": [{"phone_number": to}],
        "send": True,
        **fields,
    }
    response = post_draft(client, world.token, {"drafts": body})
    assert response.status_code == 201, response.json()
    sent: dict[str, Any] = response.json()["drafts"]
    return sent


def test_a_second_message_to_the_same_number_lands_in_the_same_conversation(
    client: TestClient, world: World
) -> None:
    first = send(client, world)
    second = send(client, world, body="And it arrived")

    assert second["conversation"] == first["conversation"]
    assert get_conversation(client, world.token, first["conversation"])["messages_count"] == 2
    assert get_message(client, world.token, first["id"])["references"] == [PAIR]
    assert get_message(client, world.token, second["id"])["references"] == [PAIR]


def test_another_number_is_another_conversation(client: TestClient, world: World) -> None:
    first = send(client, world)
    other = send(client, world, to="+15145550142")

    assert other["conversation"] != first["conversation"]
    message = get_message(client, world.token, other["id"])
    assert message["references"] == [f"+15145550142{SMS_NUMBER}"]


def test_whatsapp_on_the_same_numbers_keeps_its_own_conversation(
    client: TestClient, world: World
) -> None:
    # The world's SMS and WhatsApp accounts share one number: the pair alone would merge them.
    sms = send(client, world)
    whatsapp = send(
        client, world, from_field={"phone_number": SMS_NUMBER, "type": "twilio_whatsapp"}
    )
    again = send(client, world, from_field={"phone_number": SMS_NUMBER, "type": "twilio_whatsapp"})

    assert whatsapp["type"] == "whatsapp"
    assert whatsapp["conversation"] != sms["conversation"]
    assert again["conversation"] == whatsapp["conversation"]


def test_a_reply_to_a_received_sms_lands_in_its_conversation(
    client: TestClient, world: World, factory: Factory
) -> None:
    received = MessageInput(
        type="sms",
        body="30740 GERALDINE ST",
        from_field={"name": "Kate", "phone_number": CUSTOMER},
        to_fields=[{"name": "Acme SMS", "phone_number": SMS_NUMBER}],
        external_id="SM46442ca2",
        delivered_at=T0,
        account_id=world.sms.id,
    )
    conversation = factory.conversation(world.org, users=[world.alice], messages=[received])

    reply = send(client, world)

    assert reply["conversation"] == conversation.id
    messages = client.get(
        f"/v1/conversations/{conversation.id}/messages",
        headers={"Authorization": f"Bearer {world.token}"},
    ).json()["messages"]
    assert [m["references"] for m in messages] == [[PAIR], [PAIR]]


def test_the_conversation_and_references_given_win_over_the_pair(
    client: TestClient, world: World
) -> None:
    by_pair = send(client, world)

    named = send(client, world, conversation=world.conversation.id)
    referenced = send(client, world, references=["<first@example.com>"])

    assert named["conversation"] == world.conversation.id
    assert referenced["conversation"] == world.conversation.id
    assert by_pair["conversation"] != world.conversation.id
    assert get_message(client, world.token, referenced["id"])["references"] == [
        "<first@example.com>",
        PAIR,
    ]


def test_a_conversation_the_sender_cannot_see_is_not_joined(
    client: TestClient, world: World, session: Session, factory: Factory
) -> None:
    received = MessageInput(
        type="sms",
        body="Hello?",
        from_field={"name": "Kate", "phone_number": CUSTOMER},
        delivered_at=T0,
        account_id=world.sms.id,
    )
    hidden = factory.conversation(world.org, users=[world.bob], messages=[received])

    reply = send(client, world)

    assert reply["conversation"] != hidden.id
