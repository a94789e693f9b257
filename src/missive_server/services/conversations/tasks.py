"""Tasks: who sees them, listing and fetching (spec 2.14.1, 2.14.2). Writes: ``task_changes``.

Visibility (docs/compatibility.md, "Tasks"): a task of one of the caller's organizations is
visible when it sits in a conversation the caller has access to (subtasks, tasked
conversations), or, for a standalone task, when the caller created it, is one of its assignees
or is a member (active or observer) of its team.

Every filter of ``GET /v1/tasks`` pages through an index that ends in ``last_activity_at``
(see db/models/tasks.py); ``assignee`` walks ``task_assignees`` and its copy of the timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from missive_server.auth import Principal
from missive_server.db.models import (
    ConversationUser,
    Membership,
    Task,
    TaskAssignee,
    Team,
    TeamMember,
    User,
)
from missive_server.db.paging import cursor_rows
from missive_server.errors import not_found
from missive_server.pagination import CursorPage
from missive_server.schemas.tasks import TaskView
from missive_server.services.conversations.conversation_labels import TEAM_ROLES
from missive_server.services.conversations.conversations import get_visible_conversation
from missive_server.services.directory.organizations import require_member


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """The query of ``GET /v1/tasks`` (spec 2.14.1); every filter given is ANDed."""

    organization: str | None = None
    team: str | None = None
    assignee: str | None = None
    state: str | None = None
    type: str = "all"
    conversation: str | None = None
    due_at_gteq: int | None = None
    due_at_lteq: int | None = None


def visible(actor: Principal) -> ColumnElement[bool]:
    """The tasks ``actor`` may see (module docstring), as a condition on ``Task``."""
    assignee = aliased(TaskAssignee)
    my_teams = select(TeamMember.team_id).where(
        TeamMember.user_id == actor.user_id, TeamMember.role.in_(TEAM_ROLES)
    )
    in_conversation = and_(
        Task.conversation_id.is_not(None),
        exists().where(
            ConversationUser.conversation_id == Task.conversation_id,
            ConversationUser.user_id == actor.user_id,
        ),
    )
    standalone = and_(
        Task.conversation_id.is_(None),
        or_(
            Task.creator_id == actor.user_id,
            exists().where(assignee.task_id == Task.id, assignee.user_id == actor.user_id),
            Task.team_id.in_(my_teams),
        ),
    )
    return and_(
        Task.organization_id.in_(sorted(actor.organization_ids)), or_(in_conversation, standalone)
    )


def get_visible_task(session: Session, *, actor: Principal, task_id: str) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, visible(actor)))
    if task is None:
        raise not_found("Task", task_id)
    return task


def get_task(session: Session, *, actor: Principal, task_id: str) -> TaskView:
    return task_views(session, [get_visible_task(session, actor=actor, task_id=task_id)])[0]


def list_tasks(
    session: Session, *, actor: Principal, filters: TaskFilters, page: CursorPage
) -> list[TaskView]:
    """Newest ``last_activity_at`` first; ``until`` inclusive (spec 1.7, 2.14.1)."""
    stmt, timestamp, tiebreak = _base_query(session, actor, filters)
    stmt = stmt.where(visible(actor), *_conditions(session, actor, filters))
    rows = cursor_rows(session, stmt, timestamp=timestamp, tiebreak=tiebreak, page=page)
    return task_views(session, [row[-1] for row in rows], with_teams=False)


_Query = tuple[Select[str, int, Task], InstrumentedAttribute[Any], InstrumentedAttribute[Any]]


def _base_query(session: Session, actor: Principal, f: TaskFilters) -> _Query:
    if f.assignee is None:
        return select(Task.id, Task.last_activity_at, Task), Task.last_activity_at, Task.id
    _require_user(session, actor, f.assignee)
    ta = TaskAssignee
    stmt = (
        select(ta.task_id, ta.last_activity_at, Task)
        .join(Task, Task.id == ta.task_id)
        .where(ta.user_id == f.assignee)
    )
    return stmt, ta.last_activity_at, ta.task_id


def _conditions(session: Session, actor: Principal, f: TaskFilters) -> list[ColumnElement[bool]]:
    """The filters as conditions; an unknown or foreign id in any of them is a 404."""
    conditions: list[ColumnElement[bool]] = []
    if f.organization is not None:
        conditions.append(Task.organization_id == require_member(actor, f.organization))
    if f.team is not None:
        team = session.get(Team, f.team)
        if team is None or not actor.is_member(team.organization_id):
            raise not_found("Team", f.team)
        conditions.append(Task.team_id == team.id)
    if f.conversation is not None:
        conversation = get_visible_conversation(
            session, actor=actor, conversation_id=f.conversation
        )
        conditions.append(Task.conversation_id == conversation.id)
    if f.state is not None:
        conditions.append(Task.state == f.state)
    if f.type != "all":
        conditions.append(Task.type == f.type)
    if f.due_at_gteq is not None:
        conditions.append(Task.due_at >= f.due_at_gteq)
    if f.due_at_lteq is not None:
        conditions.append(Task.due_at <= f.due_at_lteq)
    return conditions


def _require_user(session: Session, actor: Principal, user_id: str) -> None:
    """A user of none of the caller's organizations is unknown (404)."""
    found = session.scalar(
        select(Membership.user_id)
        .where(
            Membership.user_id == user_id,
            Membership.organization_id.in_(sorted(actor.organization_ids)),
        )
        .limit(1)
    )
    if found is None:
        raise not_found("User", user_id)


def task_views(
    session: Session, tasks: Sequence[Task], *, with_teams: bool = True
) -> list[TaskView]:
    """Tasks with their assignees (by name) and teams, in two queries whatever the count (one
    without teams: the list form shows only their ids)."""
    if not tasks:
        return []
    assignees: dict[str, list[User]] = {}
    rows = session.execute(
        select(TaskAssignee.task_id, User)
        .join(User, User.id == TaskAssignee.user_id)
        .where(TaskAssignee.task_id.in_([t.id for t in tasks]))
        .order_by(User.name, User.id)
    )
    for task_id, user in rows:
        assignees.setdefault(task_id, []).append(user)
    team_ids = sorted({t.team_id for t in tasks if t.team_id}) if with_teams else []
    teams = (
        {team.id: team for team in session.scalars(select(Team).where(Team.id.in_(team_ids)))}
        if team_ids
        else {}
    )
    return [
        TaskView(
            task=t,
            assignees=assignees.get(t.id, []),
            team=teams.get(t.team_id) if t.team_id else None,
        )
        for t in tasks
    ]
