"""Seeding conversations with their state, messages, comments and posts.

A seeded conversation's id is derived from its identity (organization + ``key``, or its first
message's ``email_message_id``, or its subject), shaped as a UUID4, so the next run finds it
without a column for the key. A conversation found again is left as it is.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.db.models import (
    Account,
    Conversation,
    ConversationLabel,
    Message,
    MessageReference,
    Organization,
    Post,
    SharedLabel,
    Team,
    User,
)
from missive_server.ids import new_id
from missive_server.schemas.seed import (
    AddressSeed,
    ConversationSeed,
    MessageSeed,
    PostSeed,
    entry_label,
)
from missive_server.services import events
from missive_server.services.conversations import conversation_state, search_terms
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.comments import create_comment
from missive_server.services.conversations.conversations import create_conversation, resolve_merges
from missive_server.services.conversations.messages import (
    MessageInput,
    add_message,
    normalize_reference,
)
from missive_server.services.seed._context import SeedContext, SeedError


@dataclass(frozen=True, slots=True)
class _Refs:
    """A conversation entry's references, resolved."""

    organization: Organization | None
    team: Team | None
    account: Account | None
    access: list[User]
    assignees: list[User]
    flagged: list[User]
    labels: list[SharedLabel]


def seed_conversations(
    ctx: SeedContext, conversations: Sequence[ConversationSeed], step: Callable[[str], None]
) -> None:
    seen: dict[str, str] = {}
    for index, entry in enumerate(conversations):
        first = entry.messages[0] if entry.messages else None
        where = entry_label(
            "conversations",
            index,
            {"key": entry.key, "subject": entry.subject or (first and first.subject)},
        )
        refs = _resolve(ctx, where, entry)
        kind, identity = _identity(where, entry)
        conversation_id = seeded_id(_scope(refs), kind, identity)
        if conversation_id in seen:
            raise SeedError(
                f"{where}: same identity as {seen[conversation_id]} ('{identity}'); "
                "give one of them a distinct 'key'"
            )
        seen[conversation_id] = where
        found = _find(ctx.session, conversation_id, kind, identity, refs.organization)
        conversation = found or _create(ctx, where, entry, refs, conversation_id)
        ctx.record(
            "conversations",
            identity,
            conversation.id,
            refs.organization.name if refs.organization else "",
        )
        step(where)


def seeded_id(*parts: str) -> str:
    """A stable id for seeded entities: a hash of their identity, shaped as a UUID4 (spec 1.8)."""
    digest = hashlib.sha256("\x1f".join(("missive-server/seed", *parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _identity(where: str, entry: ConversationSeed) -> tuple[str, str]:
    first = entry.messages[0] if entry.messages else None
    if entry.key:
        return "key", entry.key
    if first is not None and first.email_message_id:
        return "email_message_id", normalize_reference(first.email_message_id)
    subject = entry.subject or (first.subject if first else None)
    if subject:
        return "subject", subject
    raise SeedError(
        f"{where}: key: needed so the next run finds this conversation "
        "(or give its first message a subject or an email_message_id)"
    )


def _scope(refs: _Refs) -> str:
    if refs.organization is not None:
        return refs.organization.id
    return "personal:" + ",".join(sorted(u.id for u in refs.access))


def _find(
    session: Session, conversation_id: str, kind: str, identity: str, org: Organization | None
) -> Conversation | None:
    found = session.get(Conversation, conversation_id)
    if found is None and kind == "email_message_id":
        in_scope = (
            Conversation.organization_id == org.id
            if org
            else Conversation.organization_id.is_(None)
        )
        found = session.scalar(
            select(Conversation)
            .join(MessageReference, MessageReference.conversation_id == Conversation.id)
            .where(MessageReference.reference == identity, in_scope)
            .limit(1)
        )
    return resolve_merges(session, found)


def _resolve(ctx: SeedContext, where: str, entry: ConversationSeed) -> _Refs:
    org = (
        ctx.organization(f"{where}: organization", entry.organization)
        if entry.organization
        else None
    )
    if org is None and (entry.team or entry.shared_labels):
        raise SeedError(f"{where}: team and shared_labels need the conversation's 'organization'")
    users = ctx.members(f"{where}: users", entry.users, org)
    assignees = ctx.members(f"{where}: assignees", entry.assignees, org)
    flagged = ctx.members(f"{where}: flagged", entry.flagged, org)
    access = list({u.id: u for u in [*users, *assignees, *flagged]}.values())
    if not access:
        raise SeedError(f"{where}: users: at least one user must have access")
    return _Refs(
        organization=org,
        team=ctx.team(f"{where}: team", org, entry.team) if org and entry.team else None,
        account=ctx.account(f"{where}: account", org, entry.account) if entry.account else None,
        access=access,
        assignees=assignees,
        flagged=flagged,
        labels=[
            ctx.label(f"{where}: shared_labels", org, ref) for ref in entry.shared_labels if org
        ],
    )


def _create(
    ctx: SeedContext, where: str, entry: ConversationSeed, refs: _Refs, conversation_id: str
) -> Conversation:
    session, start = ctx.session, _start(entry, ctx.now)
    conversation = create_conversation(
        session,
        now=start,
        organization_id=refs.organization.id if refs.organization else None,
        team_id=refs.team.id if refs.team else None,
        account_id=refs.account.id if refs.account else None,
        subject=entry.subject,
        color=entry.color,
        conversation_id=conversation_id,
    )
    if entry.closed and refs.team is not None:
        conversation.team_state = "closed"
    session.flush()
    _set_state(ctx, conversation, entry, refs, start)
    for index, message in enumerate(entry.messages):
        data = _message_input(ctx, f"{where}: messages[{index}]", message, refs.account)
        added = add_message(session, conversation, data, now=data.delivered_at or ctx.now)
        _fire_incoming(ctx, conversation, added, refs.account)
    _add_comments(ctx, where, conversation, entry)
    _add_posts(ctx, where, conversation, entry.posts)
    if entry.closed:  # closed once everything in it had happened (analytics resolution times)
        conversation.closed_at = conversation.last_activity_at
    return conversation


def _fire_incoming(
    ctx: SeedContext, conversation: Conversation, message: Message, account: Account | None
) -> None:
    """A seeded message without an author was received: it fires like a real one would."""
    if message.author_id is not None:
        return
    event = events.incoming_event(account.type if account else None, message.type)
    if event is not None:
        events.record(
            ctx.session, event=event, conversation=conversation, now=ctx.now, message=message
        )


def _start(entry: ConversationSeed, now: int) -> int:
    times = [m.delivered_at for m in entry.messages] + [c.created_at for c in entry.comments]
    times += [p.created_at for p in entry.posts]
    given = [t for t in times if t is not None]
    return min(given) if given else now


def _set_state(
    ctx: SeedContext, conversation: Conversation, entry: ConversationSeed, refs: _Refs, start: int
) -> None:
    location = "closed" if entry.closed else "inbox"
    rows = conversation_state.grant_access(
        ctx.session, conversation, [u.id for u in refs.access], now=start, location=location
    )
    by_user = {row.user_id: row for row in rows}
    for user in refs.assignees:
        by_user[user.id].assigned = True
        by_user[user.id].assigned_at = start
    for user in refs.flagged:
        by_user[user.id].flagged = True
    for label in dict.fromkeys(refs.labels):
        ctx.session.add(
            ConversationLabel(
                conversation_id=conversation.id,
                shared_label_id=label.id,
                added_at=start,
                last_activity_at=conversation.last_activity_at,
            )
        )
    ctx.session.flush()


def _message_input(
    ctx: SeedContext, where: str, message: MessageSeed, account: Account | None
) -> MessageInput:
    author = ctx.user(f"{where}: author", message.author) if message.author else None
    return MessageInput(
        type=message.type or _message_type(account),
        subject=message.subject,
        body=message.body,
        from_field=_address(message.from_field) if message.from_field else _sender(author, account),
        to_fields=[_address(a) for a in message.to_fields],
        cc_fields=[_address(a) for a in message.cc_fields],
        bcc_fields=[_address(a) for a in message.bcc_fields],
        reply_to_fields=[_address(a) for a in message.reply_to_fields],
        email_message_id=message.email_message_id,
        in_reply_to=list(message.in_reply_to),
        references=list(message.references),
        external_id=message.external_id,
        delivered_at=message.delivered_at if message.delivered_at is not None else ctx.now,
        account_id=account.id if account else None,
        author_id=author.id if author else None,
        attachments=[
            NewAttachment(a.filename, base64.b64decode(a.base64_data)) for a in message.attachments
        ],
    )


def _message_type(account: Account | None) -> str:
    if account is None or account.type == "email":
        return "email"
    if account.type == "custom":
        return account.message_type or "custom_text"
    return account.type


def _address(field: AddressSeed) -> dict[str, Any]:
    """Missive's address shape: ``{"name", "address"}`` or ``{"name", "phone_number"}``."""
    if field.phone_number and not field.address:
        return {"name": field.name, "phone_number": field.phone_number}
    return {"name": field.name, "address": field.address}


def _sender(author: User | None, account: Account | None) -> dict[str, Any] | None:
    """An outgoing message without ``from_field`` is sent from the account as its author."""
    if author is None:
        return None
    address = (
        account.address if account and account.type == "email" and account.address else author.email
    )
    return {"name": author.name, "address": address}


def _add_comments(
    ctx: SeedContext, where: str, conversation: Conversation, entry: ConversationSeed
) -> None:
    for index, comment in enumerate(entry.comments):
        author = ctx.user(f"{where}: comments[{index}]: author", comment.author)
        at = comment.created_at if comment.created_at is not None else ctx.now
        create_comment(ctx.session, conversation, author_id=author.id, body=comment.body, now=at)


def _add_posts(
    ctx: SeedContext, where: str, conversation: Conversation, posts: Sequence[PostSeed]
) -> None:
    for index, post in enumerate(posts):
        author = ctx.user(f"{where}: posts[{index}]: author", post.author) if post.author else None
        at = post.created_at if post.created_at is not None else ctx.now
        added = Post(
            id=new_id(),
            conversation_id=conversation.id,
            author_id=author.id if author else None,
            username=post.username,
            username_icon=post.username_icon,
            conversation_icon=post.conversation_icon,
            notification=post.notification.model_dump() if post.notification else None,
            text=post.text,
            markdown=post.markdown,
            attachments=[block.model_dump(exclude_none=True) for block in post.attachments],
            created_at=at,
        )
        ctx.session.add(added)
        ctx.session.flush()
        search_terms.index_post(ctx.session, added)
        conversation_state.touch(ctx.session, conversation, at)
    ctx.session.flush()
