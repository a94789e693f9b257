"""Every email message has a Message-ID (issue 16, item 1): seeded, demo, emulator-seeded and
factory-made mail get ``<uuid@domain of the account>``, replies thread to it and
``GET /v1/messages?email_message_id=`` finds it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Message
from missive_server.services.conversations.messages import MessageInput
from tests.api.drafts_support import T0, World, created, get_message, make_world
from tests.api.emulator_support import emu, emulator
from tests.conftest import bearer
from tests.factories import Factory

__all__ = ["emu", "emulator"]

GENERATED = re.compile(r"^<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}@(.+)>$")


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def _unthreaded(factory: Factory, world: World, **fields: Any) -> str:
    mail = MessageInput(
        subject="No id",
        body="<p>Imported without a Message-ID</p>",
        delivered_at=T0 - 60,
        from_field={"address": "sam@example.com"},
        to_fields=[{"address": "support@acme.test"}],
        **fields,
    )
    conversation = factory.conversation(world.org, users=[world.alice], at=T0, messages=[mail])
    message = factory.session.scalars(
        select(Message).where(Message.conversation_id == conversation.id)
    ).one()
    return message.id


def test_mail_without_a_message_id_gets_one_on_the_accounts_domain_and_threads(
    client: TestClient, factory: Factory, world: World
) -> None:
    message_id = _unthreaded(factory, world, account_id=world.support.id)

    stored = get_message(client, world.token, message_id)["email_message_id"]

    found = GENERATED.match(stored)
    assert found is not None, stored
    assert found.group(1) == "acme.test"
    listed = client.get(
        "/v1/messages", params={"email_message_id": stored}, headers=bearer(world.token)
    )
    assert [m["id"] for m in listed.json()["messages"]] == [message_id]
    conversation = factory.session.get(Message, message_id)
    assert conversation is not None
    reply = created(client, world.token, conversation=conversation.conversation_id, send=True)
    sent = get_message(client, world.token, reply["id"])
    assert (sent["in_reply_to"], sent["references"]) == ([stored], [stored])


def test_without_an_account_the_senders_domain_is_used(
    client: TestClient, factory: Factory, world: World
) -> None:
    message_id = _unthreaded(factory, world)

    stored = get_message(client, world.token, message_id)["email_message_id"]

    found = GENERATED.match(stored)
    assert found is not None
    assert found.group(1) == "example.com"


def test_sms_messages_get_no_message_id(client: TestClient, factory: Factory, world: World) -> None:
    message_id = _unthreaded(factory, world, type="sms", account_id=world.sms.id)

    assert get_message(client, world.token, message_id)["email_message_id"] is None


def test_emulator_seeded_mail_has_message_ids(emu: TestClient, session: Session) -> None:
    seeded = emu.post("/_emulator/reset", json={"seed": "demo"})
    assert seeded.status_code == 200, seeded.text
    document = {
        "organizations": [{"name": "Initech"}],
        "users": [{"email": "peter@initech.test", "organizations": {"Initech": "owner"}}],
        "conversations": [
            {
                "organization": "Initech",
                "users": ["peter@initech.test"],
                "messages": [{"subject": "Hi", "from_field": {"address": "x@client.test"}}],
            }
        ],
    }
    assert emu.post("/_emulator/seed", json=document).status_code == 200

    emails = session.scalars(select(Message).where(Message.type == "email")).all()

    assert len(emails) > 5
    assert [m.id for m in emails if not m.draft and not m.email_message_id] == []
