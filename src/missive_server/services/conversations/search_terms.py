"""The conversation search index: ``conversation_search_terms`` kept current on every write.

Each writer of searchable text calls one function here in its own transaction: a delivered
message (``messages.add_message``, ``writing.sending.send_draft``), a post, a comment, a
subject. Terms are only ever added (a conversation is still found by a former subject or a
deleted post's words); a merge moves the source's terms to the survivor. The words are those of
``db.search_text``, which the 0015 migration used to backfill existing data, and
``seed.bench_data`` writes the same rows in bulk. Reading is ``services.web.search``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from missive_server.db.base import table_of
from missive_server.db.models import Comment, Conversation, ConversationSearchTerm, Message, Post
from missive_server.db.search_text import message_terms, text_terms

#: Built once per backend; run through Core, not the ORM's bulk insert (a third of the cost on
#: every post and message, issue 13).
_INSERTS: dict[str, Any] = {
    name: dialect.insert(table_of(ConversationSearchTerm)).on_conflict_do_nothing()
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def add_terms(session: Session, conversation_id: str, terms: Iterable[str]) -> None:
    """Insert the terms the conversation lacks, in one statement: ``ON CONFLICT DO NOTHING``
    on the primary key skips those it has (both backends)."""
    rows = [{"term": w, "conversation_id": conversation_id} for w in sorted(set(terms))]
    if not rows:
        return
    # Core does not autoflush: the conversation the rows reference must be written first.
    session.flush()
    connection = session.connection()
    connection.execute(_INSERTS[connection.dialect.name], rows)


def message_parties(message: Message) -> list[dict[str, Any] | None]:
    return [
        message.from_field,
        *message.to_fields,
        *message.cc_fields,
        *message.bcc_fields,
        *message.reply_to_fields,
    ]


def index_message(session: Session, message: Message) -> None:
    """A delivered message (never a draft: drafts are their author's only)."""
    terms = message_terms(message.subject, message.body, message_parties(message))
    add_terms(session, message.conversation_id, terms)


def index_subject(session: Session, conversation: Conversation) -> None:
    if conversation.subject:
        add_terms(session, conversation.id, text_terms(conversation.subject))


def index_post(session: Session, post: Post) -> None:
    add_terms(session, post.conversation_id, post_terms(post))


def post_terms(post: Post) -> set[str]:
    notification = post.notification or {}
    return text_terms(
        post.text,
        post.markdown,
        post.username,
        str(notification.get("title") or ""),
        str(notification.get("body") or ""),
    )


def index_comment(session: Session, comment: Comment) -> None:
    add_terms(session, comment.conversation_id, text_terms(comment.body))
