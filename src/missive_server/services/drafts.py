"""Drafts: unsent messages of a conversation (spec 2.5.6, 2.6)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Conversation, Message
from missive_server.pagination import CursorPage
from missive_server.schemas.messages import MessageView
from missive_server.services import conversation_state, outbox
from missive_server.services.conversations import get_visible_conversation
from missive_server.services.messages import cursor_entities, load_message_views


def list_drafts(
    session: Session, *, actor: Principal, conversation_id: str, page: CursorPage
) -> list[MessageView]:
    """Newest first by ``created_at``: drafts have ``delivered_at: null``, so both the order and
    ``until`` use the creation time (spec 2.5.6 says to page on ``delivered_at`` [INF])."""
    conversation = get_visible_conversation(session, actor=actor, conversation_id=conversation_id)
    stmt = select(Message.id, Message.created_at, Message).where(
        Message.conversation_id == conversation.id, Message.draft.is_(True)
    )
    found = cursor_entities(
        session, stmt, timestamp=Message.created_at, tiebreak=Message.id, page=page
    )
    return load_message_views(session, found, all_authors=True)


def discard_auto_followups(session: Session, *, conversation_id: str, now: int) -> list[str]:
    """A reply arrived: scheduled drafts marked ``auto_followup`` are discarded (spec 2.6.1) and
    their pending sends cancelled. Returns the discarded draft ids."""
    ids = list(
        session.scalars(
            select(Message.id).where(
                Message.conversation_id == conversation_id,
                Message.draft.is_(True),
                Message.auto_followup.is_(True),
                Message.send_at.is_not(None),
            )
        )
    )
    if not ids:
        return []
    outbox.cancel_pending(session, now=now, message_ids=ids)
    session.execute(delete(Message).where(Message.id.in_(ids)))
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None:
        conversation_state.refresh_summary(session, conversation)
    session.flush()
    return ids
