"""The inbound SMTP listener (issue 3): mail to an account's address becomes a received message.

aiosmtpd's ``Controller`` runs the listener on its own thread and event loop; database work runs
in that loop's thread pool so one slow commit does not stall other SMTP sessions. A message is
committed before ``250 OK`` is answered, so accepted mail is never lost; any failure answers a
temporary ``451`` (the sender retries) and the listener keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SMTPSession
from sqlalchemy.orm import Session, sessionmaker

from missive_server.clock import Clock
from missive_server.services.inbound import inbound

log = logging.getLogger("missive_server.inbound")

NO_SUCH_MAILBOX = "550 5.1.1 No such mailbox here"
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, try again"
ACCEPTED = "250 OK"
#: Larger messages are refused with 552 (RFC 5321 4.5.3.1.10); the ``SIZE`` limit advertised.
DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024


class InboundHandler:
    """aiosmtpd handler hooks (``handle_RCPT``, ``handle_DATA``)."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock) -> None:
        self.session_factory = session_factory
        self.clock = clock

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook names)
        self,
        server: SMTP,
        session: SMTPSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            known = await asyncio.to_thread(self._is_known, address)
        except Exception:
            log.exception("inbound: looking up recipient %r failed", address)
            return TEMPORARY_FAILURE
        if not known:
            return NO_SUCH_MAILBOX
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: SMTPSession, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or _as_bytes(envelope.content)
        try:
            return await asyncio.to_thread(
                self._store, raw, list(envelope.rcpt_tos), envelope.mail_from
            )
        except Exception:
            log.exception("inbound: storing a message from %r failed", envelope.mail_from)
            return TEMPORARY_FAILURE

    def _is_known(self, address: str) -> bool:
        with self.session_factory() as session:
            return inbound.is_known_recipient(session, address)

    def _store(self, raw: bytes, recipients: list[str], mail_from: str | None) -> str:
        with self.session_factory() as session:
            try:
                result = inbound.receive_email(
                    session, raw, recipients, now=self.clock.now(), envelope_from=mail_from
                )
                if not result.deliveries:
                    # Every account was removed between RCPT and DATA.
                    session.rollback()
                    return NO_SUCH_MAILBOX
                session.commit()
            except BaseException:
                session.rollback()
                raise
        log.info(
            "inbound: message from %r stored for %d account(s)",
            mail_from,
            len(result.deliveries),
        )
        return ACCEPTED


def _as_bytes(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    return str(content or "").encode("utf-8", "surrogateescape")


class InboundServer:
    """The listener, started and stopped around the API server (``serve --smtp-listen``)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        host: str,
        port: int,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.handler = InboundHandler(session_factory, clock)
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            # gethostname, not aiosmtpd's default getfqdn(): that may wait on DNS for seconds.
            server_hostname=socket.gethostname(),
            ident="missive-server ESMTP",
            data_size_limit=self.max_message_bytes,
            enable_SMTPUTF8=True,
        )
        controller.start()
        self._controller = controller
        log.info("inbound SMTP listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> InboundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def parse_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:2525"`` (or ``"[::1]:2525"``) -> host and port; ValueError when malformed."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got '{value}'")
    return host, int(port)
