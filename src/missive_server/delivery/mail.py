"""Outgoing email: the RFC 5322 message of a sent ``Message``, and the mailers that relay it over
SMTP (``MISSIVE_SMTP_URL``) or keep it in the outbox row (no relay configured, Mailpit-style).

MIME layout (the one Thunderbird and Apple Mail write)::

    multipart/mixed                     only with attachments
      multipart/alternative
        text/plain                      derived from the HTML body
        multipart/related               only with inline images
          text/html                     <img data-missive-attachment-id> -> <img src="cid:...">
          image/*                       Content-ID
      application/pdf ...               attachments
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy
from email.utils import format_datetime
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy.orm import Session

from missive_server.db.models import Attachment, Message, MessageReference, OutboxItem
from missive_server.delivery.worker import Delivered, DeliveryError
from missive_server.services.conversations.messages import (
    attachments_by_message,
    normalize_reference,
)
from missive_server.services.text import html_to_text

log = logging.getLogger("missive_server.mail")

#: ``policy.SMTP`` (CRLF, RFC 2047/2231 encoded non-ASCII) with 7-bit bodies: quoted-printable or
#: base64, so no relay needs 8BITMIME. Its own registry: ``map_to_type`` would otherwise change
#: the header classes of the shared stdlib policies.
_HEADERS = HeaderRegistry()
POLICY = EmailPolicy(linesep="\r\n", cte_type="7bit", header_factory=_HEADERS)

_INLINE_ID = re.compile(r"""data-missive-attachment-id\s*=\s*(["'])([^"']+)\1""", re.IGNORECASE)
_STYLE_SCRIPT = re.compile(r"<(style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_LINE_BREAK = re.compile(r"<br\b[^>]*>|</(div|li|tr|pre)\s*>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</?(p|h[1-6]|blockquote|ul|ol|table)\b[^>]*>", re.IGNORECASE)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)


class _MessageIdsHeader(BaseHeader):
    """Message-ID, In-Reply-To, References: kept verbatim and folded only between ids. The stock
    classes turn an id longer than a line into encoded words (or truncate an odd one), which
    breaks threading at the recipient."""

    max_count = None

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        kwds["decoded"] = " ".join(str(value).split())
        kwds["parse_tree"] = None

    def fold(self, *, policy: Policy) -> str:
        name = self.name
        lines, line = [], f"{name}:"
        for token in str(self).split():
            if len(line) + 1 + len(token) > (policy.max_line_length or 78) and line != f"{name}:":
                lines.append(line)
                line = ""
            line += " " + token
        lines.append(line)
        return policy.linesep.join(lines) + policy.linesep


_HEADERS.map_to_type("message-id", _MessageIdsHeader)
_HEADERS.map_to_type("in-reply-to", _MessageIdsHeader)
_HEADERS.map_to_type("references", _MessageIdsHeader)


def plain_text(body: str | None) -> str:
    """The text/plain alternative: ``html_to_text`` line by line, so lines and paragraphs stay
    (Missive clients write ``<div>line</div><div><br></div>`` for a blank line, spec 2.6.1)."""
    if not body:
        return ""
    marked = " ".join(_STYLE_SCRIPT.sub(" ", body).split())
    marked = _LIST_ITEM.sub("- ", marked)
    marked = _PARAGRAPH.sub("\n\n", _LINE_BREAK.sub("\n", marked))
    text = "\n".join(html_to_text(line) for line in marked.split("\n")).strip()
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"


def build_mime(message: Message, attachments: Sequence[Attachment]) -> bytes:
    """The message as sent. Bcc recipients are never written (they are only in the envelope).
    Raises ``ValueError`` for an address that cannot be written in a header."""
    domain = _domain(message)
    referenced = {m.group(2) for m in _INLINE_ID.finditer(message.body or "")}
    inline = {a.id: a for a in attachments if a.id in referenced}
    mime = EmailMessage(policy=POLICY)
    _set_headers(mime, message, domain)
    mime.set_content(plain_text(message.body))
    content_ids = {a.id: f"{a.id}@{domain}" for a in inline.values()}
    mime.add_alternative(_with_content_ids(message.body or "", content_ids), subtype="html")
    if inline:
        html_part = mime.get_body(preferencelist=("html",))
        assert html_part is not None  # just added
        for attachment in inline.values():
            maintype, subtype = _content_type(attachment)
            html_part.add_related(
                attachment.content,
                maintype,
                subtype,
                cid=f"<{content_ids[attachment.id]}>",
                filename=attachment.filename,
                disposition="inline",
            )
    for attachment in attachments:
        if attachment.id not in inline:
            maintype, subtype = _content_type(attachment)
            mime.add_attachment(attachment.content, maintype, subtype, filename=attachment.filename)
    for part in mime.walk():
        if part is not mime:  # the stdlib repeats MIME-Version on every part it creates
            del part["MIME-Version"]
    return mime.as_bytes()


def _set_headers(mime: EmailMessage, message: Message, domain: str) -> None:
    if message.from_field:
        mime["From"] = header_address(message.from_field)
    for name, fields in (
        ("To", message.to_fields),
        ("Cc", message.cc_fields),
        ("Reply-To", message.reply_to_fields),
    ):
        if fields:
            mime[name] = [header_address(f) for f in fields]
    if message.subject:
        mime["Subject"] = message.subject
    sent_at = message.delivered_at if message.delivered_at is not None else message.created_at
    mime["Date"] = format_datetime(datetime.fromtimestamp(sent_at, UTC))
    mime["Message-ID"] = message_id_header(message, domain)
    for name, ids in (("In-Reply-To", message.in_reply_to), ("References", message.references)):
        refs = [normalize_reference(str(r)) for r in ids]
        if any(refs):
            mime[name] = " ".join(f"<{r}>" for r in refs if r)


def message_id_header(message: Message, domain: str) -> str:
    """The stored Message-ID; one derived from the message id when the sender left none."""
    stored = normalize_reference(message.email_message_id or "")
    return f"<{stored or f'{message.id}@{domain}'}>"


def header_address(participant: dict[str, Any]) -> Address:
    address = ascii_address(str(participant.get("address") or ""))
    local, _, domain = address.rpartition("@")
    try:
        return Address(str(participant.get("name") or ""), local, domain)
    except (IndexError, MessageError) as error:
        raise ValueError(f"'{address}' is not a valid email address") from error


def ascii_address(address: str) -> str:
    """``local@domain`` with an internationalised domain in its IDNA (xn--) form. Non-ASCII
    local parts would need SMTPUTF8, which we do not speak (docs/compatibility.md)."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"'{address}' is not a valid email address")
    if not local.isascii():
        raise ValueError(f"'{address}' has a non-ASCII mailbox name (SMTPUTF8 is not supported)")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def _domain(message: Message) -> str:
    """Right-hand side for the ids we mint (Message-ID fallback, Content-IDs): the sender's."""
    address = str((message.from_field or {}).get("address") or "")
    domain = address.rpartition("@")[2].strip()
    return domain.encode("idna").decode("ascii") if domain else "missive-server.invalid"


def _with_content_ids(body: str, content_ids: dict[str, str]) -> str:
    """``data-missive-attachment-id="<id>"`` (spec 1A: inline images carry no ``src``) becomes
    ``src="cid:..."`` for the recipient's client."""

    def swap(match: re.Match[str]) -> str:
        cid = content_ids.get(match.group(2))
        return f'src="cid:{cid}"' if cid else match.group(0)

    return _INLINE_ID.sub(swap, body)


def _content_type(attachment: Attachment) -> tuple[str, str]:
    # message/* and multipart/* parts may not be base64-encoded (RFC 2046 5.2.1), and a stored
    # file is opaque bytes to us: send those as plain files, the filename keeps its extension.
    if attachment.media_type in ("message", "multipart"):
        return "application", "octet-stream"
    return attachment.media_type, attachment.sub_type


# Relaying.

Security = Literal["none", "starttls", "tls"]
DEFAULT_PORTS: dict[Security, int] = {"none": 25, "starttls": 587, "tls": 465}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


@dataclass(frozen=True, slots=True)
class SmtpRelay:
    """``MISSIVE_SMTP_URL``: ``smtp://[user:pass@]host[:port][?starttls=true]`` or ``smtps://``
    (TLS from the first byte). User and password are percent-decoded."""

    host: str
    port: int
    security: Security = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str) -> SmtpRelay:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("MISSIVE_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("MISSIVE_SMTP_URL has no host")
        starttls = False
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name != "starttls" or value.lower() not in _TRUE + _FALSE:
                raise ValueError(f"MISSIVE_SMTP_URL: unknown option '{name}={value}'")
            starttls = value.lower() in _TRUE
        if starttls and parts.scheme == "smtps":
            raise ValueError("MISSIVE_SMTP_URL: smtps:// is already TLS; drop ?starttls=true")
        security: Security = (
            "tls" if parts.scheme == "smtps" else "starttls" if starttls else "none"
        )
        try:
            port = parts.port or DEFAULT_PORTS[security]
        except ValueError as error:
            raise ValueError(f"MISSIVE_SMTP_URL: {error}") from None
        return cls(
            host=parts.hostname,
            port=port,
            security=security,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


class Mailer(Protocol):
    #: ``True`` when mail is kept (the outbox row is the mailbox) instead of relayed.
    captures: bool

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        """Hand one message to the relay; raises ``DeliveryError``."""
        ...


class CaptureMailer:
    """No relay configured: the worker stores the raw message in the outbox row and marks it
    sent, where ``missive-server outbox`` and ``GET /_emulator/outbox`` show it."""

    captures = True

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        log.info("captured mail from %s to %s (%d bytes)", envelope_from, recipients, len(raw))


class SmtpMailer:
    """One SMTP session per message (worker passes are small; no idle connections to manage)."""

    captures = False

    def __init__(
        self, url: str, *, timeout: float = 30, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.relay = SmtpRelay.from_url(url)
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> None:
        relay = self.relay
        try:
            with self._connect() as smtp:
                if relay.security == "starttls":
                    smtp.starttls(context=self.ssl_context)
                if relay.username is not None:
                    smtp.login(relay.username, relay.password or "")
                refused = smtp.sendmail(envelope_from, recipients, raw)
        except (smtplib.SMTPException, OSError) as error:
            raise _delivery_error(error, relay.address) from error
        if refused:
            # Accepted for the others: retrying would send them a second copy.
            log.warning("%s refused some recipients: %s", relay.address, _refusals(refused))

    def _connect(self) -> smtplib.SMTP:
        relay = self.relay
        if relay.security == "tls":
            return smtplib.SMTP_SSL(
                relay.host, relay.port, timeout=self.timeout, context=self.ssl_context
            )
        return smtplib.SMTP(relay.host, relay.port, timeout=self.timeout)


def _delivery_error(error: Exception, relay: str) -> DeliveryError:
    """5xx answers are final; 4xx, network and TLS trouble are retried. A refused login is
    retried too (as Postfix's soft bounce does), so fixing the credentials rescues the queue."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return DeliveryError(
            f"{relay} refused every recipient: {_refusals(error.recipients)}",
            permanent=all(500 <= code < 600 for code in codes),
        )
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"{relay} refused the login: {_reply(error)}")
    if isinstance(error, smtplib.SMTPResponseException):
        return DeliveryError(
            f"{relay} answered {_reply(error)}", permanent=500 <= error.smtp_code < 600
        )
    return DeliveryError(f"{relay}: {type(error).__name__}: {error}")


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{error.smtp_code} {decoded}"


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{rcpt}: {code} {text.decode('utf-8', 'replace')}"
        for rcpt, (code, text) in refused.items()
    )


class MailHandler:
    """Outbox kind ``mail``: payload ``{"envelope_from": str, "recipients": [str, ...]}``
    (To, Cc and Bcc addresses), written by the sending service with the message."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    def deliver(self, session: Session, item: OutboxItem, *, now: int) -> Delivered:
        message = session.get(Message, item.message_id) if item.message_id else None
        if message is None:
            raise DeliveryError("the message of this mail no longer exists", permanent=True)
        attachments = attachments_by_message(session, [message.id]).get(message.id, [])
        try:
            envelope_from, recipients = _envelope(item.payload)
            raw = build_mime(message, attachments)
        except ValueError as error:
            raise DeliveryError(f"cannot write this message: {error}", permanent=True) from error
        self.mailer.send(envelope_from, recipients, raw)
        if not message.email_message_id:
            _keep_message_id(session, message)
        return Delivered(raw=raw, captured=self.mailer.captures)


def _keep_message_id(session: Session, message: Message) -> None:
    """Store the Message-ID we minted, so replies to it thread into the conversation (1B)."""
    message.email_message_id = message_id_header(message, _domain(message))
    session.add(
        MessageReference(
            message_id=message.id,
            reference=normalize_reference(message.email_message_id),
            conversation_id=message.conversation_id,
        )
    )


def _envelope(payload: dict[str, Any]) -> tuple[str, list[str]]:
    sender, recipients = payload.get("envelope_from"), payload.get("recipients")
    if not isinstance(sender, str) or not sender:
        raise ValueError("the outbox payload has no 'envelope_from'")
    if not isinstance(recipients, list) or not recipients:
        raise ValueError("the outbox payload has no 'recipients'")
    return ascii_address(sender), list(dict.fromkeys(ascii_address(str(r)) for r in recipients))
