"""Creating and updating tasks (spec 2.14.3, 2.14.4).

Choices where Missive is silent (docs/compatibility.md, "Tasks"):
- every task belongs to an organization; a subtask takes its conversation's (so a subtask of a
  personal conversation needs ``organization``, which links the conversation to it).
- a subtask is recorded as a comment by the caller whose body is the title, carrying the task
  (``GET /v1/conversations/:id/comments`` shows it); creating one moves the conversation's
  ``last_activity_at`` like any comment, updating it does not (the count columns still follow).
- assignees of a subtask get access to its conversation, in All only (tasks appear in the
  Tasks view, not the Inbox, spec 2.14); the caller is not made a watcher.
- ``started_at`` is set when a task enters ``in_progress`` (kept when it goes on to ``closed``
  or comes back from it), ``closed_at`` when it enters ``closed``; ``todo`` clears both.
- a standalone task always keeps a team or an assignee.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Comment, Conversation, Task, TaskAssignee, Team
from missive_server.errors import BadRequest
from missive_server.ids import new_id
from missive_server.schemas.conversation_actions import ConversationActions
from missive_server.schemas.tasks import TaskFields, TaskPlacement
from missive_server.services.conversations import conversation_state, search_terms
from missive_server.services.conversations.comments import create_comment
from missive_server.services.conversations.conversation_actions import find_team
from missive_server.services.conversations.conversation_targets import open_target
from missive_server.services.conversations.messages import remember_references
from missive_server.services.conversations.tasks import get_visible_task
from missive_server.services.directory.organizations import require_member
from missive_server.services.directory.users import require_users_in_organization

#: Parameters that only place a subtask (spec 2.14.3).
SUBTASK_ONLY = ("conversation", "references", "conversation_subject", "add_users", "add_to_inbox")
STANDALONE_RULE = "'team' or 'assignees' is required for a standalone task"


def create_task(
    session: Session,
    *,
    actor: Principal,
    fields: TaskFields,
    placement: TaskPlacement,
    now: int,
) -> Task:
    """A standalone task, or a subtask in the conversation found by id or references (or a
    new one). Every id is checked before anything is written, except that a located personal
    conversation is refused after the fact (the request's transaction then rolls back)."""
    _check_placement(fields, placement)
    organization_id = (
        require_member(actor, placement.organization) if placement.organization else None
    )
    team = find_team(session, actor, fields.team, organization_id)
    assignees = _assignees(session, organization_id, fields.assignees or [])
    conversation = _parent(session, actor, placement, now) if placement.subtask else None
    task = Task(
        id=new_id(),
        organization_id=conversation.organization_id if conversation else organization_id,
        conversation_id=conversation.id if conversation else None,
        team_id=team.id if team else None,
        creator_id=actor.user_id,
        type="task",
        title=fields.title,
        description=fields.description,
        state="todo",
        due_at=fields.due_at,
        created_at=now,
        last_activity_at=now,
    )
    _enter_state(task, fields.state or "todo", now)
    session.add(task)
    session.flush()
    _replace_assignees(session, task, assignees)
    if conversation is not None:
        _add_to_conversation(session, task, conversation, assignees, author_id=actor.user_id)
    return task


def _add_to_conversation(
    session: Session,
    task: Task,
    conversation: Conversation,
    assignees: list[str],
    *,
    author_id: str,
) -> None:
    """The comment carrying the task, access for its assignees, activity and counts."""
    now = task.created_at
    create_comment(
        session, conversation, author_id=author_id, body=task.title, task_id=task.id, now=now
    )
    conversation_state.grant_access(session, conversation, assignees, now=now, location="none")
    conversation_state.touch(session, conversation, now)
    session.flush()
    conversation_state.refresh_summary(session, conversation)
    session.flush()


def _check_placement(fields: TaskFields, placement: TaskPlacement) -> None:
    if not placement.subtask:
        for name in SUBTASK_ONLY:
            if getattr(placement, name):
                raise BadRequest(f"'{name}' requires 'subtask' to be true")
        if fields.team is None and not fields.assignees:
            raise BadRequest(STANDALONE_RULE)
    elif placement.conversation is None and not placement.references:
        raise BadRequest("'conversation' or 'references' is required when 'subtask' is true")
    if placement.organization is None:
        used = (
            ("team", fields.team),
            ("assignees", fields.assignees),
            ("add_users", placement.add_users),
        )
        for name, value in used:
            if value:
                raise BadRequest(f"'organization' is required when using '{name}'")


def _assignees(session: Session, organization_id: str | None, user_ids: Sequence[str]) -> list[str]:
    if not user_ids or organization_id is None:
        return []
    return require_users_in_organization(session, organization_id, user_ids)


def _parent(session: Session, actor: Principal, placement: TaskPlacement, now: int) -> Conversation:
    """The subtask's conversation, through the one locate-or-create path (spec 1B)."""
    actions = ConversationActions(
        organization=placement.organization,
        add_users=list(placement.add_users),
        add_to_inbox=placement.add_to_inbox,
    )
    target = open_target(
        session,
        actor=actor,
        conversation_id=placement.conversation,
        references=placement.references,
        actions=actions,
        now=now,
    )
    conversation = target.conversation
    if conversation.organization_id is None:
        # Tasks are an organization feature; the request's transaction rolls back.
        raise BadRequest("'organization' is required for a subtask of a personal conversation")
    if target.created and placement.conversation_subject:
        # Spec 2.14.3: the subject of the parent conversation "if references creates a new one".
        conversation.subject = placement.conversation_subject
        search_terms.index_subject(session, conversation)
    remember_references(session, conversation.id, placement.references)
    return conversation


def update_task(
    session: Session, *, actor: Principal, task_id: str, fields: TaskFields, now: int
) -> Task:
    """``PATCH /v1/tasks/:id``: only the fields given change; ``assignees`` replaces the list."""
    task = get_visible_task(session, actor=actor, task_id=task_id)
    given = fields.given
    if not given:
        return task
    team = find_team(session, actor, fields.team, task.organization_id) if "team" in given else None
    assignees = None
    if "assignees" in given:
        assignees = _assignees(session, task.organization_id, fields.assignees or [])
    if task.conversation_id is None and task.type == "task":
        _keep_standalone_rule(
            session, task, team_given="team" in given, team=team, assignees=assignees
        )
    _apply(task, fields, team, now)
    if assignees is not None:
        _replace_assignees(session, task, assignees)
    session.execute(
        update(TaskAssignee).where(TaskAssignee.task_id == task.id).values(last_activity_at=now)
    )
    if task.conversation_id is not None:
        _sync_conversation(session, task, assignees, now)
    session.flush()
    return task


def _keep_standalone_rule(
    session: Session,
    task: Task,
    *,
    team_given: bool,
    team: Team | None,
    assignees: list[str] | None,
) -> None:
    has_team = team is not None if team_given else task.team_id is not None
    if assignees is None:
        has_assignees = (
            session.scalar(select(TaskAssignee.user_id).where(TaskAssignee.task_id == task.id))
            is not None
        )
    else:
        has_assignees = bool(assignees)
    if not (has_team or has_assignees):
        raise BadRequest(STANDALONE_RULE)


def _apply(task: Task, fields: TaskFields, team: Team | None, now: int) -> None:
    given = fields.given
    if fields.title is not None:
        task.title = fields.title
    if "description" in given:
        task.description = fields.description
    if "team" in given:
        task.team_id = team.id if team else None
    if "due_at" in given:
        task.due_at = fields.due_at
    if fields.state is not None:
        _enter_state(task, fields.state, now)
    task.last_activity_at = max(task.last_activity_at, now)


def _enter_state(task: Task, state: str, now: int) -> None:
    if state == task.state:
        return
    if state == "todo":
        task.started_at, task.closed_at = None, None
    elif state == "in_progress":
        task.started_at, task.closed_at = task.started_at or now, None
    else:
        task.closed_at = now
    task.state = state


def _replace_assignees(session: Session, task: Task, user_ids: Sequence[str]) -> None:
    session.execute(delete(TaskAssignee).where(TaskAssignee.task_id == task.id))
    session.add_all(
        TaskAssignee(task_id=task.id, user_id=user_id, last_activity_at=task.last_activity_at)
        for user_id in dict.fromkeys(user_ids)
    )
    session.flush()


def _sync_conversation(session: Session, task: Task, assignees: list[str] | None, now: int) -> None:
    """The comment shows the title; new assignees get access; counts follow the state."""
    conversation = session.get(Conversation, task.conversation_id)
    if conversation is None:
        return
    session.execute(update(Comment).where(Comment.task_id == task.id).values(body=task.title))
    if assignees:
        conversation_state.grant_access(session, conversation, assignees, now=now, location="none")
    session.flush()  # the counts are queried from the rows
    conversation_state.refresh_summary(session, conversation)
