"""POST /v1/tasks and PATCH /v1/tasks/:id (spec 2.14.3, 2.14.4), and what they do to the
parent conversation (counts, the comment carrying the task, access)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Conversation, ConversationUser, Membership, Task
from tests.api.tasks_support import (
    T,
    World,
    comments_of,
    conversation_of,
    created,
    make_foreign,
    make_world,
    post,
    user_ref,
)
from tests.api.test_teams import UNAUTHORIZED, error
from tests.conftest import bearer
from tests.factories import Factory, email


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


# --- POST: standalone ------------------------------------------------------------------------


def test_create_standalone_task(client: TestClient, world: World) -> None:
    w = world
    body = created(
        client,
        w.token,
        organization=w.org.id,
        title="Review pull request",
        description="Please review PR #123",
        team=w.team.id,
        due_at=1692371867,
    )

    assert body == {
        "id": body["id"],
        "conversation": None,
        "title": "Review pull request",
        "description": "Please review PR #123",
        "state": "todo",
        "started_at": None,
        "closed_at": None,
        "assignees": [],
        "team": w.team.id,
        "due_at": 1692371867,
        "type": "task",
        "last_activity_at": T,
    }
    got = client.get(f"/v1/tasks/{body['id']}", headers=bearer(w.token)).json()["tasks"]
    assert got["team"] == {"id": w.team.id, "name": "Support", "organization": w.org.id}


def test_create_with_assignees_and_state(client: TestClient, world: World) -> None:
    w = world
    started = created(
        client,
        w.token,
        organization=w.org.id,
        title="Go",
        assignees=[w.phil.id, w.me.id, w.phil.id],
        state="in_progress",
    )
    closed = created(
        client, w.token, organization=w.org.id, title="Done", team=w.team.id, state="closed"
    )

    assert (started["assignees"], started["started_at"], started["closed_at"]) == (
        [w.me.id, w.phil.id],
        T,
        None,
    )
    assert (closed["started_at"], closed["closed_at"], closed["state"]) == (None, T, "closed")
    # The caller is in Support and among the first task's assignees.
    assert {t["id"] for t in client.get("/v1/tasks", headers=bearer(w.token)).json()["tasks"]} == {
        started["id"],
        closed["id"],
    }


def test_creator_sees_a_task_of_a_team_they_are_not_in(
    client: TestClient, factory: Factory, world: World
) -> None:
    w = world
    sales = factory.team(w.org, "Sales", active=[w.phil])
    body = created(client, w.token, organization=w.org.id, title="Theirs", team=sales.id)
    assert client.get(f"/v1/tasks/{body['id']}", headers=bearer(w.token)).status_code == 200


def test_unwrapped_body_is_accepted(client: TestClient, world: World) -> None:
    response = client.post(
        "/v1/tasks",
        headers=bearer(world.token),
        json={"organization": world.org.id, "title": "x", "team": world.team.id},
    )
    assert response.status_code == 201


# --- POST: subtasks --------------------------------------------------------------------------


def test_create_subtask_in_a_conversation(
    client: TestClient, factory: Factory, world: World, clock: FrozenClock, session: Session
) -> None:
    w = world
    extra = factory.member(w.org)[0]
    conversation = factory.conversation(w.org, users=[w.me], at=T - 100)
    clock.advance(10)

    body = created(
        client,
        w.token,
        organization=w.org.id,
        title="Follow up with client",
        description="Discuss proposal details",
        assignees=[w.phil.id],
        conversation=conversation.id,
        subtask=True,
        add_users=[extra.id],
        due_at=T + 500,
    )

    assert body["conversation"] == conversation.id
    assert (body["type"], body["last_activity_at"]) == ("task", T + 10)
    summary = conversation_of(client, w.token, conversation.id)
    assert (summary["tasks_count"], summary["completed_tasks_count"]) == (1, 0)
    assert summary["last_activity_at"] == T + 10
    [comment] = comments_of(client, w.token, conversation.id)
    assert comment == {
        "id": comment["id"],
        "body": "Follow up with client",
        "created_at": T + 10,
        "mentions": [],
        "author": user_ref(w.me),
        "attachment": None,
        "task": {
            "description": "Follow up with client",
            "state": "todo",
            "due_at": T + 500,
            "started_at": None,
            "closed_at": None,
            "assignees": [user_ref(w.phil)],
            "team": None,
        },
    }
    access = dict(
        session.execute(
            select(ConversationUser.user_id, ConversationUser.location).where(
                ConversationUser.conversation_id == conversation.id
            )
        ).all()
    )
    # add_users → Inbox; the assignee sees it in All (tasks live in the Tasks view, spec 2.14).
    assert access == {w.me.id: "inbox", extra.id: "inbox", w.phil.id: "none"}
    listed = client.get(f"/v1/tasks?conversation={conversation.id}", headers=bearer(w.token))
    assert [t["id"] for t in listed.json()["tasks"]] == [body["id"]]


def test_subtask_without_organization_in_an_organization_conversation(
    client: TestClient, factory: Factory, world: World
) -> None:
    conversation = factory.conversation(world.org, users=[world.me])
    body = created(client, world.token, title="x", subtask=True, conversation=conversation.id)
    assert body["conversation"] == conversation.id


def test_add_to_inbox_moves_the_parent_to_the_inbox(
    client: TestClient, factory: Factory, world: World, session: Session
) -> None:
    w = world
    conversation = factory.conversation(w.org, users=[w.me, w.phil], location="closed")
    created(
        client, w.token, title="x", subtask=True, conversation=conversation.id, add_to_inbox=True
    )
    locations = session.scalars(
        select(ConversationUser.location).where(ConversationUser.conversation_id == conversation.id)
    ).all()
    assert locations == ["inbox", "inbox"]


def test_subtask_by_references(client: TestClient, factory: Factory, world: World) -> None:
    w = world
    existing = factory.conversation(
        w.org, users=[w.me], messages=[email(T, email_message_id="<abc@example.com>")]
    )

    found = created(
        client,
        w.token,
        title="x",
        subtask=True,
        references=["abc@example.com"],
        conversation_subject="Ignored",
    )
    new = created(
        client,
        w.token,
        organization=w.org.id,
        title="y",
        subtask=True,
        references=["<nothing@here>"],
        conversation_subject="Renewal",
    )

    assert found["conversation"] == existing.id
    assert conversation_of(client, w.token, existing.id)["subject"] is None
    fresh = conversation_of(client, w.token, new["conversation"])
    assert (fresh["subject"], fresh["organization"]["id"], fresh["tasks_count"]) == (
        "Renewal",
        w.org.id,
        1,
    )


def test_subtask_of_a_personal_conversation_needs_an_organization(
    client: TestClient, factory: Factory, world: World, session: Session
) -> None:
    w = world
    personal = factory.conversation(None, users=[w.me])
    response = post(client, w.token, title="x", subtask=True, conversation=personal.id)
    assert (response.status_code, response.json()) == (
        400,
        error("'organization' is required for a subtask of a personal conversation"),
    )
    response = post(client, w.token, title="x", subtask=True, references=["<new@x>"])
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(Task)) == 0
    assert session.scalar(select(func.count()).select_from(Conversation)) == 1

    linked = created(
        client, w.token, organization=w.org.id, title="x", subtask=True, conversation=personal.id
    )
    assert conversation_of(client, w.token, linked["conversation"])["organization"]["id"] == (
        w.org.id
    )


# --- POST: validation and ids ------------------------------------------------------------------

LONG = "x" * 1001


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({}, "'tasks.title' is required"),
        ({"title": "   "}, "'tasks.title' must not be empty"),
        ({"title": LONG}, "'tasks.title' must be at most 1000 characters"),
        ({"title": 5}, "'tasks.title' must be a string"),
        (
            {"title": "t", "description": "d" * 10001},
            "'tasks.description' must be at most 10000 characters",
        ),
        (
            {"title": "t", "state": "done"},
            "'tasks.state' must be 'todo', 'in_progress' or 'closed'",
        ),
        ({"title": "t", "due_at": "tomorrow"}, "'tasks.due_at' must be an integer"),
        ({"title": "t", "due_at": True}, "'tasks.due_at' must be an integer"),
        ({"title": "t", "due_at": -1}, "'tasks.due_at' must be a Unix timestamp (seconds)"),
        ({"title": "t", "assignees": "me"}, "'tasks.assignees' must be an array"),
        ({"title": "t", "subtask": "maybe"}, "'tasks.subtask' must be true or false"),
        ({"title": "t"}, "'team' or 'assignees' is required for a standalone task"),
        (
            {"title": "t", "assignees": []},
            "'team' or 'assignees' is required for a standalone task",
        ),
        ({"title": "t", "team": "x"}, "'organization' is required when using 'team'"),
        ({"title": "t", "assignees": ["x"]}, "'organization' is required when using 'assignees'"),
        (
            {"title": "t", "subtask": True},
            "'conversation' or 'references' is required when 'subtask' is true",
        ),
        (
            {"title": "t", "subtask": True, "references": []},
            "'conversation' or 'references' is required when 'subtask' is true",
        ),
        (
            {"title": "t", "subtask": True, "conversation": "c", "add_users": ["u"]},
            "'organization' is required when using 'add_users'",
        ),
        (
            {"title": "t", "team": "x", "conversation": "c"},
            "'conversation' requires 'subtask' to be true",
        ),
        (
            {"title": "t", "team": "x", "references": ["r"]},
            "'references' requires 'subtask' to be true",
        ),
        (
            {"title": "t", "team": "x", "add_users": ["u"]},
            "'add_users' requires 'subtask' to be true",
        ),
        (
            {"title": "t", "team": "x", "add_to_inbox": True},
            "'add_to_inbox' requires 'subtask' to be true",
        ),
        (
            {"title": "t", "team": "x", "conversation_subject": "s"},
            "'conversation_subject' requires 'subtask' to be true",
        ),
    ],
)
def test_create_validation(
    client: TestClient, world: World, session: Session, task: dict[str, Any], message: str
) -> None:
    response = post(client, world.token, **task)
    assert (response.status_code, response.json()) == (400, error(message))
    assert session.scalar(select(func.count()).select_from(Task)) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Request body is required"),
        ([], "Request body must be a JSON object"),
        ({"tasks": "x"}, "'tasks' must be an object"),
        ({"tasks": None}, "'tasks' must be an object"),
    ],
)
def test_create_with_a_bad_body(client: TestClient, world: World, body: Any, message: str) -> None:
    response = client.post("/v1/tasks", headers=bearer(world.token), json=body)
    assert (response.status_code, response.json()) == (400, error(message))


def test_create_with_unknown_or_foreign_ids(
    client: TestClient, factory: Factory, world: World, session: Session
) -> None:
    w, f = world, make_foreign(factory, world)
    other, stranger, foreign_team = f.org, f.stranger, f.team
    foreign_conversation, hidden = f.conversation, f.hidden
    # Another organization of the caller's: its ids are real, but not of the task's organization.
    beta = factory.organization("Beta")
    session.add(Membership(organization_id=beta.id, user_id=w.me.id, role="user"))
    session.commit()
    beta_team = factory.team(beta, "Beta team", active=[w.me])
    beta_user = factory.user("b@beta.test", organizations={beta: "user"})
    mine = factory.conversation(w.org, users=[w.me])
    org = w.org.id
    cases = [
        ({"organization": other.id, "team": foreign_team.id}, f"Organization with id '{other.id}'"),
        ({"organization": "nope", "team": w.team.id}, "Organization with id 'nope'"),
        ({"organization": org, "team": foreign_team.id}, f"Team with id '{foreign_team.id}'"),
        ({"organization": org, "team": beta_team.id}, f"Team with id '{beta_team.id}'"),
        ({"organization": org, "team": "nope"}, "Team with id 'nope'"),
        (
            {"organization": org, "assignees": [w.me.id, stranger.id]},
            f"User with id '{stranger.id}'",
        ),
        ({"organization": org, "assignees": ["nope"]}, "User with id 'nope'"),
        ({"organization": org, "assignees": [beta_user.id]}, f"User with id '{beta_user.id}'"),
        (
            {"organization": beta.id, "subtask": True, "conversation": mine.id},
            f"Conversation with id '{mine.id}'",
        ),
        (
            {"subtask": True, "conversation": foreign_conversation.id},
            f"Conversation with id '{foreign_conversation.id}'",
        ),
        ({"subtask": True, "conversation": hidden.id}, f"Conversation with id '{hidden.id}'"),
        ({"subtask": True, "conversation": "nope"}, "Conversation with id 'nope'"),
        (
            {
                "organization": org,
                "subtask": True,
                "conversation": hidden.id,
                "add_users": [stranger.id],
            },
            f"Conversation with id '{hidden.id}'",
        ),
    ]
    for fields, prefix in cases:
        response = post(client, w.token, title="t", **fields)
        assert (response.status_code, response.json()) == (
            404,
            error(f"{prefix} does not exist"),
        ), fields
    assert session.scalar(select(func.count()).select_from(Task)) == 0


def test_create_and_update_unauthorized(client: TestClient, world: World) -> None:
    task = world.entries.task(world.org, team=world.team)
    for headers in ({}, bearer("missive_pat-nope")):
        response = client.post("/v1/tasks", headers=headers, json={"tasks": {"title": "x"}})
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
        response = client.patch(f"/v1/tasks/{task.id}", headers=headers, json={"tasks": {}})
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
