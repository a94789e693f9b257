"""Helpers for the outgoing-mail tests: a recording aiosmtpd relay, a queued mail, parsing."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db.models import Attachment, Conversation, Message, OutboxItem
from missive_server.services import outbox
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.messages import (
    MessageInput,
    add_message,
    attachments_by_message,
)
from missive_server.services.outbox import RetryPolicy
from missive_server.settings import Settings
from tests.conftest import bearer
from tests.factories import Factory
from tests.serve_support import free_port

T0 = 1_700_000_000
DATE_T0 = "Tue, 14 Nov 2023 22:13:20 +0000"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 2, 1) + b"\x08\x06\x00\x00\x00"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
RECIPIENTS = ["paul@example.com", "carol@example.com", "secret@example.com"]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Relay:
    """An aiosmtpd handler that records what it accepts; ``answers`` scripts the replies to
    DATA, ``refuse`` the recipients answered 550, ``credentials`` the one accepted login."""

    received: list[Received] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    credentials: tuple[bytes, bytes] | None = None
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        answer = self.answers.pop(0) if self.answers else "250 2.0.0 Queued"
        if answer.startswith("250"):
            received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            self.received.append(received)
        return answer

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        # handled=False: aiosmtpd itself answers 235 or 535.
        return AuthResult(success=(data.login, data.password) == self.credentials, handled=False)


@contextmanager
def running(relay: Relay, **smtp_options: Any) -> Iterator[Relay]:
    relay.port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay.port, **smtp_options)
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()


def app_with(settings: Settings, clock: FrozenClock, engine: Engine, **changes: Any) -> FastAPI:
    changes = {"delivery_max_attempts": 3, "delivery_backoff_seconds": 30, **changes}
    return create_app(settings.model_copy(update=changes), clock=clock, engine=engine)


@dataclass
class World:
    alice_token: str
    conversation: Conversation


def make_world(factory: Factory) -> World:
    org = factory.organization("Acme")
    alice, token = factory.member(org, email="alice@acme.test")
    return World(token, factory.conversation(org, users=[alice], at=T0 - 3600))


def outgoing(**changes: Any) -> MessageInput:
    data = MessageInput(
        subject="Re: Ünïcode ✓ subject",
        body="<div>Hello Paul,</div><div><br></div><div>Here is the logo &amp; the CV.</div>",
        from_field={"name": "Alice Lidell-Ünïcode", "address": "alice@acme.test"},
        to_fields=[{"name": "Paul", "address": "paul@example.com"}],
        cc_fields=[{"name": None, "address": "carol@example.com"}],
        bcc_fields=[{"name": "Secret", "address": "secret@example.com"}],
        email_message_id="<out-1@acme.test>",
        in_reply_to=["<prev@example.com>"],
        references=["<root@example.com>", "<prev@example.com>"],
        attachments=[NewAttachment("logo.png", PNG), NewAttachment("résumé 2024.pdf", PDF)],
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return data


@dataclass
class Queued:
    message: Message
    item: OutboxItem
    attachments: dict[str, Attachment]


def queue_mail(
    session: Session,
    conversation: Conversation,
    now: int,
    data: MessageInput | None = None,
    *,
    recipients: list[str] | None = None,
    inline: str | None = "logo.png",
    max_attempts: int = 3,
) -> Queued:
    """What the sending service does: the message, then a ``mail`` row in the same commit."""
    message = add_message(session, conversation, data or outgoing(), now=now)
    files = {
        a.filename: a for a in attachments_by_message(session, [message.id]).get(message.id, [])
    }
    if inline is not None:
        message.body = (
            f'{message.body}<div><img alt="logo" style="max-width: 100%" '
            f'data-missive-attachment-id="{files[inline].id}"></div>'
        )
    item = outbox.enqueue(
        session,
        kind="mail",
        now=now,
        policy=RetryPolicy(max_attempts, 30),
        message_id=message.id,
        conversation_id=conversation.id,
        payload={"envelope_from": "alice@acme.test", "recipients": recipients or RECIPIENTS},
    )
    session.commit()
    return Queued(message, item, files)


def fresh(session: Session, row: Any) -> Any:
    session.expire_all()
    return session.get(type(row), row.id)


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def lines(part: EmailMessage) -> str:
    """A text part's content; the wire's CRLF line ends read back as ``\\n``."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def delivery(client: TestClient, world: World, queued: Queued) -> tuple[str, str | None]:
    response = client.get(f"/v1/messages/{queued.message.id}", headers=bearer(world.alice_token))
    assert response.status_code == 200, response.json()
    wire = response.json()["messages"]
    return wire["delivery_status"], wire["delivery_error"]
