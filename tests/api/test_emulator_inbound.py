"""``POST /_emulator/inbound``: JSON fields or raw RFC 5322 text, stored exactly as the SMTP
listener stores mail (compared against a real SMTP delivery over loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.delivery.inbound import InboundServer
from tests.api.emulator_support import emu, emulator
from tests.conftest import bearer
from tests.delivery.test_inbound import World, send
from tests.factories import Factory
from tests.serve_support import free_port
from tests.services.inbound_mail import email_account, mail

__all__ = ["emu", "emulator"]

T0 = 1_700_000_000


@pytest.fixture
def world(factory: Factory, session: Session) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", name="Alice Smith", organizations={org: "user"})
    team = factory.team(org, "Support", active=[alice])
    support = email_account(session, "support@acme.test", org=org, team=team)
    return World(org, alice, team, support, factory.token(alice))


@pytest.fixture
def listener(emulator: FastAPI, clock: FrozenClock) -> Iterator[InboundServer]:
    with InboundServer(emulator.state.session_factory, clock, "127.0.0.1", free_port()) as server:
        yield server


def get(client: TestClient, token: str, path: str) -> Any:
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def stored(client: TestClient, world: World, message_id: str) -> dict[str, Any]:
    """The message and its conversation as the API shows them, ids left out."""
    message = get(client, world.token, f"/v1/messages/{message_id}")["messages"]
    conversation = get(client, world.token, f"/v1/conversations/{message['conversation']['id']}")
    [conv] = conversation["conversations"]
    cid = conv.pop("id")
    message.pop("id")
    message.pop("email_message_id")
    for shown in (conv, message["conversation"]):
        shown.pop("id", None)
        for url in ("web_url", "app_url"):
            if url in shown:
                shown[url] = shown[url].replace(cid, "<id>")
    return {"message": message, "conversation": conv}


def team_inbox(client: TestClient, world: World) -> list[dict[str, Any]]:
    listed = get(client, world.token, f"/v1/conversations?team_inbox={world.team.id}")
    conversations: list[dict[str, Any]] = listed["conversations"]
    return conversations


def test_raw_mail_is_stored_like_smtp_mail(
    emu: TestClient, world: World, listener: InboundServer
) -> None:
    assert send(listener, mail(date=T0 - 60), ["support@acme.test"]) == (250, b"OK")
    [by_smtp] = team_inbox(emu, world)
    [smtp_message] = get(emu, world.token, f"/v1/conversations/{by_smtp['id']}/messages")[
        "messages"
    ]

    raw = mail(date=T0 - 60, message_id="<second@example.com>").decode()
    response = emu.post("/_emulator/inbound", json={"raw": raw})

    assert response.status_code == 200, response.text
    [delivery] = response.json()["deliveries"]
    assert delivery["account"] == world.support.id
    assert (delivery["created"], delivery["duplicate"]) == (True, False)
    assert response.json()["unknown_recipients"] == []
    assert len(team_inbox(emu, world)) == 2
    assert stored(emu, world, delivery["message"]) == stored(emu, world, smtp_message["id"])
    assert (
        get(emu, world.token, f"/v1/messages/{delivery['message']}")["messages"]["email_message_id"]
        == "<second@example.com>"
    )


def test_json_fields_become_real_mime_stored_like_smtp_mail(
    emu: TestClient, world: World, listener: InboundServer, clock: FrozenClock
) -> None:
    raw = mail(date=clock.now(), text="Hello there", html="<p>Hello <b>there</b></p>")
    assert send(listener, raw, ["support@acme.test"]) == (250, b"OK")
    [by_smtp] = team_inbox(emu, world)
    [smtp_message] = get(emu, world.token, f"/v1/conversations/{by_smtp['id']}/messages")[
        "messages"
    ]

    response = emu.post(
        "/_emulator/inbound",
        json={
            "from": "Sam <sam@example.com>",
            "to": ["support@acme.test"],
            "subject": "Help",
            "text": "Hello there",
            "html": "<p>Hello <b>there</b></p>",
        },
    )

    assert response.status_code == 200, response.text
    [delivery] = response.json()["deliveries"]
    assert stored(emu, world, delivery["message"]) == stored(emu, world, smtp_message["id"])


def test_a_json_reply_threads_into_the_conversation(emu: TestClient, world: World) -> None:
    first = emu.post(
        "/_emulator/inbound",
        json={
            "from": "sam@example.com",
            "to": ["support@acme.test"],
            "subject": "Help",
            "text": "One",
            "message_id": "<one@example.com>",
        },
    ).json()["deliveries"][0]
    reply = emu.post(
        "/_emulator/inbound",
        json={
            "from": "sam@example.com",
            "to": ["support@acme.test"],
            "subject": "Re: Help",
            "text": "Two",
            "in_reply_to": "<one@example.com>",
        },
    ).json()["deliveries"][0]

    assert reply["conversation"] == first["conversation"]
    assert reply["created"] is False
    messages = get(emu, world.token, f"/v1/conversations/{first['conversation']}/messages")
    assert len(messages["messages"]) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"from": "sam@example.com", "to": ["nobody@acme.test"], "text": "x"},
            "No account receives mail for nobody@acme.test (the SMTP listener answers 550)",
        ),
        ({"raw": "not a message at all"}, "raw: not an RFC 5322 message"),
        ({"to": ["support@acme.test"]}, "give 'from' and 'to', or 'raw'"),
        ({"from": "sam@example.com"}, "give at least one 'to' address"),
        (
            {"raw": "Subject: hi\r\n\r\nno recipients\r\n"},
            "No recipient: give 'to' addresses (the message has no To or Cc)",
        ),
    ],
)
def test_bad_inbound_requests_are_400(
    emu: TestClient, world: World, body: dict[str, Any], message: str
) -> None:
    response = emu.post("/_emulator/inbound", json=body)

    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]
    assert team_inbox(emu, world) == []
