"""What the inbox UI's action forms do to a conversation: each form is translated into the same
``ConversationActions`` the REST API applies (``PATCH /v1/conversations``, posts, drafts), and a
comment goes through ``comments.create_comment``, so the state changes and hook events are
identical whichever door a change came through."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Conversation, Membership, User
from missive_server.errors import BadRequest
from missive_server.schemas.conversation_actions import ConversationActions
from missive_server.services.conversations import comments, conversation_actions

#: Form ``action`` values that take the id in ``value`` (a label or a user).
WITH_ID = {"add_label", "remove_label", "assign", "unassign"}
ACTIONS = {"close", "reopen", "comment", *WITH_ID}
MAX_COMMENT = 10_000


def members(session: Session, organization_id: str | None) -> list[User]:
    """The people a conversation of ``organization_id`` can be assigned to."""
    if organization_id is None:
        return []
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization_id)
        .order_by(User.name, User.email)
    )
    return list(session.scalars(stmt))


def _actions(action: str, value: str, organization_id: str | None) -> ConversationActions:
    if action in WITH_ID and not value:
        raise BadRequest("Choose what to apply first.")
    if action in ("add_label", "assign") and organization_id is None:
        raise BadRequest("Only a conversation of an organization has labels and assignees.")
    org = organization_id
    match action:
        case "close":
            return ConversationActions(close=True)
        case "reopen":
            return ConversationActions(reopen=True)
        case "add_label":
            return ConversationActions(organization=org, add_shared_labels=[value])
        case "remove_label":
            return ConversationActions(remove_shared_labels=[value])
        case "assign":
            # The REST API needs add_users too for someone not yet in the conversation; an
            # assignee is granted access by add_assignees itself (services/conversation_actions).
            return ConversationActions(organization=org, add_assignees=[value])
        case _:
            return ConversationActions(organization=org, remove_assignees=[value])


def act(
    session: Session,
    conversation: Conversation,
    *,
    actor: Principal,
    action: str,
    value: str,
    now: int,
) -> str:
    """Apply one form; returns what to tell the user. Bad input raises ``BadRequest`` or
    ``NotFound`` (as the REST API would), before anything is written."""
    if action not in ACTIONS:
        raise BadRequest("Unknown action.")
    if action == "comment":
        body = value.strip()
        if not body:
            raise BadRequest("Write a comment first.")
        if len(body) > MAX_COMMENT:
            raise BadRequest(f"A comment is at most {MAX_COMMENT} characters.")
        comments.create_comment(session, conversation, author_id=actor.user_id, body=body, now=now)
        return "Comment added."
    actions = _actions(action, value, conversation.organization_id)
    conversation_actions.apply_actions(session, conversation, actions, actor=actor, now=now)
    return {
        "close": "Closed.",
        "reopen": "Reopened.",
        "add_label": "Label added.",
        "remove_label": "Label removed.",
        "assign": "Assigned.",
        "unassign": "Unassigned.",
    }[action]
