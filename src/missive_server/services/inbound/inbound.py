"""Inbound email (issue 3): a message received over SMTP becomes a message in a conversation.

Rules (where Missive is silent; listed in docs/compatibility.md):
- A recipient is an email account's address or one of its aliases, compared case-insensitively.
  Several accounts may share an address (a personal and a shared one): each receives the mail.
- Threading (spec 1B): the first of In-Reply-To, then References (newest first), then the
  message's own Message-ID that a stored message of the account's organization carries (for a
  personal account: a personal conversation of that account or of its users). Merged
  conversations lead to their survivor.
- A new conversation belongs to the account's organization and team. With a team it is in the
  team's inbox and its members get access (in "All", as when a team is linked, spec 1B);
  without one it is in the Inbox of the account's owner and users.
- A reply moves the conversation back to the Inbox of its users who had closed or snoozed it
  (trashed and spam stay put), and a closed team conversation back to the team inbox; it also
  discards the conversation's pending auto follow-ups (spec 2.6.1 ``auto_followup``).
- The same Message-ID received twice into one conversation (a sender retrying after a lost
  ``250``) is recorded once.
- ``delivered_at`` is the Date header when it is sane (at most 30 days old, not in the future
  beyond clock skew), else the time of receipt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from missive_server.db.models import (
    Account,
    AccountAlias,
    AccountUser,
    Attachment,
    Conversation,
    ConversationUser,
    Message,
    MessageReference,
    TeamMember,
)
from missive_server.ids import new_id
from missive_server.services import events
from missive_server.services.conversations import conversation_state
from missive_server.services.conversations.attachments import (
    NewAttachment,
    build_attachment,
    image_size,
)
from missive_server.services.conversations.conversation_labels import TEAM_ROLES
from missive_server.services.conversations.conversations import create_conversation, resolve_merges
from missive_server.services.conversations.messages import (
    MessageInput,
    add_message,
    normalize_reference,
)
from missive_server.services.inbound._mime import (
    ParsedEmail,
    ParsedFile,
    link_inline_images,
    parse_email,
    participant,
    referenced_content_ids,
    text_to_html,
)
from missive_server.services.writing import drafts

#: A Date header older than this is a wrong clock (or an old mail replayed): use receipt time.
MAX_DATE_AGE = 30 * 24 * 3600
#: Senders' clocks run a little fast; a Date this far ahead still counts, capped at "now".
MAX_DATE_SKEW = 15 * 60
#: ``Attachment.extension``'s column size.
MAX_EXTENSION = 32


@dataclass(frozen=True, slots=True)
class Delivery:
    account_id: str
    conversation_id: str
    message_id: str
    #: A new conversation was created for it.
    created: bool
    #: Already received (same Message-ID in that conversation): nothing new was written.
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class InboundResult:
    deliveries: list[Delivery] = field(default_factory=list)
    #: Recipients that are no account's address (the SMTP layer answers 550 for them).
    unknown_recipients: list[str] = field(default_factory=list)


def find_accounts(session: Session, addresses: Iterable[str]) -> dict[str, list[Account]]:
    """Lower-cased address -> the email accounts it reaches (own address or alias)."""
    wanted = sorted({a.strip().lower() for a in addresses if a and a.strip()})
    if not wanted:
        return {}
    found: dict[str, dict[str, Account]] = {}
    own = select(func.lower(Account.address), Account).where(
        Account.type == "email", func.lower(Account.address).in_(wanted)
    )
    aliases = (
        select(func.lower(AccountAlias.address), Account)
        .join(Account, Account.id == AccountAlias.account_id)
        .where(Account.type == "email", func.lower(AccountAlias.address).in_(wanted))
    )
    for stmt in (own, aliases):
        for address, account in session.execute(stmt.order_by(Account.created_at, Account.id)):
            found.setdefault(address, {})[account.id] = account
    return {address: list(accounts.values()) for address, accounts in found.items()}


def is_known_recipient(session: Session, address: str) -> bool:
    return bool(find_accounts(session, [address]))


def receive_email(
    session: Session,
    raw: bytes,
    recipients: list[str],
    *,
    now: int,
    envelope_from: str | None = None,
) -> InboundResult:
    """Record ``raw`` for every account among ``recipients``. Flushes, never commits.

    ``envelope_from`` (SMTP ``MAIL FROM``) stands in for a missing or unreadable From header.
    """
    accounts = find_accounts(session, recipients)
    unknown = [r for r in recipients if r.strip().lower() not in accounts]
    # In the order of the recipients, each account once.
    receiving = list(
        {a.id: a for r in recipients for a in accounts.get(r.strip().lower(), [])}.values()
    )
    if not receiving:
        return InboundResult(unknown_recipients=unknown)
    parsed = parse_email(raw)
    if parsed.message_id is None:
        domain = (receiving[0].address or "missive-server.invalid").rpartition("@")[2]
        parsed.message_id = f"<{new_id()}@{domain}>"
    if parsed.from_field is None and envelope_from:
        parsed.from_field = participant(None, envelope_from)
    deliveries = [_deliver(session, account, parsed, now=now) for account in receiving]
    return InboundResult(deliveries=deliveries, unknown_recipients=unknown)


def _deliver(session: Session, account: Account, parsed: ParsedEmail, *, now: int) -> Delivery:
    assert parsed.message_id is not None
    conversation = _find_thread(session, account, _thread_references(parsed))
    if conversation is None:
        conversation = create_conversation(
            session,
            now=now,
            organization_id=account.organization_id,
            team_id=account.team_id,
            account_id=account.id,
        )
        _grant_account_audience(session, conversation, account, now=now)
        message = _record(session, conversation, account, parsed, now=now)
        _fire(session, account, conversation, message, now=now)
        return Delivery(account.id, conversation.id, message.id, created=True)
    _grant_account_audience(session, conversation, account, now=now)
    existing = session.scalar(
        select(Message.id).where(
            Message.conversation_id == conversation.id,
            Message.email_message_id == parsed.message_id,
            Message.draft.is_(False),
        )
    )
    if existing is not None:
        return Delivery(account.id, conversation.id, existing, created=False, duplicate=True)
    message = _record(session, conversation, account, parsed, now=now)
    conversation_state.reopen_for_reply(session, conversation, now=now)
    drafts.discard_auto_followups(session, conversation_id=conversation.id, now=now)
    _fire(session, account, conversation, message, now=now)
    return Delivery(account.id, conversation.id, message.id, created=False)


def _fire(
    session: Session, account: Account, conversation: Conversation, message: Message, *, now: int
) -> None:
    event = events.incoming_event(account.type, message.type)
    if event is not None:
        events.record(session, event=event, conversation=conversation, now=now, message=message)


def _thread_references(parsed: ParsedEmail) -> list[str]:
    """Most specific first: the replied-to message, then the thread newest to oldest, then the
    message itself (a second copy of a message already received)."""
    candidates = [*parsed.in_reply_to, *reversed(parsed.references), parsed.message_id or ""]
    return [r for r in dict.fromkeys(normalize_reference(c) for c in candidates) if r]


def _find_thread(
    session: Session, account: Account, references: Sequence[str]
) -> Conversation | None:
    if not references:
        return None
    stmt = (
        select(MessageReference.reference, Conversation)
        .join(Conversation, Conversation.id == MessageReference.conversation_id)
        .where(MessageReference.reference.in_(references))
        .order_by(Conversation.last_activity_at.desc(), Conversation.id)
    )
    if account.organization_id is not None:
        stmt = stmt.where(Conversation.organization_id == account.organization_id)
    else:
        users = _personal_audience(session, account)
        stmt = stmt.where(
            Conversation.organization_id.is_(None),
            or_(
                Conversation.account_id == account.id,
                exists().where(
                    ConversationUser.conversation_id == Conversation.id,
                    ConversationUser.user_id.in_(users),
                ),
            ),
        )
    matches: dict[str, Conversation] = {}
    for reference, conversation in session.execute(stmt):
        matches.setdefault(reference, conversation)
    first = next((matches[r] for r in references if r in matches), None)
    return resolve_merges(session, first)


def _personal_audience(session: Session, account: Account) -> list[str]:
    """The owner, then the users the account is shared with."""
    shared = session.scalars(
        select(AccountUser.user_id)
        .where(AccountUser.account_id == account.id)
        .order_by(AccountUser.user_id)
    )
    owner = [account.owner_id] if account.owner_id else []
    return list(dict.fromkeys([*owner, *shared]))


def _grant_account_audience(
    session: Session, conversation: Conversation, account: Account, *, now: int
) -> None:
    """Who sees mail received through ``account``; users who already have access keep their
    state. A conversation of another team stays in that team."""
    if account.team_id is None:
        users = _personal_audience(session, account)
        conversation_state.grant_access(session, conversation, users, now=now, location="inbox")
        return
    if conversation.team_id is None:
        conversation.team_id, conversation.team_state = account.team_id, "inbox"
    members = session.scalars(
        select(TeamMember.user_id)
        .where(TeamMember.team_id == account.team_id, TeamMember.role.in_(TEAM_ROLES))
        .order_by(TeamMember.role, TeamMember.position)
    )
    conversation_state.grant_access(session, conversation, members, now=now, location="none")


def _record(
    session: Session,
    conversation: Conversation,
    account: Account,
    parsed: ParsedEmail,
    *,
    now: int,
) -> Message:
    """The message and its files. Attachment rows are built first: the body links inline
    images by attachment id (spec 1A), so the ids must exist before the body is written."""
    files = [
        _attachment(f, now=now, organization_id=conversation.organization_id) for f in parsed.files
    ]
    message = add_message(
        session,
        conversation,
        MessageInput(
            type="email",
            subject=parsed.subject,
            body=_body(parsed, files),
            from_field=parsed.from_field,
            to_fields=parsed.to_fields,
            cc_fields=parsed.cc_fields,
            reply_to_fields=parsed.reply_to_fields,
            email_message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            delivered_at=_delivered_at(parsed.date, now),
            account_id=account.id,
        ),
        now=now,
    )
    if files:
        for attachment, _ in files:
            attachment.message_id = message.id
        session.add_all(attachment for attachment, _ in files)
        session.flush()
        conversation_state.refresh_summary(session, conversation)
    return message


def _attachment(
    parsed: ParsedFile, *, now: int, organization_id: str | None
) -> tuple[Attachment, ParsedFile]:
    attachment = build_attachment(
        NewAttachment(filename=parsed.filename, content=parsed.content),
        now=now,
        organization_id=organization_id,
    )
    maintype, _, subtype = parsed.content_type.partition("/")
    if (attachment.media_type, attachment.sub_type) == ("application", "octet-stream") and subtype:
        # The filename says nothing (no or an unknown extension): trust the part's Content-Type.
        attachment.media_type, attachment.sub_type = maintype[:64], subtype[:128]
        size = image_size(parsed.content) if maintype == "image" else None
        attachment.width, attachment.height = size if size else (None, None)
    if attachment.extension and len(attachment.extension) > MAX_EXTENSION:
        attachment.extension = None
    return attachment, parsed


def _body(parsed: ParsedEmail, files: list[tuple[Attachment, ParsedFile]]) -> str | None:
    if parsed.html is None:
        return text_to_html(parsed.text) if parsed.text is not None else None
    wanted = referenced_content_ids(parsed.html)
    ids = {
        source.content_id.lower(): attachment.id
        for attachment, source in files
        if source.content_id and source.content_id.lower() in wanted
    }
    return link_inline_images(parsed.html, ids)


def _delivered_at(date: int | None, now: int) -> int:
    if date is None or date < now - MAX_DATE_AGE or date > now + MAX_DATE_SKEW:
        return now
    return min(date, now)
