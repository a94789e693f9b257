"""Messages: recording them in a conversation, and reading them back (spec 2.7)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Select, Subquery, bindparam, select, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Account,
    Attachment,
    Conversation,
    ConversationAddress,
    ConversationReference,
    ConversationUser,
    Message,
    MessageReference,
    User,
)
from missive_server.db.paging import cursor_rows
from missive_server.db.statements import by_ids
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id
from missive_server.pagination import CursorPage
from missive_server.schemas.attachments import AttachmentRow
from missive_server.schemas.conversations import ConversationRow, ConversationView
from missive_server.schemas.messages import MessageRow, MessageView
from missive_server.schemas.users import UserRefRow
from missive_server.services.conversations import conversation_state, search_terms
from missive_server.services.conversations.attachments import NewAttachment, build_attachment
from missive_server.services.conversations.conversation_views import load_views
from missive_server.services.conversations.conversations import (
    read_visible_conversation,
    visible_conversation_rows,
)
from missive_server.services.conversations.phone_threads import (
    PHONE_THREADED,
    phone_pair,
    with_phone_pair,
)
from missive_server.services.text import preview

E = TypeVar("E")


@dataclass(slots=True)
class MessageInput:
    """Everything a message carries, whatever channel it came through."""

    type: str = "email"
    subject: str | None = None
    body: str | None = None
    from_field: dict[str, Any] | None = None
    to_fields: list[dict[str, Any]] = field(default_factory=list)
    cc_fields: list[dict[str, Any]] = field(default_factory=list)
    bcc_fields: list[dict[str, Any]] = field(default_factory=list)
    reply_to_fields: list[dict[str, Any]] = field(default_factory=list)
    email_message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    external_id: str | None = None
    delivered_at: int | None = None
    account_id: str | None = None
    author_id: str | None = None
    attachments: list[NewAttachment] = field(default_factory=list)


def normalize_reference(value: str) -> str:
    """``"<a@b>"`` and ``"a@b"`` are the same reference (spec 1B)."""
    return value.strip().removeprefix("<").removesuffix(">").strip()


def _own_phone_pair(session: Session, data: MessageInput) -> str | None:
    """An SMS/WhatsApp message's pair: received from ``from_field``, sent to ``to_fields``."""
    if data.type not in PHONE_THREADED or data.account_id is None:
        return None
    account = session.get(Account, data.account_id)
    if account is None:
        return None
    people = [data.from_field or {}] if data.author_id is None else data.to_fields[:1]
    counterparty = next((p.get("phone_number") for p in people if p.get("phone_number")), None)
    return phone_pair(counterparty, account.phone_number)


def add_message(
    session: Session, conversation: Conversation, data: MessageInput, *, now: int
) -> Message:
    """Record a delivered message: references, participants, attachments, summary, activity."""
    delivered_at = data.delivered_at if data.delivered_at is not None else now
    references = with_phone_pair(data.references, _own_phone_pair(session, data))
    message = Message(
        id=new_id(),
        conversation_id=conversation.id,
        account_id=data.account_id,
        author_id=data.author_id,
        type=data.type,
        draft=False,
        subject=data.subject,
        preview=preview(data.body),
        body=data.body,
        from_field=data.from_field,
        to_fields=data.to_fields,
        cc_fields=data.cc_fields,
        bcc_fields=data.bcc_fields,
        reply_to_fields=data.reply_to_fields,
        email_message_id=data.email_message_id or _new_email_message_id(session, data),
        in_reply_to=data.in_reply_to,
        references=references,
        external_id=data.external_id,
        delivered_at=delivered_at,
        created_at=now,
        updated_at=now,
        auto_followup=False,
    )
    session.add(message)
    session.flush()
    record_references(session, message)
    record_addresses(session, conversation, _participants(data))
    search_terms.index_message(session, message)
    session.add_all(
        build_attachment(
            a, now=now, organization_id=conversation.organization_id, message_id=message.id
        )
        for a in data.attachments
    )
    session.flush()
    conversation_state.refresh_summary(session, conversation)
    conversation_state.touch(session, conversation, delivered_at)
    return message


#: The domain of generated Message-IDs when neither the account nor the sender has one.
FALLBACK_DOMAIN = "missive-server.invalid"


def _new_email_message_id(session: Session, data: MessageInput) -> str | None:
    """Every email has a Message-ID (seeded and imported mail included, issue 16): replies
    thread to it and ``GET /v1/messages?email_message_id=`` finds it. Generated as inbound
    mail without one gets it: ``<uuid@domain of the account>``."""
    if data.type != "email":
        return None
    account = session.get(Account, data.account_id) if data.account_id else None
    address = (account.address if account else None) or (data.from_field or {}).get("address")
    domain = str(address or "").rpartition("@")[2].strip().lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    return f"<{new_id()}@{domain or FALLBACK_DOMAIN}>"


def record_references(session: Session, message: Message) -> None:
    values = [
        message.email_message_id,
        message.external_id,
        *message.references,
        *message.in_reply_to,
    ]
    normalized = dict.fromkeys(normalize_reference(v) for v in values if v)
    normalized.pop("", None)
    session.add_all(
        MessageReference(
            message_id=message.id, reference=ref, conversation_id=message.conversation_id
        )
        for ref in normalized
    )


def remember_references(
    session: Session, conversation_id: str, references: Iterable[str] | None
) -> None:
    """Record the references a post or subtask was written with (issue 16): a message records
    its own (``record_references``), these writers have no message to carry them."""
    wanted = dict.fromkeys(r for r in (normalize_reference(v) for v in references or ()) if r)
    if not wanted:
        return
    known = set(
        session.scalars(
            select(ConversationReference.reference).where(
                ConversationReference.conversation_id == conversation_id,
                ConversationReference.reference.in_(wanted),
            )
        )
    )
    session.add_all(
        ConversationReference(reference=r, conversation_id=conversation_id)
        for r in wanted
        if r not in known
    )


def referenced(wanted: Sequence[str]) -> Subquery:
    """``(reference, conversation_id)`` of every message and every post or subtask that
    carries one of ``wanted`` (normalised): where spec 1B lookups find conversations."""
    return union_all(
        select(MessageReference.reference, MessageReference.conversation_id).where(
            MessageReference.reference.in_(wanted)
        ),
        select(ConversationReference.reference, ConversationReference.conversation_id).where(
            ConversationReference.reference.in_(wanted)
        ),
    ).subquery()


def record_addresses(
    session: Session, conversation: Conversation, addresses: Iterable[str]
) -> None:
    wanted = {a.strip().lower() for a in addresses if a and "@" in a}
    if not wanted:
        return
    known = set(
        session.scalars(
            select(ConversationAddress.address).where(
                ConversationAddress.conversation_id == conversation.id,
                ConversationAddress.address.in_(wanted),
            )
        )
    )
    session.add_all(
        ConversationAddress(conversation_id=conversation.id, address=a, domain=a.rsplit("@", 1)[1])
        for a in sorted(wanted - known)
    )


def _participants(data: MessageInput) -> list[str]:
    fields = [
        data.from_field,
        *data.to_fields,
        *data.cc_fields,
        *data.bcc_fields,
        *data.reply_to_fields,
    ]
    return [str(f["address"]) for f in fields if f and f.get("address")]


# Reading messages back (spec 2.5.4, 2.7.2, 2.7.3).

#: ``GET /v1/messages?email_message_id=`` returns at most the latest ten (spec 2.7.3).
EMAIL_MESSAGE_ID_MATCHES = 10


# Messages, attachments and authors read with Core into rows, statements built once: building
# ORM entities cost a message read more than its statements (bench/README.md, issue 13).
_MESSAGE_COLUMNS = [Message.__table__.c[name] for name in MessageRow._fields]
_MESSAGES = by_ids(
    Message.id,
    lambda where: select(*_MESSAGE_COLUMNS).where(where, Message.draft.is_(False)),
)
_BY_EMAIL_MESSAGE_ID = (
    select(*_MESSAGE_COLUMNS)
    .join(ConversationUser, ConversationUser.conversation_id == Message.conversation_id)
    .where(
        ConversationUser.user_id == bindparam("user_id"),
        # Both spellings, so the lookup is an index range scan on messages.email_message_id.
        Message.email_message_id.in_(bindparam("spellings", expanding=True)),
        Message.draft.is_(False),
    )
    .order_by(Message.delivered_at.desc(), Message.id.desc())
    .limit(EMAIL_MESSAGE_ID_MATCHES)
)
_ATTACHMENTS = by_ids(
    Attachment.message_id,
    lambda where: (
        select(*(Attachment.__table__.c[name] for name in AttachmentRow._fields))
        .where(where)
        .order_by(Attachment.created_at, Attachment.filename, Attachment.id)
    ),
)
_AUTHORS = by_ids(
    User.id,
    lambda where: select(*(User.__table__.c[name] for name in UserRefRow._fields)).where(where),
)


def list_conversation_messages(
    session: Session, *, actor: Principal, conversation_id: str, page: CursorPage
) -> list[MessageView]:
    """Delivered messages (no drafts), newest ``delivered_at`` first (spec 2.5.4)."""
    conversation = read_visible_conversation(session, actor=actor, conversation_id=conversation_id)
    stmt = select(Message.id, Message.delivered_at, *_MESSAGE_COLUMNS).where(
        Message.conversation_id == conversation.id, Message.draft.is_(False)
    )
    rows = cursor_rows(
        session, stmt, timestamp=Message.delivered_at, tiebreak=Message.id, page=page
    )
    return load_message_views(session, [MessageRow._make(row[2:]) for row in rows])


def get_messages(
    session: Session, *, actor: Principal, ids: list[str]
) -> list[tuple[MessageView, ConversationView]]:
    """Messages in the order asked, each with its conversation; any unknown, draft or
    inaccessible id is a 404 naming it (spec 2.7.2)."""
    found = {row[0]: MessageRow._make(row) for row in _MESSAGES.run(session.connection(), ids)}
    visible = visible_conversation_rows(session, actor, {m.conversation_id for m in found.values()})
    for message_id in ids or [""]:
        message = found.get(message_id)
        if message is None or message.conversation_id not in visible:
            raise not_found("Message", message_id)
    return _with_conversations(session, actor, [found[i] for i in ids], visible)


def find_by_email_message_id(
    session: Session, *, actor: Principal, email_message_id: str
) -> list[tuple[MessageView, ConversationView]]:
    """Messages carrying this Message-ID, chevrons optional, newest first (spec 2.7.3)."""
    normalized = normalize_reference(email_message_id)
    if not normalized:
        raise BadRequest("'email_message_id' is required")
    params = {"user_id": actor.user_id, "spellings": [normalized, f"<{normalized}>"]}
    messages = [
        MessageRow._make(row) for row in session.connection().execute(_BY_EMAIL_MESSAGE_ID, params)
    ]
    visible = visible_conversation_rows(session, actor, {m.conversation_id for m in messages})
    return _with_conversations(
        session, actor, [m for m in messages if m.conversation_id in visible], visible
    )


def load_message_views(
    session: Session, messages: Sequence[Message | MessageRow], *, all_authors: bool = False
) -> list[MessageView]:
    """Attachments and authors of a page of messages or drafts, in two queries at most.

    Only non-email messages render their author (spec 1A), drafts always do (``all_authors``).
    """
    if not messages:
        return []
    # Core reads do not autoflush: a writer's new attachments must be in the database first.
    session.flush()
    attachments = attachment_rows(session, [m.id for m in messages])
    wanted = {m.author_id for m in messages if m.author_id and (all_authors or m.type != "email")}
    authors = author_rows(session, wanted)
    return [
        MessageView(
            message=m,
            attachments=list(attachments.get(m.id, [])),
            author=authors.get(m.author_id) if m.author_id else None,
        )
        for m in messages
    ]


def attachment_rows(session: Session, message_ids: list[str]) -> dict[str, list[AttachmentRow]]:
    """What the wire form shows of each message's attachments (never their bytes)."""
    grouped: dict[str, list[AttachmentRow]] = {}
    if message_ids:
        for row in _ATTACHMENTS.run(session.connection(), message_ids):
            grouped.setdefault(row.message_id or "", []).append(AttachmentRow._make(row))
    return grouped


def author_rows(session: Session, user_ids: Iterable[str]) -> dict[str, UserRefRow]:
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = _AUTHORS.run(session.connection(), wanted)
    return {row[0]: UserRefRow._make(row) for row in rows}


def attachments_by_message(session: Session, message_ids: list[str]) -> dict[str, list[Attachment]]:
    """The attachment entities, bytes deferred: for sending them (``delivery.mail``)."""
    if not message_ids:
        return {}
    grouped: dict[str, list[Attachment]] = {}
    for attachment in session.scalars(
        select(Attachment)
        .where(Attachment.message_id.in_(message_ids))
        .order_by(Attachment.created_at, Attachment.filename, Attachment.id)
    ):
        grouped.setdefault(attachment.message_id or "", []).append(attachment)
    return grouped


def users_by_id(session: Session, user_ids: Iterable[str]) -> dict[str, User]:
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def _with_conversations(
    session: Session,
    actor: Principal,
    messages: list[MessageRow],
    visible: dict[str, ConversationRow],
) -> list[tuple[MessageView, ConversationView]]:
    distinct = list(
        {visible[m.conversation_id].id: visible[m.conversation_id] for m in messages}.values()
    )
    views = {v.conversation.id: v for v in load_views(session, distinct, actor=actor)}
    return [
        (view, views[visible[view.message.conversation_id].id])
        for view in load_message_views(session, messages)
    ]


def get_attachment_download(session: Session, *, attachment_id: str, token: str) -> Attachment:
    """The file behind a download URL; the token is the only credential (like a signed URL)."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or not hmac.compare_digest(
        attachment.download_token.encode(), token.encode()
    ):
        raise not_found("Attachment", attachment_id)
    return attachment


def cursor_entities(
    session: Session,
    stmt: Select[str, Any, E],
    *,
    timestamp: InstrumentedAttribute[Any],
    tiebreak: InstrumentedAttribute[str],
    page: CursorPage,
) -> list[E]:
    """``db.paging.cursor_rows`` over ``select(id, timestamp, Entity)``, returning the entities."""
    rows = cursor_rows(session, stmt, timestamp=timestamp, tiebreak=tiebreak, page=page)
    return [row[-1] for row in rows]
