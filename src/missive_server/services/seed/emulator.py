"""The emulator's state operations (``/_emulator/reset`` and ``/_emulator/inbound``).

Reset deletes every row of every table, children before parents (the reverse of SQLAlchemy's
foreign-key sort), in the caller's transaction: the schema and Alembic's version row stay.
Inbound mail built from fields is real MIME (stdlib ``email``) handed to the same
``inbound.receive_email`` the SMTP listener calls, so both paths store identical conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, make_msgid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from missive_server.db.base import Base
from missive_server.errors import BadRequest
from missive_server.services.inbound import inbound
from missive_server.services.inbound.inbound import InboundResult


def reset_database(session: Session) -> dict[str, int]:
    """Delete every row; returns the rows deleted per table (tables that had any)."""
    deleted: dict[str, int] = {}
    for table in reversed(Base.metadata.sorted_tables):
        count = session.scalar(select(func.count()).select_from(table)) or 0
        if count:
            session.execute(delete(table))
            deleted[table.name] = count
    session.flush()
    return deleted


@dataclass(frozen=True, slots=True)
class InboundFields:
    from_: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    message_id: str | None = None


def build_mime(fields: InboundFields, *, now: int) -> bytes:
    """An RFC 5322 message as a mail client would send it."""
    message = EmailMessage()
    message["From"] = fields.from_
    message["To"] = ", ".join(fields.to)
    if fields.cc:
        message["Cc"] = ", ".join(fields.cc)
    if fields.subject is not None:
        message["Subject"] = fields.subject
    message["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    domain = _domain(fields.from_)
    message["Message-ID"] = fields.message_id or make_msgid(domain=domain)
    if fields.in_reply_to:
        message["In-Reply-To"] = fields.in_reply_to
    references = fields.references or ([fields.in_reply_to] if fields.in_reply_to else [])
    if references:
        message["References"] = " ".join(references)
    message.set_content(fields.text or "")
    if fields.html is not None:
        message.add_alternative(fields.html, subtype="html")
    return message.as_bytes()


def envelope_recipients(raw: bytes) -> list[str]:
    """To, Cc and Delivered-To/X-Original-To addresses of a raw message: its SMTP recipients
    when none are given."""
    try:
        parsed = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    except Exception:
        return []
    values = [
        str(v)
        for name in ("To", "Cc", "Delivered-To", "X-Original-To")
        for v in parsed.get_all(name, [])
    ]
    return [address for _name, address in getaddresses(values) if "@" in address]


def receive(session: Session, raw: bytes, recipients: list[str], *, now: int) -> InboundResult:
    """``inbound.receive_email`` with the SMTP listener's refusal as an error: a message no
    account receives is refused (the listener answers ``550``)."""
    if not recipients:
        raise BadRequest("No recipient: give 'to' addresses (the message has no To or Cc)")
    result = inbound.receive_email(session, raw, recipients, now=now)
    if not result.deliveries:
        listed = ", ".join(recipients)
        raise BadRequest(f"No account receives mail for {listed} (the SMTP listener answers 550)")
    return result


def _domain(address: str) -> str:
    found = getaddresses([address])
    return found[0][1].rpartition("@")[2] if found and "@" in found[0][1] else "emulator.invalid"
