"""Tasks (spec 2.14): list, get, create, update."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Until
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import cursor_page
from missive_server.schemas.tasks import (
    TaskDetailEnvelope,
    TaskEnvelope,
    TasksCreateBody,
    TasksEnvelope,
    TaskState,
    TasksUpdateBody,
    render_task,
    render_task_detail,
)
from missive_server.services.conversations import task_changes, tasks

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Tasks"])

Id = Annotated[str | None, Query()]
Bound = Annotated[int | None, Query(description="Unix seconds, inclusive")]


async def _filters(
    organization: Id = None,
    team: Id = None,
    assignee: Id = None,
    state: Annotated[TaskState | None, Query()] = None,
    type: Annotated[Literal["task", "conversation", "all"], Query()] = "all",
    conversation: Id = None,
    due_at_gteq: Bound = None,
    due_at_lteq: Bound = None,
) -> tasks.TaskFilters:
    return tasks.TaskFilters(
        organization=organization,
        team=team,
        assignee=assignee,
        state=state,
        type=type,
        conversation=conversation,
        due_at_gteq=due_at_gteq,
        due_at_lteq=due_at_lteq,
    )


Filters = Annotated[tasks.TaskFilters, Depends(_filters)]


@router.get("/tasks", response_model=TasksEnvelope, summary="List tasks, newest activity first")
async def list_tasks(
    ctx: Context, filters: Filters, limit: Limit = None, until: Until = None
) -> Response:
    page = cursor_page(limit, until, default=25, maximum=50)
    found = tasks.list_tasks(ctx.session, actor=ctx.actor, filters=filters, page=page)
    return envelope("tasks", [render_task(v) for v in found])


@router.get(
    "/tasks/{task_id}",
    response_model=TaskDetailEnvelope,
    summary="Get a task with its assignees and team",
)
async def get_task(task_id: str, ctx: Context) -> Response:
    found = tasks.get_task(ctx.session, actor=ctx.actor, task_id=task_id)
    return envelope("tasks", render_task_detail(found))


@router.post(
    "/tasks",
    response_model=TaskEnvelope,
    status_code=201,
    summary="Create a standalone task or a subtask in a conversation",
)
async def create_task(body: TasksCreateBody, ctx: Context) -> Response:
    created = task_changes.create_task(
        ctx.session,
        actor=ctx.actor,
        fields=body.tasks.to_fields(),
        placement=body.tasks.to_placement(),
        now=ctx.clock.now(),
    )
    view = tasks.task_views(ctx.session, [created], with_teams=False)[0]
    return envelope("tasks", render_task(view), 201)


@router.patch("/tasks/{task_id}", response_model=TaskEnvelope, summary="Update a task")
async def update_task(task_id: str, body: TasksUpdateBody, ctx: Context) -> Response:
    updated = task_changes.update_task(
        ctx.session,
        actor=ctx.actor,
        task_id=task_id,
        fields=body.tasks.to_fields(),
        now=ctx.clock.now(),
    )
    view = tasks.task_views(ctx.session, [updated], with_teams=False)[0]
    return envelope("tasks", render_task(view))
