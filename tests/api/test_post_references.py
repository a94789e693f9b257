"""Posts' ``references`` thread (issue 16, item 2): integrations post updates about one ticket
with the same ``references`` and an organization but no conversation; every post, draft,
subtask and ``POST /v1/messages`` naming one of those references lands in the conversation the
first post made, which keeps its subject."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from tests.api import drafts_support
from tests.api.drafts_support import World, make_world
from tests.conftest import bearer
from tests.factories import Factory

TICKET = "<ticket-981@tracker.test>"
NOTE = {"title": "Ticket 981", "body": "Updated"}


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def post(client: TestClient, world: World, **fields: Any) -> str:
    body = {"notification": NOTE, "text": "Update", "organization": world.org.id, **fields}
    response = client.post("/v1/posts", json={"posts": body}, headers=bearer(world.token))
    assert response.status_code == 201, response.json()
    conversation: str = response.json()["posts"]["conversation"]
    return conversation


def subject_of(client: TestClient, world: World, conversation: str) -> Any:
    response = client.get(f"/v1/conversations/{conversation}", headers=bearer(world.token))
    assert response.status_code == 200
    return response.json()["conversations"][0]["subject"]


def test_posts_with_the_same_references_share_one_conversation(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    first = post(client, world, references=[TICKET], conversation_subject="Ticket 981")
    clock.advance(60)

    second = post(client, world, references=["ticket-981@tracker.test"])
    third = post(client, world, references=["<other@tracker.test>", TICKET])

    assert second == first
    assert third == first
    assert subject_of(client, world, first) == "Ticket 981"
    posts = client.get(f"/v1/conversations/{first}/posts", headers=bearer(world.token))
    assert len(posts.json()["posts"]) == 3


def test_other_references_start_another_conversation(client: TestClient, world: World) -> None:
    first = post(client, world, references=[TICKET])

    other = post(client, world, references=["<ticket-982@tracker.test>"])

    assert other != first


def test_drafts_messages_and_subtasks_land_where_the_post_went(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    first = post(client, world, references=[TICKET], conversation_subject="Ticket 981")
    clock.advance(60)

    draft = drafts_support.created(client, world.token, references=[TICKET])
    message = client.post(
        "/v1/messages",
        json={
            "messages": {
                "account": world.custom.id,
                "from_field": {"id": "u-1", "username": "sam", "name": "Sam"},
                "body": "Any news?",
                "references": [TICKET],
            }
        },
        headers=bearer(world.token),
    )
    task = client.post(
        "/v1/tasks",
        json={"tasks": {"title": "Call back", "subtask": True, "references": [TICKET]}},
        headers=bearer(world.token),
    )

    assert draft["conversation"] == first
    assert message.status_code == 201, message.json()
    assert message.json()["messages"]["conversation"] == first
    assert task.status_code == 201, task.json()
    assert task.json()["tasks"]["conversation"] == first
    assert subject_of(client, world, first) == "Ticket 981"


def test_a_subtasks_references_thread_later_posts(client: TestClient, world: World) -> None:
    task = client.post(
        "/v1/tasks",
        json={
            "tasks": {
                "title": "Follow up",
                "subtask": True,
                "organization": world.org.id,
                "references": [TICKET],
            }
        },
        headers=bearer(world.token),
    )
    assert task.status_code == 201, task.json()

    assert post(client, world, references=[TICKET]) == task.json()["tasks"]["conversation"]


def test_references_follow_a_merge(client: TestClient, world: World, clock: FrozenClock) -> None:
    source = post(client, world, references=[TICKET])
    target = post(client, world, references=["<survivor@tracker.test>"])
    merged = client.post(
        f"/v1/conversations/{source}/merge",
        json={"target": target},
        headers=bearer(world.token),
    )
    assert merged.status_code in (200, 201), merged.json()
    clock.advance(60)

    assert post(client, world, references=[TICKET]) == target
