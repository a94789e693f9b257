"""SMS and WhatsApp conversations thread by the phone-number pair (spec 1A: a message's
``references`` hold ``"+13306795612+18336856203"``, the other party's number then the
account's): a second message between the same two numbers lands in the same conversation.

The pair is looked up among the messages of the same account only, since an SMS and a WhatsApp
account may share a number and their conversations stay apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Conversation, ConversationUser, Message, MessageReference
from missive_server.services.conversations.conversations import resolve_merges

#: Channels whose conversations thread by the phone-number pair.
PHONE_THREADED = ("sms", "whatsapp")


@dataclass(frozen=True, slots=True)
class PhoneThread:
    """Where to look for the conversation of a phone-number pair: the account's messages."""

    account_id: str
    pair: str


def phone_pair(counterparty: str | None, account_number: str | None) -> str | None:
    """The other party's number then the account's, whichever way the message goes."""
    if not counterparty or not account_number:
        return None
    return f"{counterparty.strip()}{account_number.strip()}"


def with_phone_pair(references: Sequence[str], pair: str | None) -> list[str]:
    """``references`` plus ``pair`` when it is not there already."""
    return [*references, pair] if pair and pair not in references else list(references)


def find_phone_thread(
    session: Session, *, actor: Principal, thread: PhoneThread
) -> Conversation | None:
    """The latest active conversation the actor can access holding a message of the account
    with this pair (merged conversations lead to their survivor)."""
    found = session.scalar(
        select(Conversation)
        .join(MessageReference, MessageReference.conversation_id == Conversation.id)
        .join(Message, Message.id == MessageReference.message_id)
        .join(
            ConversationUser,
            (ConversationUser.conversation_id == Conversation.id)
            & (ConversationUser.user_id == actor.user_id),
        )
        .where(MessageReference.reference == thread.pair, Message.account_id == thread.account_id)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id)
        .limit(1)
    )
    return resolve_merges(session, found)
