"""PATCH /v1/tasks/:id (spec 2.14.4): fields, state timestamps, activity, and the parent
conversation's counts and comment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import ConversationUser, TaskAssignee
from tests.api.tasks_support import (
    T,
    World,
    comments_of,
    conversation_of,
    created,
    ids,
    make_world,
    patch,
    patched,
    user_ref,
)
from tests.api.test_teams import error
from tests.conftest import bearer
from tests.factories import Factory


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def standalone(client: TestClient, w: World, **fields: Any) -> dict[str, Any]:
    return created(client, w.token, organization=w.org.id, title="Review", team=w.team.id, **fields)


def test_patch_every_field(
    client: TestClient, factory: Factory, world: World, clock: FrozenClock
) -> None:
    w = world
    sales = factory.team(w.org, "Sales", active=[w.me])
    task = standalone(client, w, description="old", due_at=T + 5, assignees=[w.me.id])
    clock.advance(60)

    body = patched(
        client,
        w.token,
        task["id"],
        title="Review again",
        description="new",
        state="in_progress",
        assignees=[w.phil.id],
        team=sales.id,
        due_at=T + 99,
    )

    assert body == {
        **task,
        "title": "Review again",
        "description": "new",
        "state": "in_progress",
        "started_at": T + 60,
        "assignees": [w.phil.id],
        "team": sales.id,
        "due_at": T + 99,
        "last_activity_at": T + 60,
    }
    assert ids(client, w.token, f"assignee={w.phil.id}") == [task["id"]]
    assert ids(client, w.token, f"assignee={w.me.id}") == []


def test_patch_clears_with_null(client: TestClient, world: World) -> None:
    w = world
    task = standalone(client, w, description="d", due_at=T + 5, assignees=[w.me.id])
    body = patched(client, w.token, task["id"], description=None, due_at=None, team=None)
    assert (body["description"], body["due_at"], body["team"]) == (None, None, None)
    assert body["assignees"] == [w.me.id]


def test_patch_keeps_what_is_not_given(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    w = world
    task = standalone(client, w, description="d", due_at=T + 5)
    clock.advance(5)
    assert patched(client, w.token, task["id"], title="t2") == {
        **task,
        "title": "t2",
        "last_activity_at": T + 5,
    }
    clock.advance(5)
    # Nothing to change: nothing happens, not even activity.
    assert patched(client, w.token, task["id"]) == {
        **task,
        "title": "t2",
        "last_activity_at": T + 5,
    }


def test_state_timestamps(client: TestClient, world: World, clock: FrozenClock) -> None:
    w = world
    task_id = standalone(client, w)["id"]

    def to(state: str) -> tuple[Any, Any]:
        clock.advance(10)
        body = patched(client, w.token, task_id, state=state)
        return body["started_at"], body["closed_at"]

    assert to("in_progress") == (T + 10, None)
    assert to("in_progress") == (T + 10, None)
    assert to("closed") == (T + 10, T + 30)
    assert to("in_progress") == (T + 10, None)  # reopened: it was started long ago
    assert to("todo") == (None, None)
    assert to("closed") == (None, T + 60)


def test_activity_moves_the_task_up_the_list(
    client: TestClient, world: World, clock: FrozenClock, session: Session
) -> None:
    w = world
    first = standalone(client, w, assignees=[w.phil.id])
    clock.advance(1)
    second = standalone(client, w, assignees=[w.phil.id])
    assert ids(client, w.token) == [second["id"], first["id"]]
    clock.advance(1)
    patched(client, w.token, first["id"], state="closed")
    assert ids(client, w.token) == [first["id"], second["id"]]
    assert ids(client, w.token, f"assignee={w.phil.id}") == [first["id"], second["id"]]
    copies = session.scalars(
        select(TaskAssignee.last_activity_at).where(TaskAssignee.task_id == first["id"])
    ).all()
    assert copies == [T + 2]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": None}, "'tasks.title' must not be null"),
        ({"title": ""}, "'tasks.title' must not be empty"),
        ({"title": "x" * 1001}, "'tasks.title' must be at most 1000 characters"),
        ({"description": "x" * 10001}, "'tasks.description' must be at most 10000 characters"),
        ({"state": None}, "'tasks.state' must not be null"),
        ({"state": "open"}, "'tasks.state' must be 'todo', 'in_progress' or 'closed'"),
        ({"assignees": None}, "'tasks.assignees' must not be null"),
        ({"assignees": "x"}, "'tasks.assignees' must be an array"),
        ({"due_at": "soon"}, "'tasks.due_at' must be an integer"),
        (
            {"team": None, "assignees": []},
            "'team' or 'assignees' is required for a standalone task",
        ),
        ({"team": None}, "'team' or 'assignees' is required for a standalone task"),
    ],
)
def test_patch_validation(
    client: TestClient, world: World, fields: dict[str, Any], message: str
) -> None:
    task = standalone(client, world)
    response = patch(client, world.token, task["id"], **fields)
    assert (response.status_code, response.json()) == (400, error(message))
    # Nothing was written.
    got = client.get(f"/v1/tasks/{task['id']}", headers=bearer(world.token)).json()["tasks"]
    assert (got["title"], got["state"], got["team"]["id"]) == ("Review", "todo", world.team.id)


def test_patch_unknown_or_foreign_ids(client: TestClient, factory: Factory, world: World) -> None:
    w = world
    other = factory.organization("Other")
    stranger = factory.user("s@other.test", organizations={other: "user"})
    foreign_team = factory.team(other, "Theirs")
    foreign_task = w.entries.task(other, "theirs", assignees=[stranger])
    task = standalone(client, w)
    for task_id in (foreign_task.id, "nope"):
        response = patch(client, w.token, task_id, title="x")
        assert (response.status_code, response.json()) == (
            404,
            error(f"Task with id '{task_id}' does not exist"),
        )
    for fields, prefix in (
        ({"team": foreign_team.id}, f"Team with id '{foreign_team.id}'"),
        ({"team": "nope"}, "Team with id 'nope'"),
        ({"assignees": [stranger.id]}, f"User with id '{stranger.id}'"),
    ):
        response = patch(client, w.token, task["id"], **fields)
        assert (response.status_code, response.json()) == (404, error(f"{prefix} does not exist"))


# --- the parent conversation -----------------------------------------------------------------


def test_closing_subtasks_keeps_the_conversation_consistent(
    client: TestClient, factory: Factory, world: World, clock: FrozenClock, session: Session
) -> None:
    w = world
    conversation = factory.conversation(w.org, users=[w.me], at=T)
    first = created(client, w.token, title="One", subtask=True, conversation=conversation.id)
    clock.advance(10)
    second = created(client, w.token, title="Two", subtask=True, conversation=conversation.id)

    def counts() -> tuple[int, int, int]:
        c = conversation_of(client, w.token, conversation.id)
        return c["tasks_count"], c["completed_tasks_count"], c["last_activity_at"]

    assert counts() == (2, 0, T + 10)
    clock.advance(10)
    patched(
        client,
        w.token,
        first["id"],
        state="closed",
        title="One, done",
        assignees=[w.phil.id],
    )
    # Updating a task is not new activity in the conversation (docs/compatibility.md).
    assert counts() == (2, 1, T + 10)
    comments = {c["body"]: c["task"] for c in comments_of(client, w.token, conversation.id)}
    assert comments["One, done"] == {
        "description": "One, done",
        "state": "closed",
        "due_at": None,
        "started_at": None,
        "closed_at": T + 20,
        "assignees": [user_ref(w.phil)],
        "team": None,
    }
    assert comments["Two"]["state"] == "todo"
    assert session.get(ConversationUser, (conversation.id, w.phil.id)) is not None
    patched(client, w.token, second["id"], state="closed")
    assert counts()[:2] == (2, 2)
    patched(client, w.token, first["id"], state="todo")
    assert counts()[:2] == (2, 1)


def test_tasked_conversation_is_not_a_subtask(
    client: TestClient, factory: Factory, world: World
) -> None:
    w = world
    conversation = factory.conversation(w.org, users=[w.me])
    tasked = w.entries.task(w.org, "Tasked", conversation=conversation, type="conversation")

    body = patched(client, w.token, tasked.id, state="closed")

    assert (body["type"], body["conversation"]) == ("conversation", conversation.id)
    summary = conversation_of(client, w.token, conversation.id)
    assert (summary["tasks_count"], summary["completed_tasks_count"]) == (0, 0)
