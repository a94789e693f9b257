"""GET /v1/tasks and GET /v1/tasks/:id (spec 2.14.1, 2.14.2). Writes: test_task_changes.py."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.schemas.tasks import TaskDetailEnvelope
from tests.api.tasks_support import (
    T,
    World,
    ids,
    listed,
    make_foreign,
    make_world,
    user_ref,
    wire,
)
from tests.api.test_teams import UNAUTHORIZED, error
from tests.conftest import bearer, count_queries
from tests.factories import Factory


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


# --- wire shapes ---------------------------------------------------------------------------


def test_list_form(client: TestClient, factory: Factory, world: World) -> None:
    w = world
    conversation = factory.conversation(w.org, users=[w.me])
    standalone = w.entries.task(
        w.org, "Review pull request", team=w.team, assignees=[w.phil, w.me], due_at=T + 99
    )
    sub = w.entries.task(
        w.org, "Call back", conversation=conversation, state="closed", closed_at=T, at=T - 1
    )

    assert listed(client, w.token) == [
        {
            "id": standalone.id,
            "conversation": None,
            "title": "Review pull request",
            "description": None,
            "state": "todo",
            "started_at": None,
            "closed_at": None,
            "assignees": [w.me.id, w.phil.id],  # by name: Frodo, Phil Smith
            "team": w.team.id,
            "due_at": T + 99,
            "type": "task",
            "last_activity_at": T,
        },
        wire(sub, conversation=conversation.id, closed_at=T, last_activity_at=T - 1),
    ]


def test_get_form(client: TestClient, world: World) -> None:
    w = world
    task = w.entries.task(
        w.org, "Review", team=w.team, assignees=[w.phil, w.me], state="in_progress", started_at=T
    )

    response = client.get(f"/v1/tasks/{task.id}", headers=bearer(w.token))

    assert response.status_code == 200
    assert response.json() == {
        "tasks": {
            **wire(task),
            "assignees": [user_ref(w.me), user_ref(w.phil)],
            "team": {"id": w.team.id, "name": "Support", "organization": w.org.id},
            "started_at": T,
        }
    }
    TaskDetailEnvelope.model_validate(response.json())


def test_get_form_without_team_or_assignees(client: TestClient, world: World) -> None:
    task = world.entries.task(world.org, "Mine", creator=world.me)
    body = client.get(f"/v1/tasks/{task.id}", headers=bearer(world.token)).json()
    assert (body["tasks"]["team"], body["tasks"]["assignees"]) == (None, [])


def test_unauthorized(client: TestClient, world: World) -> None:
    task = world.entries.task(world.org, team=world.team)
    for url in ("/v1/tasks", f"/v1/tasks/{task.id}"):
        for headers in ({}, bearer("missive_pat-nope")):
            response = client.get(url, headers=headers)
            assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# --- visibility ----------------------------------------------------------------------------


def test_visibility(client: TestClient, factory: Factory, world: World) -> None:
    w = world
    other = factory.organization("Other")
    stranger = factory.user("s@other.test", organizations={other: "user"})
    other_team = factory.team(w.org, "Sales", active=[w.phil])
    mine = factory.conversation(w.org, users=[w.me])
    theirs = factory.conversation(w.org, users=[w.phil])
    visible = [
        w.entries.task(w.org, "team", team=w.team, at=T - 1),
        w.entries.task(w.org, "assigned", team=other_team, assignees=[w.me], at=T - 2),
        w.entries.task(w.org, "created", team=other_team, creator=w.me, at=T - 3),
        w.entries.task(w.org, "subtask", conversation=mine, assignees=[w.phil], at=T - 4),
    ]
    hidden = [
        w.entries.task(w.org, "other team", team=other_team, assignees=[w.phil]),
        w.entries.task(w.org, "hidden subtask", conversation=theirs, assignees=[w.me]),
        w.entries.task(other, "foreign", assignees=[stranger]),
    ]

    assert ids(client, w.token) == [t.id for t in visible]
    for task in hidden:
        response = client.get(f"/v1/tasks/{task.id}", headers=bearer(w.token))
        assert (response.status_code, response.json()) == (
            404,
            error(f"Task with id '{task.id}' does not exist"),
        )
    response = client.get("/v1/tasks/nope", headers=bearer(w.token))
    assert (response.status_code, response.json()) == (
        404,
        error("Task with id 'nope' does not exist"),
    )


# --- filters -------------------------------------------------------------------------------


def test_filters(client: TestClient, factory: Factory, world: World) -> None:
    w = world
    conversation = factory.conversation(w.org, users=[w.me])
    sales = factory.team(w.org, "Sales", observers=[w.me])
    a = w.entries.task(w.org, "a", team=w.team, due_at=T + 10, at=T - 1)
    b = w.entries.task(w.org, "b", team=sales, assignees=[w.phil], state="closed", at=T - 2)
    c = w.entries.task(w.org, "c", conversation=conversation, state="in_progress", at=T - 3)
    d = w.entries.task(
        w.org, "d", conversation=conversation, type="conversation", due_at=T + 20, at=T - 4
    )
    e = w.entries.task(w.org, "e", team=w.team, assignees=[w.me, w.phil], due_at=T + 30, at=T - 5)

    cases = {
        "": [a, b, c, d, e],
        f"organization={w.org.id}": [a, b, c, d, e],
        f"team={w.team.id}": [a, e],
        f"team={sales.id}": [b],
        f"assignee={w.phil.id}": [b, e],
        f"assignee={w.me.id}": [e],
        "state=todo": [a, d, e],
        "state=closed": [b],
        "state=in_progress": [c],
        "type=all": [a, b, c, d, e],
        "type=task": [a, b, c, e],
        "type=conversation": [d],
        f"conversation={conversation.id}": [c, d],
        f"due_at_gteq={T + 20}": [d, e],
        f"due_at_lteq={T + 20}": [a, d],
        f"due_at_gteq={T + 11}&due_at_lteq={T + 29}": [d],
        f"team={w.team.id}&assignee={w.phil.id}&state=todo": [e],
    }
    for query, expected in cases.items():
        assert ids(client, w.token, query) == [t.id for t in expected], query


def test_filters_with_unknown_or_foreign_ids(
    client: TestClient, factory: Factory, world: World
) -> None:
    w, f = world, make_foreign(factory, world)
    cases = {
        "organization": [(f.org.id, "Organization"), ("nope", "Organization")],
        "team": [(f.team.id, "Team"), ("nope", "Team")],
        "assignee": [(f.stranger.id, "User"), ("nope", "User")],
        "conversation": [
            (f.conversation.id, "Conversation"),
            (f.hidden.id, "Conversation"),
            ("nope", "Conversation"),
        ],
    }
    for name, values in cases.items():
        for value, resource in values:
            response = client.get(f"/v1/tasks?{name}={value}", headers=bearer(w.token))
            assert (response.status_code, response.json()) == (
                404,
                error(f"{resource} with id '{value}' does not exist"),
            ), name


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=1", "min 'limit' value is 2"),
        ("limit=x", "'limit' must be an integer"),
        ("until=x", "'until' must be an integer"),
        ("state=done", "'state' must be 'todo', 'in_progress' or 'closed'"),
        ("type=subtask", "'type' must be 'task', 'conversation' or 'all'"),
        ("due_at_gteq=soon", "'due_at_gteq' must be an integer"),
        ("due_at_lteq=1.5", "'due_at_lteq' must be an integer"),
    ],
)
def test_bad_query(client: TestClient, world: World, query: str, message: str) -> None:
    response = client.get(f"/v1/tasks?{query}", headers=bearer(world.token))
    assert (response.status_code, response.json()) == (400, error(message))


# --- paging --------------------------------------------------------------------------------


def test_until_paging_keeps_ties_together(client: TestClient, world: World) -> None:
    w = world
    made = [w.entries.task(w.org, f"t{i}", team=w.team, at=T - i) for i in range(4)]
    ties = [w.entries.task(w.org, f"tie{i}", team=w.team, at=T - 10) for i in range(3)]
    older = w.entries.task(w.org, "older", team=w.team, at=T - 20)
    tie_ids = sorted((t.id for t in ties), reverse=True)

    assert ids(client, w.token, "limit=2") == [made[0].id, made[1].id]
    assert ids(client, w.token, f"limit=2&until={T - 1}") == [made[1].id, made[2].id]
    # The page is full at the first tie: the other tasks of that second come along.
    assert ids(client, w.token, f"limit=2&until={T - 3}") == [made[3].id, *tie_ids]
    assert ids(client, w.token, f"limit=2&until={T - 11}") == [older.id]
    assert ids(client, w.token, f"until={T - 21}") == []
    assert len(ids(client, w.token, "limit=500")) == 8


def test_default_and_maximum_limit(client: TestClient, world: World, session: Session) -> None:
    w = world
    for i in range(60):
        w.entries.task(w.org, f"t{i}", team=w.team, at=T - i)
    assert len(ids(client, w.token)) == 25
    assert len(ids(client, w.token, "limit=50")) == 50
    assert len(ids(client, w.token, "limit=51")) == 50


def test_assignee_paging_follows_the_task_activity(client: TestClient, world: World) -> None:
    w = world
    made = [
        w.entries.task(w.org, f"t{i}", team=w.team, assignees=[w.phil], at=T - i) for i in range(3)
    ]
    query = f"assignee={w.phil.id}&limit=2"
    assert ids(client, w.token, query) == [made[0].id, made[1].id]
    assert ids(client, w.token, f"{query}&until={T - 2}") == [made[2].id]


# --- cost ----------------------------------------------------------------------------------


def _queries(client: TestClient, engine: Engine, token: str, url: str) -> int:
    with count_queries(engine) as statements:
        response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.text
    return len(statements)


def test_list_query_count_does_not_grow_with_the_page(
    client: TestClient, factory: Factory, world: World, engine: Engine
) -> None:
    w = world
    people = [factory.member(w.org)[0] for _ in range(4)]
    w.entries.task(w.org, "one", team=w.team, assignees=people[:1])
    _queries(client, engine, w.token, "/v1/tasks?limit=2")  # the token, into the token cache
    small = _queries(client, engine, w.token, "/v1/tasks?limit=50")
    teams = [factory.team(w.org, f"T{i}", active=[w.me]) for i in range(5)]
    for i in range(30):
        w.entries.task(w.org, f"t{i}", team=teams[i % 5], assignees=people, at=T - i)

    large = _queries(client, engine, w.token, "/v1/tasks?limit=50")

    assert large == small
    # page, assignees (the token comes from the token cache)
    assert large <= 2, large
    # user check, page, boundary ties (the page of 25 is full), assignees
    assert _queries(client, engine, w.token, f"/v1/tasks?assignee={people[0].id}") <= 4


def test_get_query_count(
    client: TestClient, factory: Factory, world: World, engine: Engine
) -> None:
    w = world
    people = [factory.member(w.org)[0] for _ in range(5)]
    task = w.entries.task(w.org, "t", team=w.team, assignees=people)
    # token, task, assignees, team
    assert _queries(client, engine, w.token, f"/v1/tasks/{task.id}") <= 4


#: filter -> (query, the index the page must search first)
FILTER_QUERIES = {
    "organization": ("organization={org}", "ix_tasks_organization_id_tasks_last_activity_at"),
    "team": ("team={team}", "ix_tasks_team_id_tasks_last_activity_at"),
    "assignee": (
        "assignee={user}",
        "ix_task_assignees_user_id_task_assignees_last_activity_at",
    ),
    "state": (
        "organization={org}&state=todo",
        "ix_tasks_organization_id_tasks_state_tasks_last_activity_at",
    ),
    "type": (
        "organization={org}&type=conversation",
        "ix_tasks_organization_id_tasks_type_tasks_last_activity_at",
    ),
    "conversation": (
        "conversation={conversation}",
        "ix_tasks_conversation_id_tasks_last_activity_at",
    ),
    "due_at": ("organization={org}&due_at_gteq=1", "ix_tasks_organization_id_tasks_due_at"),
}


@pytest.mark.parametrize("name", sorted(FILTER_QUERIES))
def test_every_filter_is_an_index_search(
    client: TestClient,
    factory: Factory,
    world: World,
    engine: Engine,
    name: str,
) -> None:
    """On SQLite the statement of each filter searches an index (no table scan)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    w = world
    conversation = factory.conversation(w.org, users=[w.me])
    w.entries.task(w.org, "t", team=w.team, assignees=[w.phil])
    template, index = FILTER_QUERIES[name]
    query = template.format(
        org=w.org.id, team=w.team.id, user=w.phil.id, conversation=conversation.id
    )
    with count_queries(engine) as statements:
        assert client.get(f"/v1/tasks?{query}", headers=bearer(w.token)).status_code == 200
    [page] = [s for s in statements if "ORDER BY" in s and "FROM task" in s and "LIMIT" in s]
    plan = _plan(engine, page)
    assert plan[0].startswith(f"SEARCH task_assignees USING INDEX {index} ") or plan[0].startswith(
        f"SEARCH tasks USING INDEX {index} "
    ), plan
    assert not any(line.startswith("SCAN task") for line in plan), plan


def _plan(engine: Engine, statement: str) -> list[str]:
    """The plan's table accesses; parameters are irrelevant to the plan, so any value does."""
    count = statement.count("?")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", tuple(["x"] * (count - 1) + [2])
        ).all()
    return [
        str(row[3])
        for row in rows
        if str(row[3]).startswith(("SEARCH", "SCAN")) and "SUBQUERY" not in str(row[3])
    ]
