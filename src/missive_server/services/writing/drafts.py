"""Drafts: unsent messages of a conversation (spec 2.5.6, 2.6).

Choices where Missive is silent (docs/compatibility.md):
- the sending account is ``account`` when given, else the one behind ``from_field`` (a phone
  number for SMS/WhatsApp, else an email alias); it must be the caller's (owned or shared);
- a new conversation joins the account's organization and team (as received mail does);
- ``subject`` is kept for email only; a conversation holding only a new draft shows its subject
  as ``latest_message_subject`` until something is sent;
- anyone who can see the conversation may delete its drafts.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Account, Conversation, ConversationUser, Message
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id
from missive_server.pagination import CursorPage
from missive_server.schemas.conversation_actions import ConversationActions
from missive_server.schemas.drafts import (
    DraftRequest,
    Recipients,
    custom_participant,
    email_participant,
    phone_number,
    recipients,
    text_value,
)
from missive_server.schemas.messages import MessageView, Participant
from missive_server.services import outbox
from missive_server.services.conversations import conversation_state
from missive_server.services.conversations.attachments import NewAttachment, build_attachment
from missive_server.services.conversations.conversation_targets import open_target
from missive_server.services.conversations.conversations import get_visible_conversation
from missive_server.services.conversations.messages import cursor_entities, load_message_views
from missive_server.services.conversations.phone_threads import (
    PHONE_THREADED,
    PhoneThread,
    phone_pair,
    with_phone_pair,
)
from missive_server.services.outbox import RetryPolicy
from missive_server.services.text import preview
from missive_server.services.writing.aliases import (
    PHONE_PROVIDERS,
    PHONE_TYPES,
    find_sender,
    phone_account,
    usable_account,
)
from missive_server.services.writing.sending import schedule_draft, send_draft


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


# --- POST /v1/drafts, DELETE /v1/drafts/:id (spec 2.6) ---------------------------------------

#: Missive's exact text for a ``from_field`` that is missing or not the caller's (spec 1.5).
SENDER_MISMATCH = "'from_field' does not match an available sender"
SEND_CONFLICT = "'send' and 'send_at' cannot be combined"
FOLLOWUP_NEEDS_SEND_AT = "'auto_followup' requires 'send_at'"
NO_RECIPIENT = "'to_fields' must hold at least one recipient to send"
PROVIDER_RULE = "'from_field.type' must be one of " + ", ".join(PHONE_PROVIDERS)
#: Channels addressed by ``{"id", "name", "username"}`` participants.
ID_CHANNELS = ("messenger", "instagram", "live_chat")


@dataclass(frozen=True, slots=True)
class Channel:
    """How a draft is sent: the account, the shape of its participants (an account type, or
    ``email``), the message ``type`` and the sender as stored."""

    account: Account
    shape: str
    message_type: str
    from_field: Participant


def create_draft(
    session: Session,
    *,
    actor: Principal,
    request: DraftRequest,
    actions: ConversationActions,
    now: int,
    policy: RetryPolicy,
) -> MessageView:
    """Write a draft into the conversation found by id or references (or a new one), apply the
    conversation actions, then send it (``send``) or schedule it (``send_at``).

    Everything is validated before anything is written. ``reopen`` is not a draft parameter.
    """
    channel, to = _validate(session, actor, request)
    actions.reopen = False
    pair = _phone_pair(channel, to)
    target = open_target(
        session,
        actor=actor,
        conversation_id=request.conversation,
        references=request.references,
        actions=actions,
        now=now,
        account_id=channel.account.id,
        team_id=_default_team(actor, channel.account, actions),
        phone_thread=PhoneThread(channel.account.id, pair) if pair else None,
    )
    conversation = target.conversation
    if target.created:
        _adopt(conversation, channel.account, actor)
    draft = _write_draft(
        session,
        conversation,
        request,
        channel,
        to,
        references=with_phone_pair(request.references, pair),
        actor=actor,
        now=now,
    )
    _attach(session, draft, request.files, conversation=conversation, now=now)
    if request.send:
        send_draft(session, draft, now=now, policy=policy)
    else:
        if request.send_at is not None:
            schedule_draft(session, draft, now=now, policy=policy)
        conversation_state.refresh_summary(session, conversation)
        conversation_state.touch(session, conversation, now)
    session.flush()
    return load_message_views(session, [draft], all_authors=True)[0]


def _validate(
    session: Session, actor: Principal, request: DraftRequest
) -> tuple[Channel, Recipients]:
    if request.send and request.send_at is not None:
        raise BadRequest(SEND_CONFLICT)
    if request.auto_followup and request.send_at is None:
        raise BadRequest(FOLLOWUP_NEEDS_SEND_AT)
    channel = resolve_channel(session, actor=actor, request=request)
    to = recipients(channel.shape, request.to_fields, request.cc_fields, request.bcc_fields)
    if (request.send or request.send_at is not None) and not to:
        raise BadRequest(NO_RECIPIENT)
    return channel, to


def delete_draft(session: Session, *, actor: Principal, draft_id: str, now: int) -> None:
    """Delete a draft of a conversation the caller can see, cancelling its scheduled send.
    Sent messages, unknown ids and other people's conversations are all 404."""
    draft = session.scalar(
        select(Message)
        .join(
            ConversationUser,
            (ConversationUser.conversation_id == Message.conversation_id)
            & (ConversationUser.user_id == actor.user_id),
        )
        .where(Message.id == draft_id, Message.draft.is_(True))
    )
    if draft is None:
        raise not_found("Draft", draft_id)
    # Before the DELETE, which sets the rows' ``message_id`` to NULL.
    outbox.cancel_pending(session, now=now, message_ids=[draft.id])
    # ``draft`` again: the worker may have sent it since the SELECT (then all is rolled back).
    deleted = session.execute(
        delete(Message).where(Message.id == draft.id, Message.draft.is_(True))
    )
    if not getattr(deleted, "rowcount", 0):
        raise not_found("Draft", draft_id)
    conversation = session.get(Conversation, draft.conversation_id)
    if conversation is not None:
        conversation_state.refresh_summary(session, conversation)
    session.flush()


def resolve_channel(session: Session, *, actor: Principal, request: DraftRequest) -> Channel:
    """The sending account: ``account`` when given (404 unless the caller may use it), else the
    one behind ``from_field`` (a phone number, else an email alias)."""
    from_field = request.from_field
    if request.account is not None:
        account = usable_account(session, actor, request.account)
        if account is None:
            raise not_found("Account", request.account)
        return _channel_of(session, actor, account, from_field)
    if from_field is not None and from_field.get("phone_number") is not None:
        return _phone_channel(session, actor, from_field, None)
    return _email_channel(session, actor, from_field, None)


def _channel_of(
    session: Session, actor: Principal, account: Account, from_field: dict[str, Any] | None
) -> Channel:
    if account.type == "email":
        return _email_channel(session, actor, from_field, account)
    if account.type in PHONE_TYPES:
        return _phone_channel(session, actor, from_field, account)
    default = {"id": None, "name": account.name, "username": account.name}
    if account.type == "custom" and account.message_type == "email":
        sender = (
            email_participant(from_field, "from_field")
            if from_field
            else {"name": account.name, "address": account.address}
        )
        return Channel(account, "email", "email", sender)
    sender = custom_participant(from_field, "from_field") if from_field else default
    if account.type in ID_CHANNELS:
        return Channel(account, account.type, account.type, sender)
    return Channel(account, "custom", account.message_type or "custom_text", sender)


def _email_channel(
    session: Session, actor: Principal, from_field: dict[str, Any] | None, account: Account | None
) -> Channel:
    address = (from_field or {}).get("address")
    sender = (
        find_sender(session, actor, address, account_id=account.id if account else None)
        if isinstance(address, str)
        else None
    )
    if sender is None or from_field is None:
        raise BadRequest(SENDER_MISMATCH)
    found = sender.account
    account_name = found.name if found.name.lower() != sender.address.lower() else None
    name = text_value(from_field, "name", "from_field") or sender.name or account_name
    return Channel(found, "email", "email", {"name": name or actor.name, "address": sender.address})


def _phone_channel(
    session: Session, actor: Principal, from_field: dict[str, Any] | None, account: Account | None
) -> Channel:
    given = from_field or {}
    provider = given.get("type")
    if provider is not None and provider not in PHONE_PROVIDERS:
        raise BadRequest(PROVIDER_RULE)
    found = account
    if given.get("phone_number") is not None or account is None:
        number = phone_number(given, "from_field")
        found = phone_account(
            session,
            actor,
            number,
            provider=provider,
            account_id=account.id if account else None,
        )
    if found is None or not found.phone_number:
        raise BadRequest(SENDER_MISMATCH)
    name = text_value(given, "name", "from_field") or found.name
    return Channel(
        found, found.type, found.type, {"name": name, "phone_number": found.phone_number}
    )


def _phone_pair(channel: Channel, to: Recipients) -> str | None:
    """An SMS or WhatsApp draft threads by its phone-number pair: a second message between
    the same two numbers lands in the same conversation (``phone_threads``)."""
    if channel.shape not in PHONE_THREADED or not to.to_fields:
        return None
    return phone_pair(to.to_fields[0].get("phone_number"), channel.account.phone_number)


def _default_team(actor: Principal, account: Account, actions: ConversationActions) -> str | None:
    """A new conversation joins the sending account's team, as received mail does, unless the
    draft names its own organization or the caller is not in the account's."""
    if account.team_id is None or not actor.is_member(account.organization_id):
        return None
    if actions.organization not in (None, account.organization_id):
        return None
    return account.team_id


def _adopt(conversation: Conversation, account: Account, actor: Principal) -> None:
    """A new conversation started from an organization's account belongs to it."""
    if conversation.organization_id is None and actor.is_member(account.organization_id):
        conversation.organization_id = account.organization_id


def _write_draft(
    session: Session,
    conversation: Conversation,
    request: DraftRequest,
    channel: Channel,
    to: Recipients,
    *,
    references: list[str],
    actor: Principal,
    now: int,
) -> Message:
    body = request.body
    if request.quote_previous_message:
        body = (body or "") + quote_previous(session, conversation.id)
    draft = Message(
        id=new_id(),
        conversation_id=conversation.id,
        account_id=channel.account.id,
        author_id=actor.user_id,
        type=channel.message_type,
        draft=True,
        # ``subject`` is the email subject (spec 2.6.1); other channels have none.
        subject=request.subject if channel.shape == "email" else None,
        preview=preview(body),
        body=body,
        from_field=channel.from_field,
        to_fields=to.to_fields,
        cc_fields=to.cc_fields,
        bcc_fields=to.bcc_fields,
        reply_to_fields=[],
        in_reply_to=[],
        references=references,
        created_at=now,
        updated_at=now,
        send_at=request.send_at,
        auto_followup=request.auto_followup,
    )
    session.add(draft)
    session.flush()
    return draft


def _attach(
    session: Session,
    draft: Message,
    files: list[tuple[str, bytes]],
    *,
    conversation: Conversation,
    now: int,
) -> None:
    session.add_all(
        build_attachment(
            NewAttachment(filename, content),
            now=now,
            organization_id=conversation.organization_id,
            message_id=draft.id,
        )
        for filename, content in files
    )


def quote_previous(session: Session, conversation_id: str) -> str:
    """``quote_previous_message``: the conversation's latest message as a quote to append
    (nothing when there is none), as mail clients write a reply's quote."""
    previous = session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.draft.is_(False))
        .order_by(Message.delivered_at.desc(), Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    if previous is None:
        return ""
    sent = datetime.fromtimestamp(previous.delivered_at or previous.created_at, UTC)
    when = f"{sent:%a}, {sent:%b} {sent.day}, {sent:%Y} at {sent:%H:%M} UTC"
    quoted = previous.body if previous.body is not None else ""
    return (
        f"<br><div>On {html.escape(when)}, {html.escape(_sender_label(previous))} wrote:</div>"
        f"<blockquote>{quoted}</blockquote>"
    )


def _sender_label(message: Message) -> str:
    sender = message.from_field or {}
    name = sender.get("name") or sender.get("username")
    handle = sender.get("address") or sender.get("phone_number")
    if name and handle and name != handle:
        return f"{name} <{handle}>"
    return str(name or handle or sender.get("id") or "Unknown sender")
