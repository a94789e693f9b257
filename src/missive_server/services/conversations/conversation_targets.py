"""Where a new draft, message, post or task goes (spec 1B): an existing conversation found by
id or references, or a new one, with the conversation actions applied. One code path for every
writer, so they all locate, create and act on conversations the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Conversation
from missive_server.schemas.conversation_actions import ConversationActions
from missive_server.services.conversations import conversation_state
from missive_server.services.conversations.conversation_actions import (
    apply_resolved,
    locate_conversation,
    validate_actions,
)
from missive_server.services.conversations.conversations import create_conversation
from missive_server.services.conversations.phone_threads import PhoneThread, find_phone_thread


@dataclass(frozen=True, slots=True)
class Target:
    conversation: Conversation
    created: bool


def open_target(
    session: Session,
    *,
    actor: Principal,
    conversation_id: str | None,
    references: Sequence[str] | None,
    actions: ConversationActions,
    now: int,
    account_id: str | None = None,
    team_id: str | None = None,
    rename_existing: bool = True,
    phone_thread: PhoneThread | None = None,
) -> Target:
    """Locate (or create) the conversation and apply ``actions`` to it.

    A new conversation belongs to ``actions.organization`` (or the team's organization) and
    starts in the actor's Inbox. ``team_id`` is a default team (an account's), used only when the
    actions name none. ``rename_existing=False`` applies ``actions.subject`` to a new
    conversation only (posts without ``update_existing_conversation_subject``). Everything is
    validated before anything is written. ``phone_thread`` (SMS, WhatsApp) is where to look when
    neither the id nor the references name a conversation.
    """
    found = locate_conversation(
        session,
        actor=actor,
        conversation_id=conversation_id,
        references=references,
        organization_id=actions.organization,
    )
    if found is None and conversation_id is None and phone_thread is not None:
        found = find_phone_thread(session, actor=actor, thread=phone_thread)
    if actions.team is None and team_id is not None and found is None:
        actions.team = team_id
    if found is not None and not rename_existing:
        actions.subject = None
    plan = validate_actions(session, actions, actor=actor, conversation=found)
    conversation = found
    if conversation is None:
        conversation = create_conversation(
            session, now=now, organization_id=plan.organization_id, account_id=account_id
        )
        conversation_state.grant_access(session, conversation, [actor.user_id], now=now)
    apply_resolved(session, conversation, actions, plan, now=now)
    return Target(conversation=conversation, created=found is None)
