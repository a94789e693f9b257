"""Incoming messages of custom channels: ``POST /v1/messages`` (spec 2.7.1).

Rules (where Missive is silent; listed in docs/compatibility.md):
- The account must be a custom channel the caller can use: a member of its organization, or,
  for a personal account, its owner or a user it is shared with. Other accounts are unknown
  (404); another type of account is a 400.
- ``organization`` defaults to the account's and ``team`` to the account's team (when the
  message stays in the account's organization), so actions needing an organization work
  without naming it and a conversation without a team joins the channel's.
- Where it goes when ``add_to_inbox`` / ``add_to_team_inbox`` are not given ("defaults follow
  the channel sharing settings"): a channel with a team puts a new conversation in the team's
  inbox (members and the caller see it in "All"); one without a team puts it in the Inbox of
  the account's owner and users and of the caller. A reply (an existing conversation) comes
  back like an email reply: Closed or Snoozed -> Inbox for its users, team Closed -> team
  inbox, and the conversation's pending auto follow-ups are discarded (spec 2.6.1). ``false``
  keeps a reply where it is (and a new conversation in "All"); ``close`` wins over all of it.
- An ``external_id`` the channel already recorded answers that message again and changes
  nothing (a channel retrying after a lost answer).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Account, AccountUser, Conversation, ConversationUser, Message
from missive_server.errors import BadRequest, not_found
from missive_server.schemas.channel_messages import (
    MESSAGE_TYPES,
    ChannelMessageRequest,
    channel_participants,
)
from missive_server.services import events
from missive_server.services.conversations import conversation_state
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.conversation_targets import open_target
from missive_server.services.conversations.messages import MessageInput, add_message
from missive_server.services.writing import drafts
from missive_server.services.writing.aliases import usable_account

NOT_CUSTOM = (
    "Account with id '{id}' is not a custom channel: only custom channels accept "
    "POST /v1/messages (send through other accounts with POST /v1/drafts)"
)


def create_channel_message(
    session: Session, *, actor: Principal, request: ChannelMessageRequest, now: int
) -> Message:
    """Record ``request`` as a message received by its custom channel; every check (account,
    participants, conversation, actions) runs before anything is written."""
    account = custom_account(session, actor=actor, account_id=request.account)
    if request.external_id is not None:
        received = _received(session, account, request.external_id)
        if received is not None:
            return received
    data = _message_input(request, account)
    actions = request.actions
    if actions.organization is None:
        actions.organization = account.organization_id
    if actions.team is None and actions.organization == account.organization_id:
        actions.team = account.team_id
    target = open_target(
        session,
        actor=actor,
        conversation_id=request.conversation,
        references=request.references,
        actions=actions,
        now=now,
        account_id=account.id,
    )
    conversation = target.conversation
    message = add_message(session, conversation, data, now=now)
    _share_with_account_users(session, conversation, account, request, now=now)
    if target.created and not actions.close:
        _place_new(session, conversation, account, actor, request)
    if not target.created:
        if not actions.close:
            conversation_state.reopen_for_reply(
                session,
                conversation,
                now=now,
                users=request.add_to_inbox is not False,
                team=request.add_to_team_inbox is not False,
            )
        drafts.discard_auto_followups(session, conversation_id=conversation.id, now=now)
    session.flush()
    event = events.incoming_event(account.type, message.type)
    if event is not None:
        events.record(session, event=event, conversation=conversation, now=now, message=message)
    return message


def custom_account(session: Session, *, actor: Principal, account_id: str) -> Account:
    """The custom-channel account, if the caller can use it (else 404, like unknown ids)."""
    account = usable_account(session, actor, account_id, organization_members=True)
    if account is None:
        raise not_found("Account", account_id)
    if account.type != "custom":
        raise BadRequest(NOT_CUSTOM.format(id=account_id))
    return account


def _received(session: Session, account: Account, external_id: str) -> Message | None:
    """The message this channel already recorded under ``external_id``: a channel retrying after
    a lost answer gets it back and nothing is written (no second message, event or webhook).
    The account row is locked first (PostgreSQL), so two deliveries racing each other record
    one message; SQLite serialises writers already."""
    session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    return session.scalars(
        select(Message)
        .where(
            Message.account_id == account.id,
            Message.external_id == external_id,
            Message.draft.is_(False),
        )
        .order_by(Message.created_at, Message.id)
        .limit(1)
    ).first()


def message_type(account: Account) -> str:
    return account.message_type if account.message_type in MESSAGE_TYPES else "custom_text"


def _message_input(request: ChannelMessageRequest, account: Account) -> MessageInput:
    kind = message_type(account)
    people = channel_participants(kind, request)
    return MessageInput(
        type=kind,
        subject=request.subject if kind == "email" else None,
        body=request.body,
        from_field=people.from_field,
        to_fields=people.to_fields,
        cc_fields=people.cc_fields,
        bcc_fields=people.bcc_fields,
        references=request.references,
        external_id=request.external_id,
        delivered_at=request.delivered_at,
        account_id=account.id,
        attachments=[NewAttachment(filename=name, content=data) for name, data in request.files],
    )


def _share_with_account_users(
    session: Session,
    conversation: Conversation,
    account: Account,
    request: ChannelMessageRequest,
    *,
    now: int,
) -> None:
    """A channel without a team is shared with users: its owner and its users see its
    conversations (a team channel reaches its members through the team link)."""
    if account.team_id is not None:
        return
    shared = session.scalars(
        select(AccountUser.user_id)
        .where(AccountUser.account_id == account.id)
        .order_by(AccountUser.user_id)
    )
    owner = [account.owner_id] if account.owner_id else []
    if request.actions.close:
        location = "closed"
    else:
        location = "none" if request.add_to_inbox is False else "inbox"
    conversation_state.grant_access(
        session, conversation, [*owner, *shared], now=now, location=location
    )


def _place_new(
    session: Session,
    conversation: Conversation,
    account: Account,
    actor: Principal,
    request: ChannelMessageRequest,
) -> None:
    """``open_target`` put the new conversation in the caller's Inbox. A team channel's goes
    to the team inbox instead (the caller sees it in "All") unless the caller asked for it
    (``add_to_inbox``, ``add_users``, ``add_assignees``)."""
    actions = request.actions
    if request.add_to_team_inbox is False and conversation.team_id is not None:
        conversation.team_state = "none"
    if request.add_to_inbox or actor.user_id in (*actions.add_users, *actions.add_assignees):
        return
    team_channel = account.team_id is not None and conversation.team_id is not None
    if request.add_to_inbox is False or team_channel:
        row = session.get(ConversationUser, (conversation.id, actor.user_id))
        if row is not None:
            row.location = "none"
