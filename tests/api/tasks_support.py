"""Shared builders and helpers of the task tests (test_tasks, test_task_changes,
test_task_updates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.testclient import TestClient

from missive_server.db.models import Conversation, Organization, Task, Team, User
from missive_server.schemas.tasks import TaskEnvelope, TasksEnvelope
from tests.conftest import bearer
from tests.factories import EntryFactory, Factory

T = 1_700_000_000


@dataclass
class World:
    org: Organization
    me: User
    token: str
    phil: User
    team: Team
    entries: EntryFactory


def make_world(factory: Factory) -> World:
    org = factory.organization("Acme")
    me = factory.user("frodo@acme.test", "Frodo", organizations={org: "user"})
    phil = factory.user("phil@acme.test", "Phil Smith", organizations={org: "user"})
    team = factory.team(org, "Support", active=[me])
    entries = EntryFactory(factory.session, factory.clock)
    return World(org, me, factory.token(me), phil, team, entries)


@dataclass
class Foreign:
    """What the caller must not reach: another organization's user, team and conversation,
    and a conversation of their own organization they have no access to."""

    org: Organization
    stranger: User
    team: Team
    conversation: Conversation
    hidden: Conversation


def make_foreign(factory: Factory, w: World) -> Foreign:
    other = factory.organization("Other")
    stranger = factory.user("s@other.test", organizations={other: "user"})
    return Foreign(
        org=other,
        stranger=stranger,
        team=factory.team(other, "Theirs"),
        conversation=factory.conversation(other, users=[stranger]),
        hidden=factory.conversation(w.org, users=[w.phil]),
    )


def wire(task: Task, assignees: list[User] | None = None, **changes: Any) -> dict[str, Any]:
    return {
        "id": task.id,
        "conversation": task.conversation_id,
        "title": task.title,
        "description": task.description,
        "state": task.state,
        "started_at": task.started_at,
        "closed_at": task.closed_at,
        "assignees": [u.id for u in assignees or []],
        "team": task.team_id,
        "due_at": task.due_at,
        "type": task.type,
        "last_activity_at": task.last_activity_at,
        **changes,
    }


def listed(client: TestClient, token: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/v1/tasks?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    body = response.json()
    TasksEnvelope.model_validate(body)
    tasks: list[dict[str, Any]] = body["tasks"]
    return tasks


def ids(client: TestClient, token: str, query: str = "") -> list[str]:
    return [t["id"] for t in listed(client, token, query)]


def user_ref(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "avatar_url": user.avatar_url}


def post(client: TestClient, token: str, **task: Any) -> Any:
    return client.post("/v1/tasks", headers=bearer(token), json={"tasks": task})


def created(client: TestClient, token: str, **task: Any) -> dict[str, Any]:
    response = post(client, token, **task)
    assert response.status_code == 201, response.json()
    TaskEnvelope.model_validate(response.json())
    body: dict[str, Any] = response.json()["tasks"]
    return body


def patch(client: TestClient, token: str, task_id: str, **fields: Any) -> Any:
    return client.patch(f"/v1/tasks/{task_id}", headers=bearer(token), json={"tasks": fields})


def patched(client: TestClient, token: str, task_id: str, **fields: Any) -> dict[str, Any]:
    response = patch(client, token, task_id, **fields)
    assert response.status_code == 200, response.json()
    TaskEnvelope.model_validate(response.json())
    body: dict[str, Any] = response.json()["tasks"]
    return body


def conversation_of(client: TestClient, token: str, conversation_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{conversation_id}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()["conversations"][0]
    return body


def comments_of(client: TestClient, token: str, conversation_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/conversations/{conversation_id}/comments", headers=bearer(token))
    assert response.status_code == 200, response.json()
    comments: list[dict[str, Any]] = response.json()["comments"]
    return comments
