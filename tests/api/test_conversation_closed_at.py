"""``conversations.closed_at``: when a conversation was closed for everyone (spec 1B ``close``),
cleared by whatever reopens it. Internal (analytics resolution times), never on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Account, Conversation, Organization, Team, User
from missive_server.ids import new_id
from tests.conftest import bearer
from tests.factories import Factory

T0 = 1_700_000_000
NOTE = {"title": "A title", "body": "A body"}


@dataclass
class World:
    org: Organization
    alice: User
    token: str
    team: Team
    channel: Account
    conversation: Conversation


@pytest.fixture
def world(factory: Factory, session: Session) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    team = factory.team(org, "Support", active=[bob])
    channel = Account(
        id=new_id(),
        type="custom",
        name="Channel",
        organization_id=org.id,
        message_type="custom_text",
        created_at=T0,
    )
    session.add(channel)
    session.commit()
    conversation = factory.conversation(org, users=[alice], team=team, at=T0)
    return World(org, alice, factory.token(alice), team, channel, conversation)


def patch(client: TestClient, world: World, **changes: Any) -> None:
    body = {"conversations": [{"id": world.conversation.id, **changes}]}
    response = client.patch(
        f"/v1/conversations/{world.conversation.id}", json=body, headers=bearer(world.token)
    )
    assert response.status_code == 200, response.json()


def post(client: TestClient, world: World, **fields: Any) -> None:
    body = {"posts": {"notification": NOTE, "text": "Hi", **fields}}
    response = client.post("/v1/posts", json=body, headers=bearer(world.token))
    assert response.status_code == 201, response.json()


def channel_message(client: TestClient, world: World, **fields: Any) -> str:
    body = {"messages": {"from_field": {"id": "1", "name": "P"}, "body": "Hi", **fields}}
    response = client.post("/v1/messages", json=body, headers=bearer(world.token))
    assert response.status_code == 201, response.json()
    cid: str = response.json()["messages"]["conversation"]
    return cid


def closed_at(session: Session, conversation_id: str) -> int | None:
    session.expire_all()
    return session.get_one(Conversation, conversation_id).closed_at


def test_patch_close_records_the_first_close_and_reopen_clears_it(
    client: TestClient, session: Session, clock: FrozenClock, world: World
) -> None:
    cid = world.conversation.id
    assert closed_at(session, cid) is None
    clock.advance(100)
    patch(client, world, close=True)
    assert closed_at(session, cid) == T0 + 100

    clock.advance(50)
    patch(client, world, close=True)  # closing again keeps the resolution time
    assert closed_at(session, cid) == T0 + 100

    patch(client, world, reopen=True)
    assert closed_at(session, cid) is None
    clock.advance(10)
    patch(client, world, close=True)  # a new close after a reopen counts from now
    assert closed_at(session, cid) == T0 + 160
    # PATCH is silent: closing does not move the activity time.
    session.expire_all()
    assert session.get_one(Conversation, cid).last_activity_at == T0


@pytest.mark.parametrize(
    "changes", [{"add_to_inbox": True}, {"team": "<team>", "add_to_team_inbox": True}]
)
def test_moving_back_to_an_inbox_clears_it(
    client: TestClient, session: Session, world: World, changes: dict[str, Any]
) -> None:
    patch(client, world, close=True)
    assert closed_at(session, world.conversation.id) == T0
    if "team" in changes:
        changes = changes | {"team": world.team.id, "organization": world.org.id}

    patch(client, world, **changes)

    assert closed_at(session, world.conversation.id) is None


def test_close_wins_over_add_to_inbox_in_the_same_request(
    client: TestClient, session: Session, world: World
) -> None:
    patch(client, world, close=True, add_to_inbox=True, reopen=True)

    assert closed_at(session, world.conversation.id) == T0


def test_other_changes_keep_it(client: TestClient, session: Session, world: World) -> None:
    patch(client, world, close=True)

    patch(client, world, subject="Renamed", color="#ff0000")

    assert closed_at(session, world.conversation.id) == T0


def test_posts_close_reopen_and_keep_closed(
    client: TestClient, session: Session, clock: FrozenClock, world: World
) -> None:
    cid = world.conversation.id
    clock.advance(30)
    post(client, world, conversation=cid, close=True)
    assert closed_at(session, cid) == T0 + 30

    clock.advance(30)
    post(client, world, conversation=cid, reopen=True)  # a post's reopen: true keeps it closed
    assert closed_at(session, cid) == T0 + 30

    post(client, world, conversation=cid)  # a post reopens by default
    assert closed_at(session, cid) is None


def test_channel_messages_close_and_a_reply_reopens(
    client: TestClient, session: Session, clock: FrozenClock, world: World
) -> None:
    channel = world.channel.id
    cid = channel_message(client, world, account=channel, external_id="m1", close=True)
    assert closed_at(session, cid) == T0

    clock.advance(60)
    channel_message(client, world, account=channel, references=["m1"], add_to_inbox=False)
    assert closed_at(session, cid) is None  # reopened (the team's / others' inbox)

    channel_message(client, world, account=channel, references=["m1"], close=True)
    assert closed_at(session, cid) == T0 + 60


def test_a_reply_that_stays_out_of_every_inbox_keeps_it(
    client: TestClient, session: Session, world: World
) -> None:
    channel = world.channel.id
    cid = channel_message(client, world, account=channel, external_id="m1", close=True)

    channel_message(
        client,
        world,
        account=channel,
        references=["m1"],
        add_to_inbox=False,
        add_to_team_inbox=False,
    )

    assert closed_at(session, cid) == T0


def test_closed_at_is_not_on_the_wire(client: TestClient, world: World) -> None:
    patch(client, world, close=True)

    response = client.get(f"/v1/conversations/{world.conversation.id}", headers=bearer(world.token))

    found = response.json()["conversations"][0]
    assert "closed_at" not in found
    assert "closed_at" not in response.text
