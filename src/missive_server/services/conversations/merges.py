"""Merging one conversation into another (spec 2.5.8).

Everything the source holds moves to the survivor: messages (and drafts), comments, posts,
tasks, references, participant addresses, labels and users. The source row stays, with
``merged_into_id`` set, so its id keeps resolving to the survivor (spec 2.5.2); its user and
label rows are deleted so no mailbox lists it.

Like Missive, an organization conversation merged into a personal one is swapped: the
organization conversation survives (the returned id then differs from ``target``).
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Comment,
    Conversation,
    ConversationAddress,
    ConversationLabel,
    ConversationReference,
    ConversationSearchTerm,
    ConversationUser,
    Message,
    MessageReference,
    Post,
    Task,
)
from missive_server.errors import BadRequest
from missive_server.services.conversations import conversation_state, search_terms
from missive_server.services.conversations.conversations import get_visible_conversation

#: Rows that simply change conversation.
MOVED = (Message, Comment, Post, Task, MessageReference)
#: Per-user state copied to the survivor for users only the source had.
USER_STATE = (
    "location",
    "flagged",
    "assigned",
    "unassigned",
    "snoozed_until",
    "added_at",
    "assigned_at",
)


def merge_conversations(
    session: Session,
    *,
    actor: Principal,
    source_id: str,
    target_id: str,
    subject: str | None,
    now: int,
) -> Conversation:
    """Merge ``source_id`` into ``target_id``; returns the surviving conversation."""
    source = get_visible_conversation(session, actor=actor, conversation_id=source_id)
    target = get_visible_conversation(session, actor=actor, conversation_id=target_id)
    if source.id == target.id:
        raise BadRequest("A conversation cannot be merged into itself")
    if source.organization_id is not None and target.organization_id is None:
        source, target = target, source
    if source.organization_id not in (None, target.organization_id):
        raise BadRequest("Conversations of different organizations cannot be merged")
    _move_content(session, source, target)
    _merge_users(session, source, target)
    _merge_labels(session, source, target, now)
    _adopt_fields(source, target, subject)
    search_terms.index_subject(session, target)
    source.merged_into_id = target.id
    # Earlier merges into the source now point straight at the survivor.
    session.execute(
        update(Conversation)
        .where(Conversation.merged_into_id == source.id)
        .values(merged_into_id=target.id)
    )
    session.flush()
    conversation_state.refresh_summary(session, target)
    conversation_state.touch(session, target, source.last_activity_at)
    session.flush()
    return target


def _move_content(session: Session, source: Conversation, target: Conversation) -> None:
    for model in MOVED:
        session.execute(
            update(model)
            .where(model.conversation_id == source.id)
            .values(conversation_id=target.id)
        )
    _move_unique(session, ConversationAddress, ConversationAddress.address, source, target)
    _move_unique(session, ConversationReference, ConversationReference.reference, source, target)
    _move_unique(session, ConversationSearchTerm, ConversationSearchTerm.term, source, target)


def _move_unique(
    session: Session,
    model: type[ConversationAddress] | type[ConversationReference] | type[ConversationSearchTerm],
    key: InstrumentedAttribute[str],
    source: Conversation,
    target: Conversation,
) -> None:
    """Rows unique per conversation and ``key``: the survivor keeps its own, gains the rest."""
    known = select(key).where(model.conversation_id == target.id)
    session.execute(delete(model).where(model.conversation_id == source.id, key.in_(known)))
    session.execute(
        update(model).where(model.conversation_id == source.id).values(conversation_id=target.id)
    )


def _merge_users(session: Session, source: Conversation, target: Conversation) -> None:
    """Union of users; a user of both keeps the survivor's state."""
    rows = session.scalars(
        select(ConversationUser).where(ConversationUser.conversation_id.in_((source.id, target.id)))
    ).all()
    kept = {row.user_id for row in rows if row.conversation_id == target.id}
    added = [
        ConversationUser(
            conversation_id=target.id,
            user_id=row.user_id,
            last_activity_at=target.last_activity_at,
            **{name: getattr(row, name) for name in USER_STATE},
        )
        for row in rows
        if row.conversation_id == source.id and row.user_id not in kept
    ]
    session.execute(delete(ConversationUser).where(ConversationUser.conversation_id == source.id))
    session.add_all(added)


def _merge_labels(session: Session, source: Conversation, target: Conversation, now: int) -> None:
    rows = session.execute(
        select(ConversationLabel.conversation_id, ConversationLabel.shared_label_id).where(
            ConversationLabel.conversation_id.in_((source.id, target.id))
        )
    ).all()
    kept = {label_id for cid, label_id in rows if cid == target.id}
    missing = sorted({label_id for cid, label_id in rows if cid == source.id} - kept)
    session.execute(delete(ConversationLabel).where(ConversationLabel.conversation_id == source.id))
    session.add_all(
        ConversationLabel(
            conversation_id=target.id,
            shared_label_id=label_id,
            added_at=now,
            last_activity_at=target.last_activity_at,
        )
        for label_id in missing
    )


def _adopt_fields(source: Conversation, target: Conversation, subject: str | None) -> None:
    """The survivor keeps its own fields; the source's fill only what it lacks."""
    if subject is not None:
        target.subject = subject or None
    elif target.subject is None:
        target.subject = source.subject
    target.color = target.color or source.color
    target.organization_id = target.organization_id or source.organization_id
    if target.team_id is None and source.team_id is not None:
        target.team_id, target.team_state = source.team_id, source.team_state
