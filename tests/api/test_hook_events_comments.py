"""``new_comment`` (spec 2.15.1, 3.3): comments from the seed, task subtasks and
``comments.create_comment``, with the ``is_task``, ``author``, ``mention`` and content filters."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Comment, Conversation
from missive_server.services.conversations.comments import create_comment
from missive_server.services.seed.seed import parse_document, seed
from tests.api.hooks_support import (
    T0,
    World,
    bodies_for,
    make_hook,
    make_world,
    rest_conversation,
    rule,
    webhooks,
)
from tests.conftest import bearer
from tests.factories import Factory


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def user_ref(user: Any) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "avatar_url": None}


def comment_on(session: Session, world: World, **fields: Any) -> Comment:
    conversation = session.get(Conversation, world.conversation.id)
    assert conversation is not None
    fields.setdefault("author_id", world.alice.id)
    fields.setdefault("body", "Can you take this one?")
    comment = create_comment(session, conversation, now=T0 + 5, **fields)
    session.commit()
    return comment


def test_payload_is_rule_conversation_and_comment(
    client: TestClient, session: Session, world: World
) -> None:
    hook = make_hook(session, world.alice, "new_comment", org=world.org)

    comment = comment_on(session, world)

    assert bodies_for(session, hook) == [
        {
            "rule": rule(hook),
            "conversation": rest_conversation(client, world.token, world.conversation.id),
            "comment": {
                "id": comment.id,
                "body": "Can you take this one?",
                "mentions": [],
                "created_at": T0 + 5,
                "meta": [],
                "attachment": None,
                "task": None,
                "author": user_ref(world.alice),
            },
        }
    ]


def test_mentions_use_the_webhook_shape(session: Session, world: World) -> None:
    hook = make_hook(session, world.alice, "new_comment", org=world.org, mention_id=world.bob.id)
    other = make_hook(session, world.alice, "new_comment", org=world.org, mention_id=world.alice.id)

    comment_on(
        session, world, body="@Bob look", mentions=[{"id": world.bob.id, "index": 0, "length": 4}]
    )

    (body,) = bodies_for(session, hook)
    assert body["comment"]["mentions"] == [{"user_id": world.bob.id, "offset": 0, "length": 4}]
    assert bodies_for(session, other) == []


@pytest.mark.parametrize(
    ("filters", "fires"),
    [
        ({"content_contains": "TAKE this"}, True),
        ({"content_contains": "refund"}, False),
        ({"content_starts_with": "can you"}, True),
        ({"content_starts_with": "take"}, False),
        ({"content_ends_with": "one?"}, True),
        ({"content_ends_with": "can"}, False),
        ({"is_task": True}, False),
        ({"from_eq": "alice@acme.test"}, False),
    ],
)
def test_content_filters(
    session: Session, world: World, filters: dict[str, Any], fires: bool
) -> None:
    hook = make_hook(session, world.alice, "new_comment", org=world.org, **filters)
    comment_on(session, world)
    assert len(bodies_for(session, hook)) == (1 if fires else 0)


def test_author_filter(session: Session, world: World) -> None:
    alices = make_hook(session, world.alice, "new_comment", org=world.org, author_id=world.alice.id)
    bobs = make_hook(session, world.alice, "new_comment", org=world.org, author_id=world.bob.id)
    comment_on(session, world)
    assert (len(bodies_for(session, alices)), len(bodies_for(session, bobs))) == (1, 0)


def test_a_subtask_is_a_task_comment(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    tasks = make_hook(session, world.alice, "new_comment", org=world.org, is_task=True)
    response = client.post(
        "/v1/tasks",
        headers=bearer(world.token),
        json={
            "tasks": {
                "title": "Call back",
                "organization": world.org.id,
                "subtask": True,
                "conversation": world.conversation.id,
                "assignees": [world.bob.id],
            }
        },
    )
    assert response.status_code == 201, response.json()

    (body,) = bodies_for(session, tasks)
    assert body["conversation"] == rest_conversation(client, world.token, world.conversation.id)
    assert body["conversation"]["tasks_count"] == 1
    comment = body["comment"]
    assert comment["body"] == "Call back"
    assert comment["task"] == {
        "description": "Call back",
        "state": "todo",
        "due_at": None,
        "started_at": None,
        "closed_at": None,
        "completed_at": None,
        "assignees": [user_ref(world.bob)],
        "team": None,
    }


def test_seeded_comments_fire(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    hook = make_hook(session, world.alice, "new_comment", org=world.org)
    document = {
        "organizations": [{"name": "Acme"}],
        "conversations": [
            {
                "key": "with-comment",
                "organization": "Acme",
                "users": ["alice@acme.test"],
                "comments": [{"author": "bob@acme.test", "body": "Mine", "created_at": T0}],
            }
        ],
    }

    seed(session, parse_document(document), now=clock.now())
    session.commit()

    (body,) = bodies_for(session, hook)
    comment = session.scalars(select(Comment).where(Comment.body == "Mine")).one()
    assert body["comment"]["id"] == comment.id
    assert body["comment"]["author"] == user_ref(world.bob)
    assert body["conversation"] == rest_conversation(client, world.token, comment.conversation_id)


def test_personal_hook_of_a_user_without_access_gets_nothing(
    factory: Factory, session: Session, world: World
) -> None:
    mine = make_hook(session, world.alice, "new_comment")
    bobs = make_hook(session, world.bob, "new_comment")
    comment_on(session, world)
    assert (len(bodies_for(session, mine)), len(bodies_for(session, bobs))) == (1, 0)
    assert [event for _, event, _ in webhooks(session)] == ["new_comment"]
