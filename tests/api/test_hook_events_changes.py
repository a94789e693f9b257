"""Conversation-change events (extension types, spec 3.3): labels, close/reopen, assignees and
team through PATCH /v1/conversations and POST /v1/posts; only real changes fire, the payload
shows the conversation after the change, and a failed change fires nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Message
from missive_server.schemas.conversation_actions import ConversationActions
from missive_server.services.conversations import conversation_actions
from missive_server.services.directory.principals import principal_for_user
from tests.api.hooks_support import (
    T0,
    World,
    bodies_for,
    make_hook,
    make_world,
    new_bodies_for,
    rest_conversation,
    rest_message,
    rule,
    webhooks,
)
from tests.conftest import bearer, count_queries
from tests.factories import Factory

NOTE = {"title": "Synced", "body": "From the CRM"}


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def patch(client: TestClient, world: World, **changes: Any) -> None:
    body = {"conversations": [{"id": world.conversation.id, **changes}]}
    response = client.patch(
        f"/v1/conversations/{world.conversation.id}", json=body, headers=bearer(world.token)
    )
    assert response.status_code == 200, response.json()


def latest(session: Session, world: World) -> Message:
    found = session.query(Message).filter_by(conversation_id=world.conversation.id).one()
    return found


def expected(
    client: TestClient, session: Session, world: World, hook: Any, event: str
) -> dict[str, Any]:
    cid = world.conversation.id
    return {
        "rule": rule(hook, event),
        "conversation": rest_conversation(client, world.token, cid),
        "latest_message": rest_message(client, world.token, cid, latest(session, world).id),
    }


def test_label_change_by_patch(
    client: TestClient, factory: Factory, session: Session, world: World
) -> None:
    other = factory.shared_label(world.org, "Other")
    hook = make_hook(session, world.alice, "label_change", org=world.org)

    patch(client, world, organization=world.org.id, add_shared_labels=[world.label.id])

    (body,) = bodies_for(session, hook)
    assert body == expected(client, session, world, hook, "label_change")
    assert body["conversation"]["shared_label_names"] == "VIP"
    assert "body" not in body["latest_message"]

    patch(client, world, organization=world.org.id, add_shared_labels=[world.label.id])
    patch(client, world, remove_shared_labels=[other.id])  # not a label of it: no-op
    assert len(bodies_for(session, hook)) == 1

    seen = bodies_for(session, hook)
    patch(client, world, remove_shared_labels=[world.label.id])
    (removed,) = new_bodies_for(session, hook, seen)
    assert removed["conversation"]["shared_labels"] == []


def test_label_change_and_close_by_post(client: TestClient, session: Session, world: World) -> None:
    labels = make_hook(session, world.alice, "label_change", org=world.org)
    closed = make_hook(session, world.alice, "conversation_closed", org=world.org)

    response = client.post(
        "/v1/posts",
        headers=bearer(world.token),
        json={
            "posts": {
                "conversation": world.conversation.id,
                "notification": NOTE,
                "text": "Synced",
                "organization": world.org.id,
                "add_shared_labels": [world.label.id],
                "close": True,
            }
        },
    )

    assert response.status_code == 201, response.json()
    assert bodies_for(session, labels) == [expected(client, session, world, labels, "label_change")]
    assert bodies_for(session, closed) == [
        expected(client, session, world, closed, "conversation_closed")
    ]
    assert bodies_for(session, closed)[0]["conversation"]["users"][0]["closed"] is True


def test_a_post_in_a_new_conversation_has_no_latest_message(
    client: TestClient, session: Session, world: World
) -> None:
    hook = make_hook(session, world.alice, "label_change", org=world.org)
    response = client.post(
        "/v1/posts",
        headers=bearer(world.token),
        json={
            "posts": {
                "notification": NOTE,
                "text": "New",
                "organization": world.org.id,
                "add_shared_labels": [world.label.id],
            }
        },
    )
    assert response.status_code == 201, response.json()
    cid = response.json()["posts"]["conversation"]
    assert bodies_for(session, hook) == [
        {"rule": rule(hook), "conversation": rest_conversation(client, world.token, cid)}
    ]


def test_close_and_reopen_fire_on_real_changes_only(
    client: TestClient, session: Session, world: World
) -> None:
    closed = make_hook(session, world.alice, "conversation_closed", org=world.org)
    reopened = make_hook(session, world.alice, "conversation_reopened", org=world.org)

    patch(client, world, reopen=True)  # already open
    patch(client, world, close=True)
    patch(client, world, close=True)  # already closed
    assert bodies_for(session, closed) == [
        expected(client, session, world, closed, "conversation_closed")
    ]
    assert bodies_for(session, reopened) == []

    patch(client, world, reopen=True)
    assert bodies_for(session, reopened) == [
        expected(client, session, world, reopened, "conversation_reopened")
    ]
    assert len(bodies_for(session, closed)) == 1


def test_assignee_change(client: TestClient, session: Session, world: World) -> None:
    hook = make_hook(session, world.alice, "conversation_assignee_change", org=world.org)

    patch(client, world, organization=world.org.id, add_assignees=[world.bob.id])
    patch(client, world, organization=world.org.id, add_assignees=[world.bob.id])  # no-op
    patch(client, world, organization=world.org.id, remove_assignees=[world.alice.id])  # no-op

    (body,) = bodies_for(session, hook)
    assert body == expected(client, session, world, hook, "conversation_assignee_change")
    assert body["conversation"]["assignee_names"] == "Bob"

    seen = bodies_for(session, hook)
    patch(client, world, organization=world.org.id, remove_assignees=[world.bob.id])
    (removed,) = new_bodies_for(session, hook, seen)
    assert removed["conversation"]["assignees"] == []


def test_team_change(client: TestClient, session: Session, world: World) -> None:
    hook = make_hook(session, world.alice, "team_change", org=world.org)

    patch(client, world, organization=world.org.id, team=world.team.id)
    patch(client, world, organization=world.org.id, team=world.team.id)  # same team

    (body,) = bodies_for(session, hook)
    assert body == expected(client, session, world, hook, "team_change")
    assert body["conversation"]["team"] == {
        "id": world.team.id,
        "name": "Support",
        "organization": world.org.id,
    }


def test_a_patch_that_changes_nothing_fires_nothing(
    client: TestClient, session: Session, world: World
) -> None:
    for kind in ("label_change", "conversation_closed", "team_change", "incoming_email"):
        make_hook(session, world.alice, kind, org=world.org)
    patch(client, world, subject="Renamed", color="#00ff00")
    assert webhooks(session) == []


def test_a_failed_patch_fires_nothing(client: TestClient, session: Session, world: World) -> None:
    make_hook(session, world.alice, "conversation_closed", org=world.org)
    unknown = "00000000-0000-4000-8000-000000000000"
    body = {"conversations": [{"id": world.conversation.id, "close": True}, {"id": unknown}]}
    response = client.patch(
        f"/v1/conversations/{world.conversation.id},{unknown}",
        json=body,
        headers=bearer(world.token),
    )
    assert response.status_code == 404
    assert webhooks(session) == []


def test_events_roll_back_with_the_change(session: Session, world: World) -> None:
    """Recorded after the change is applied, discarded when its transaction rolls back."""
    hook = make_hook(session, world.alice, "conversation_closed", org=world.org)
    actor = principal_for_user(session, world.alice.id)
    assert actor is not None
    conversation_actions.update_conversations(
        session,
        actor=actor,
        changes=[(world.conversation.id, ConversationActions(close=True))],
        now=T0,
    )
    session.rollback()
    session.commit()
    assert bodies_for(session, hook) == []


def test_personal_hooks_need_access_and_other_organizations_never_fire(
    client: TestClient, factory: Factory, session: Session, world: World
) -> None:
    mine = make_hook(session, world.alice, "conversation_closed")
    bobs = make_hook(session, world.bob, "conversation_closed")
    globex = factory.organization("Globex")
    gus = factory.user("gus@globex.test", organizations={globex: "owner"})
    foreign = make_hook(session, gus, "conversation_closed", org=globex)

    patch(client, world, close=True)

    assert bodies_for(session, mine) == [
        expected(client, session, world, mine, "conversation_closed")
    ]
    assert bodies_for(session, bobs) == bodies_for(session, foreign) == []


def test_queries_do_not_grow_with_the_number_of_hooks(
    client: TestClient, session: Session, world: World, engine: Any
) -> None:
    def closing_queries() -> int:
        patch(client, world, reopen=True)
        with count_queries(engine) as seen:
            patch(client, world, close=True)
        return len(seen)

    make_hook(session, world.alice, "conversation_closed", org=world.org)
    with_one = closing_queries()
    for _ in range(9):
        make_hook(session, world.alice, "conversation_closed", org=world.org)
        make_hook(session, world.alice, "conversation_closed")
    with_nineteen = closing_queries()

    assert with_nineteen == with_one
    assert len([b for _, e, b in webhooks(session) if e == "conversation_closed"]) == 20
