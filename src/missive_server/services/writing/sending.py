"""Sending drafts (spec 2.6.1 ``send`` / ``send_at``): a sent draft becomes a message of its
conversation, keeping its id (clients then read it with ``GET /v1/messages/:id``), and its
delivery becomes an outbox row in the same transaction:

- email: kind ``mail``, payload ``{"envelope_from", "recipients"}`` (To, Cc and Bcc addresses);
  the message gets its own ``Message-ID`` and threads (``In-Reply-To``/``References``) to the
  conversation's previous email;
- every other channel: kind ``channel``, payload ``{"channel": <account type>, "account_id"}``;
- ``send_at``: kind ``send_draft`` due at that time; the worker then calls ``send_draft``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.db.models import Account, Conversation, Message, OutboxItem
from missive_server.ids import new_id
from missive_server.services import events, outbox
from missive_server.services.conversations import conversation_state, search_terms
from missive_server.services.conversations.messages import (
    normalize_reference,
    record_addresses,
    record_references,
)
from missive_server.services.outbox import RetryPolicy
from missive_server.services.text import preview

#: Right-hand side of minted Message-IDs when the sender has no address (never in practice).
FALLBACK_DOMAIN = "missive-server.invalid"


def send_draft(session: Session, draft: Message, *, now: int, policy: RetryPolicy) -> Message:
    """Turn ``draft`` into a message delivered ``now`` and enqueue its delivery. Flushes."""
    conversation = session.get(Conversation, draft.conversation_id)
    assert conversation is not None  # messages cascade with their conversation
    account = session.get(Account, draft.account_id) if draft.account_id else None
    by_mail = draft.type == "email" and (account is None or account.type == "email")
    if by_mail:
        _thread(session, draft)
    draft.draft = False
    draft.delivered_at = now
    draft.updated_at = now
    draft.preview = preview(draft.body)
    draft.delivery_status = "queued"
    draft.delivery_error = None
    session.flush()
    record_references(session, draft)
    record_addresses(session, conversation, _addresses(draft))
    search_terms.index_message(session, draft)
    session.flush()
    conversation_state.refresh_summary(session, conversation)
    conversation_state.touch(session, conversation, now)
    outbox.enqueue(
        session,
        kind="mail" if by_mail else "channel",
        now=now,
        policy=policy,
        message_id=draft.id,
        conversation_id=conversation.id,
        payload=_mail_payload(draft) if by_mail else _channel_payload(draft, account),
    )
    session.flush()
    event = events.outgoing_event(account.type if account else None, draft.type)
    if event is not None:
        events.record(session, event=event, conversation=conversation, now=now, message=draft)
    return draft


def schedule_draft(
    session: Session, draft: Message, *, now: int, policy: RetryPolicy
) -> OutboxItem:
    """The durable "send later": a ``send_draft`` row due at ``draft.send_at``. A time already
    past is due at once (the worker's next pass sends it)."""
    assert draft.send_at is not None
    item = outbox.enqueue(
        session,
        kind="send_draft",
        now=now,
        policy=policy,
        due_at=draft.send_at,
        message_id=draft.id,
        conversation_id=draft.conversation_id,
    )
    session.flush()
    return item


def _thread(session: Session, draft: Message) -> None:
    """A Message-ID of our own, and threading to the conversation's latest email (RFC 5322
    3.6.4: References = the parent's References, or its In-Reply-To, then the parent's id).
    A first message keeps the ``references`` the draft was created with."""
    draft.email_message_id = f"<{new_id()}@{_domain(draft)}>"
    parent = session.scalar(
        select(Message)
        .where(
            Message.conversation_id == draft.conversation_id,
            Message.draft.is_(False),
            Message.email_message_id.is_not(None),
            Message.id != draft.id,
        )
        .order_by(Message.delivered_at.desc(), Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    if parent is None or not normalize_reference(parent.email_message_id or ""):
        draft.in_reply_to = []
        draft.references = _chevrons(draft.references)
        return
    parent_id = _chevrons([parent.email_message_id or ""])
    chain = parent.references or parent.in_reply_to[:1]
    draft.in_reply_to = parent_id
    draft.references = list(dict.fromkeys([*_chevrons(chain), *parent_id]))


def _chevrons(references: Sequence[object]) -> list[str]:
    normalized = (normalize_reference(str(r)) for r in references)
    return list(dict.fromkeys(f"<{r}>" for r in normalized if r))


def _domain(draft: Message) -> str:
    address = str((draft.from_field or {}).get("address") or "")
    domain = address.rpartition("@")[2].strip().lower()
    if not domain:
        return FALLBACK_DOMAIN
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return FALLBACK_DOMAIN


def _addresses(message: Message) -> list[str]:
    fields = [
        message.from_field,
        *message.to_fields,
        *message.cc_fields,
        *message.bcc_fields,
        *message.reply_to_fields,
    ]
    return [str(f["address"]) for f in fields if f and f.get("address")]


def _mail_payload(draft: Message) -> dict[str, object]:
    recipients = [*draft.to_fields, *draft.cc_fields, *draft.bcc_fields]
    return {
        "envelope_from": str((draft.from_field or {}).get("address") or ""),
        "recipients": list(
            dict.fromkeys(str(r["address"]) for r in recipients if r.get("address"))
        ),
    }


def _channel_payload(draft: Message, account: Account | None) -> dict[str, object]:
    return {"channel": account.type if account else draft.type, "account_id": draft.account_id}
