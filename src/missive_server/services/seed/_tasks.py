"""Seeding standalone tasks (spec 2.14): found again by (organization, title), else created."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select

from missive_server.db.models import Organization, Task, TaskAssignee
from missive_server.ids import new_id
from missive_server.schemas.seed import TaskSeed, entry_label
from missive_server.services.seed._context import SeedContext


def seed_tasks(ctx: SeedContext, tasks: Sequence[TaskSeed], step: Callable[[str], None]) -> None:
    for index, seed_task in enumerate(tasks):
        where = entry_label("tasks", index, {"title": seed_task.title})
        org = ctx.organization(f"{where}: organization", seed_task.organization)
        task = ctx.session.scalar(
            select(Task)
            .where(
                Task.organization_id == org.id,
                Task.conversation_id.is_(None),
                Task.title == seed_task.title,
            )
            .order_by(Task.created_at, Task.id)
            .limit(1)
        )
        if task is None:
            task = _create(ctx, where, org, seed_task)
        ctx.record("tasks", task.title, task.id, org.name)
        step(where)


def _create(ctx: SeedContext, where: str, org: Organization, seed_task: TaskSeed) -> Task:
    team = ctx.team(f"{where}: team", org, seed_task.team) if seed_task.team else None
    assignees = ctx.members(f"{where}: assignees", seed_task.assignees, org)
    creator = [seed_task.creator] if seed_task.creator else []
    creators = ctx.members(f"{where}: creator", creator, org)
    state, now = seed_task.state, ctx.now
    task = Task(
        id=new_id(),
        organization_id=org.id,
        team_id=team.id if team else None,
        creator_id=creators[0].id if creators else None,
        type="task",
        title=seed_task.title,
        description=seed_task.description,
        state=state,
        due_at=seed_task.due_at,
        started_at=now if state == "in_progress" else None,
        closed_at=now if state == "closed" else None,
        created_at=now,
        last_activity_at=now,
    )
    ctx.session.add(task)
    ctx.session.flush()
    ctx.session.add_all(
        TaskAssignee(task_id=task.id, user_id=user.id, last_activity_at=now)
        for user in {u.id: u for u in assignees}.values()
    )
    ctx.session.flush()
    return task
