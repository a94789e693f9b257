"""Conversation wire objects (spec 1A, Conversation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from missive_server.db.models import Conversation
from missive_server.schemas.base import WireModel
from missive_server.schemas.shared_labels import (
    SharedLabelLike,
    SharedLabelOut,
    render_shared_label,
)

# The related rows of a rendered conversation are plain tuples read with Core, not ORM entities:
# building and tracking entities was most of a conversation read's CPU (bench/README.md, issue
# 13). Field names are the columns' names, so ORM rows and these render alike.


class ConversationRow(NamedTuple):
    """A ``conversations`` row as reads see it (``services.conversations.conversations``
    reads it with Core); writers keep the ORM entity, which renders alike."""

    id: str
    organization_id: str | None
    team_id: str | None
    team_state: str
    account_id: str | None
    subject: str | None
    color: str | None
    icon_url: str | None
    created_at: int
    last_activity_at: int
    merged_into_id: str | None
    closed_at: int | None
    latest_message_subject: str | None
    messages_count: int
    attachments_count: int
    drafts_count: int
    send_later_messages_count: int
    tasks_count: int
    completed_tasks_count: int
    authors: list[Any]


class OrganizationRow(NamedTuple):
    id: str
    name: str


class TeamRow(NamedTuple):
    id: str
    name: str
    organization_id: str


class UserRow(NamedTuple):
    id: str
    name: str
    email: str


class UserStateRow(NamedTuple):
    """A ``conversation_users`` row: one user's state of the conversation."""

    conversation_id: str
    location: str
    flagged: bool
    assigned: bool
    unassigned: bool
    assigned_at: int | None
    last_activity_at: int
    #: When this user last opened it in the web app (unread state; not on the wire).
    read_at: int | None


class LabelRow(NamedTuple):
    id: str
    organization_id: str
    name: str
    color: str | None
    parent_id: str | None
    share_with_organization: bool
    share_with_team_id: str | None
    visibility: str


@dataclass(slots=True)
class LabelView:
    label: SharedLabelLike
    name_with_parent_names: str
    share_with_users: list[str]


@dataclass(slots=True)
class ConversationView:
    conversation: Conversation | ConversationRow
    organization: OrganizationRow | None
    team: TeamRow | None
    #: True when the caller is only a guest: render ``{id, last_activity_at}`` (spec 1.10).
    guest: bool
    users: list[tuple[UserRow, UserStateRow]] = field(default_factory=list)
    labels: list[LabelView] = field(default_factory=list)


class OrganizationRef(WireModel):
    id: str
    name: str


class TeamRef(WireModel):
    id: str
    name: str
    organization: str


class ConversationUserOut(WireModel):
    id: str
    name: str
    email: str
    unassigned: bool
    closed: bool
    archived: bool
    trashed: bool
    junked: bool
    assigned: bool
    flagged: bool
    snoozed: bool


class AuthorOut(WireModel):
    name: str | None
    address: str | None = None
    phone_number: str | None = None


class ConversationOut(WireModel):
    id: str
    created_at: int | None = None
    subject: str | None = None
    latest_message_subject: str | None = None
    organization: OrganizationRef | None = None
    color: str | None = None
    assignees: list[ConversationUserOut] | None = None
    users: list[ConversationUserOut] | None = None
    attachments_count: int | None = None
    messages_count: int | None = None
    authors: list[AuthorOut] | None = None
    drafts_count: int | None = None
    send_later_messages_count: int | None = None
    tasks_count: int | None = None
    completed_tasks_count: int | None = None
    web_url: str | None = None
    app_url: str | None = None
    assignee_names: str | None = None
    assignee_emails: str | None = None
    shared_label_names: str | None = None
    last_activity_at: int
    team: TeamRef | None = None
    shared_labels: list[SharedLabelOut] | None = None


class ConversationsEnvelope(WireModel):
    conversations: list[ConversationOut]


def render_conversation_user(user: UserRow, state: UserStateRow) -> dict[str, Any]:
    closed = state.location == "closed"
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "unassigned": state.unassigned,
        "closed": closed,
        "archived": closed,
        "trashed": state.location == "trashed",
        "junked": state.location == "junked",
        "assigned": state.assigned,
        "flagged": state.flagged,
        "snoozed": state.location == "snoozed",
    }


def render_conversation(view: ConversationView, *, public_url: str) -> dict[str, Any]:
    c = view.conversation
    if view.guest:
        return {"id": c.id, "last_activity_at": c.last_activity_at}
    users = [render_conversation_user(u, s) for u, s in view.users]
    assigned = sorted((s.assigned_at or 0, u.name, u, s) for u, s in view.users if s.assigned)
    assignees = [render_conversation_user(u, s) for *_, u, s in assigned]
    labels = [
        render_shared_label(
            v.label, parent_names=v.name_with_parent_names, share_with_users=v.share_with_users
        )
        for v in view.labels
    ]
    web_url, app_url = conversation_urls(public_url, c.id)
    return {
        "id": c.id,
        "created_at": c.created_at,
        "subject": c.subject,
        "latest_message_subject": c.latest_message_subject,
        "organization": {"id": view.organization.id, "name": view.organization.name}
        if view.organization
        else None,
        "color": c.color,
        "assignees": assignees,
        "users": users,
        "attachments_count": c.attachments_count,
        "messages_count": c.messages_count,
        "authors": c.authors,
        "drafts_count": c.drafts_count,
        "send_later_messages_count": c.send_later_messages_count,
        "tasks_count": c.tasks_count,
        "completed_tasks_count": c.completed_tasks_count,
        "web_url": web_url,
        "app_url": app_url,
        "assignee_names": ", ".join(a["name"] for a in assignees),
        "assignee_emails": ", ".join(a["email"] for a in assignees),
        "shared_label_names": ", ".join(label["name"] for label in labels),
        "last_activity_at": c.last_activity_at,
        "team": (
            {"id": view.team.id, "name": view.team.name, "organization": view.team.organization_id}
            if view.team
            else None
        ),
        "shared_labels": labels,
    }


def conversation_urls(public_url: str, conversation_id: str) -> tuple[str, str]:
    """``web_url`` points at our web UI; ``app_url`` keeps Missive's ``missive://`` scheme."""
    base = public_url.rstrip("/")
    fragment = f"/#inbox/conversations/{conversation_id}"
    return base + fragment, "missive://" + urlsplit(base).netloc + fragment
