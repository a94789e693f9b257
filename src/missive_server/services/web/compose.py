"""The web composer: reply, reply all, forward and new email, written through the service of
``POST /v1/drafts`` (``writing.drafts.create_draft``), so relay, threading headers, outbox,
webhooks and permissions are the API's. Here only what a form needs: the addresses the user may
send from, the fields a reply starts with, and the form's text turned into a ``DraftRequest``."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formataddr, getaddresses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Account, AccountAlias, Conversation, Message
from missive_server.errors import BadRequest
from missive_server.schemas.conversation_actions import ConversationActions
from missive_server.schemas.drafts import DraftRequest
from missive_server.schemas.messages import MessageView
from missive_server.services.outbox import RetryPolicy
from missive_server.services.writing import drafts
from missive_server.services.writing.aliases import usable_by

MODES = ("reply", "reply_all", "forward", "new")


@dataclass(frozen=True, slots=True)
class SenderChoice:
    address: str
    name: str | None
    account: str

    @property
    def label(self) -> str:
        return formataddr((self.name or "", self.address))


@dataclass
class Composition:
    """A composer form's fields, as text."""

    mode: str = "new"
    from_address: str = ""
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    quote: bool = False
    send_at: str = ""
    errors: list[str] = field(default_factory=list)


def sender_choices(session: Session, *, actor: Principal) -> list[SenderChoice]:
    """Every address the user may send as: their email accounts' own and alias addresses."""
    accounts = session.scalars(
        select(Account)
        .where(Account.type == "email", Account.address.is_not(None), usable_by(actor))
        .order_by(Account.created_at, Account.id)
    ).all()
    aliases = session.scalars(
        select(AccountAlias)
        .where(AccountAlias.account_id.in_([a.id for a in accounts]))
        .order_by(AccountAlias.address)
    ).all()
    choices = [SenderChoice(a.address or "", a.name, a.id) for a in accounts]
    choices += [SenderChoice(al.address, al.name, al.account_id) for al in aliases]
    return choices


def start_composition(
    session: Session, *, conversation: Conversation | None, mode: str,
    senders: list[SenderChoice],
) -> Composition:  # fmt: skip
    """The fields a reply, reply all or forward starts with (the latest message's sender and
    recipients, minus the user's own addresses; ``Re:``/``Fwd:`` subjects)."""
    mode = mode if mode in MODES else "reply"
    latest = _latest_message(session, conversation.id) if conversation else None
    if conversation is None or latest is None:
        return Composition(mode="new", from_address=senders[0].address if senders else "")
    own = {s.address.lower() for s in senders}
    sender = latest.from_field or {}
    recipients = [*latest.to_fields, *latest.cc_fields]
    from_address = _our_address(sender, recipients, own) or (senders[0].address if senders else "")
    subject = latest.subject or conversation.subject or ""
    if mode == "forward":
        return Composition(mode, from_address, subject=_prefixed("Fwd: ", subject), quote=True)
    to = [sender] if sender.get("address", "").lower() not in own else latest.to_fields
    cc: list[dict[str, Any]] = []
    if mode == "reply_all":
        to = [*to, *(f for f in latest.to_fields if f.get("address", "").lower() not in own)]
        cc = [f for f in latest.cc_fields if f.get("address", "").lower() not in own]
    return Composition(mode, from_address, _format(to), _format(cc),
                       subject=_prefixed("Re: ", subject))  # fmt: skip


def _latest_message(session: Session, conversation_id: str) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.draft.is_(False))
        .order_by(Message.delivered_at.desc(), Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )


def _our_address(
    sender: dict[str, Any], recipients: list[dict[str, Any]], own: set[str]
) -> str | None:
    for person in [*recipients, sender]:
        address = str(person.get("address") or "")
        if address.lower() in own:
            return address
    return None


def _prefixed(prefix: str, subject: str) -> str:
    return subject if subject.lower().startswith(prefix.lower()) else prefix + subject


def _format(people: list[dict[str, Any]]) -> str:
    seen: dict[str, str] = {}
    for person in people:
        address = str(person.get("address") or "")
        if address and address.lower() not in seen:
            seen[address.lower()] = formataddr((str(person.get("name") or ""), address))
    return ", ".join(seen.values())


def parse_addresses(text: str, *, what: str) -> list[dict[str, Any]]:
    """``"Sam <sam@example.com>, b@x.test"`` as Missive's participant objects."""
    people = []
    for name, address in getaddresses([text]):
        if not address:
            continue
        if "@" not in address or " " in address:
            raise BadRequest(f"'{address}' in {what} is not an email address")
        people.append({"address": address, **({"name": name} if name else {})})
    return people


def text_to_html(text: str) -> str:
    """The composer is plain text: escaped, one ``<div>`` per line, as mail clients write."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "".join(f"<div>{html.escape(line) or '<br>'}</div>" for line in lines)


def parse_send_at(text: str, *, now: int) -> int | None:
    """``datetime-local`` value read as UTC (the form says so)."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
    except ValueError as error:
        raise BadRequest("'Send at' is not a date and time") from error
    if int(moment.timestamp()) <= now:
        raise BadRequest("'Send at' must be in the future")
    return int(moment.timestamp())


def submit_composition(
    session: Session, *, actor: Principal, conversation_id: str | None, form: Composition,
    action: str, now: int, policy: RetryPolicy,
) -> MessageView:  # fmt: skip
    """Send now (``send``), schedule (``schedule``, with ``send_at``) or keep as a draft."""
    request = DraftRequest(
        subject=form.subject or None,
        body=text_to_html(form.body),
        from_field={"address": form.from_address},
        to_fields=parse_addresses(form.to, what="To"),
        cc_fields=parse_addresses(form.cc, what="Cc"),
        bcc_fields=parse_addresses(form.bcc, what="Bcc"),
        quote_previous_message=form.quote and conversation_id is not None,
        send=action == "send",
        send_at=parse_send_at(form.send_at, now=now) if action == "schedule" else None,
        conversation=conversation_id,
    )
    if action == "schedule" and request.send_at is None:
        raise BadRequest("Choose when to send it")
    if action in ("send", "schedule") and not (request.to_fields or request.cc_fields
                                               or request.bcc_fields):  # fmt: skip
        raise BadRequest("Add at least one recipient")
    return drafts.create_draft(session, actor=actor, request=request,
                               actions=ConversationActions(), now=now, policy=policy)  # fmt: skip
