"""Task wire objects and the bodies of POST/PATCH /v1/tasks (spec 2.14)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import field_validator, model_validator

from missive_server.db.models import Task, Team, User
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.conversations import TeamRef
from missive_server.schemas.fields import Timestamp, at_most, bounded_text, reject_null
from missive_server.schemas.users import UserRef, render_user_ref

TITLE_MAX = 1000
DESCRIPTION_MAX = 10000

TaskState = Literal["todo", "in_progress", "closed"]
TaskType = Literal["task", "conversation"]
Title = Annotated[str, bounded_text(TITLE_MAX)]
Description = Annotated[str, at_most(DESCRIPTION_MAX)]


@dataclass(slots=True)
class TaskView:
    """A task with what its get form and a comment's ``task`` object show."""

    task: Task
    assignees: list[User] = field(default_factory=list)
    team: Team | None = None


# --- wire objects (spec 2.14 "Task object") ------------------------------------------------


class _TaskFields(WireModel):
    id: str
    conversation: str | None
    title: str
    description: str | None
    state: TaskState
    started_at: int | None
    closed_at: int | None
    due_at: int | None
    type: TaskType
    last_activity_at: int


class TaskOut(_TaskFields):
    """List form: ``assignees`` are ids and ``team`` an id."""

    assignees: list[str]
    team: str | None


class TaskDetailOut(_TaskFields):
    """Get form: ``assignees`` are user objects and ``team`` a team reference."""

    assignees: list[UserRef]
    team: TeamRef | None


class TasksEnvelope(WireModel):
    tasks: list[TaskOut]


class TaskEnvelope(WireModel):
    tasks: TaskOut


class TaskDetailEnvelope(WireModel):
    tasks: TaskDetailOut


def _common(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "conversation": t.conversation_id,
        "title": t.title,
        "description": t.description,
        "state": t.state,
        "started_at": t.started_at,
        "closed_at": t.closed_at,
    }


def render_task(view: TaskView) -> dict[str, Any]:
    t = view.task
    return {
        **_common(t),
        "assignees": [u.id for u in view.assignees],
        "team": t.team_id,
        "due_at": t.due_at,
        "type": t.type,
        "last_activity_at": t.last_activity_at,
    }


def render_team_ref(team: Team | None) -> dict[str, Any] | None:
    if team is None:
        return None
    return {"id": team.id, "name": team.name, "organization": team.organization_id}


def render_task_detail(view: TaskView) -> dict[str, Any]:
    t = view.task
    return {
        **_common(t),
        "assignees": [render_user_ref(u) for u in view.assignees],
        "team": render_team_ref(view.team),
        "due_at": t.due_at,
        "type": t.type,
        "last_activity_at": t.last_activity_at,
    }


# --- request bodies (spec 2.14.3, 2.14.4) --------------------------------------------------


@dataclass(slots=True)
class TaskFields:
    """What a task says; the framework-free input of ``services.tasks``. For PATCH,
    ``given`` names the fields the body carried (the others stay as they are)."""

    title: str | None = None
    description: str | None = None
    state: str | None = None
    team: str | None = None
    assignees: list[str] | None = None
    due_at: int | None = None
    given: frozenset[str] = frozenset()


@dataclass(slots=True)
class TaskPlacement:
    """Where a new task goes: its organization and, for a subtask (spec 1B), the parent
    conversation and what to do to it."""

    organization: str | None = None
    subtask: bool = False
    conversation: str | None = None
    references: list[str] | None = None
    conversation_subject: str | None = None
    add_users: list[str] = field(default_factory=list)
    add_to_inbox: bool = False


class TaskIn(RequestModel):
    """The ``tasks`` object of ``POST /v1/tasks``. ``null`` means "not given"."""

    title: Title
    description: Description | None = None
    state: TaskState | None = None
    organization: str | None = None
    team: str | None = None
    assignees: list[str] | None = None
    due_at: Timestamp | None = None
    subtask: bool | None = None
    conversation: str | None = None
    references: list[str] | None = None
    conversation_subject: Annotated[str, at_most(TITLE_MAX)] | None = None
    add_users: list[str] | None = None
    add_to_inbox: bool | None = None

    def to_fields(self) -> TaskFields:
        return TaskFields(
            title=self.title,
            description=self.description,
            state=self.state or "todo",
            team=self.team,
            assignees=list(self.assignees or ()),
            due_at=self.due_at,
        )

    def to_placement(self) -> TaskPlacement:
        return TaskPlacement(
            organization=self.organization,
            subtask=bool(self.subtask),
            conversation=self.conversation,
            references=self.references or None,
            conversation_subject=self.conversation_subject,
            add_users=list(self.add_users or ()),
            add_to_inbox=bool(self.add_to_inbox),
        )


class TaskPatch(RequestModel):
    """The ``tasks`` object of ``PATCH /v1/tasks/:id``: only what it carries changes.
    ``null`` clears ``description``, ``team`` and ``due_at``; the rest cannot be null."""

    title: Title | None = None
    description: Description | None = None
    state: TaskState | None = None
    team: str | None = None
    assignees: list[str] | None = None
    due_at: Timestamp | None = None

    _not_null = field_validator("title", "state", "assignees")(reject_null)

    def to_fields(self) -> TaskFields:
        return TaskFields(
            title=self.title,
            description=self.description,
            state=self.state,
            team=self.team,
            assignees=self.assignees,
            due_at=self.due_at,
            given=frozenset(self.model_fields_set),
        )


def _wrapped(value: Any) -> Any:
    """``{"tasks": {...}}``; an unwrapped object is accepted too, as for posts (spec 1.3)."""
    if isinstance(value, dict) and "tasks" not in value:
        return {"tasks": value}
    return value


class TasksCreateBody(RequestModel):
    tasks: TaskIn

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        return _wrapped(value)


class TasksUpdateBody(RequestModel):
    tasks: TaskPatch

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        return _wrapped(value)
