"""Outbox kind ``password_reset``: the "forgot password" mail. Its payload carries the one-time
link until the mail is sent through a relay, then only its recipient is kept: a reset link must
not outlive its delivery in the database. Captured (no relay, emulator mode), the raw mail stays
in the outbox on purpose: that is where a developer reads it."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from sqlalchemy.orm import Session

from missive_server.db.models import OutboxItem
from missive_server.delivery.mail import Mailer
from missive_server.delivery.worker import Delivered, DeliveryError
from missive_server.services.directory.passwords import RESET_MAIL_KIND as KIND

__all__ = ["KIND", "PasswordResetMailHandler", "build_reset_mail"]


class PasswordResetMailHandler:
    def __init__(self, mailer: Mailer, *, sender: str) -> None:
        self.mailer = mailer
        self.sender = sender

    def deliver(self, session: Session, item: OutboxItem, *, now: int) -> Delivered:
        payload = item.payload
        if not isinstance(payload.get("link"), str) or not isinstance(payload.get("to"), str):
            raise DeliveryError("this reset mail has no link or recipient", permanent=True)
        raw = build_reset_mail(payload, sender=self.sender, now=now)
        self.mailer.send(self.sender, [payload["to"]], raw)
        if self.mailer.captures:
            return Delivered(raw=raw, captured=True)
        item.payload = {"to": payload["to"], "sent": True}
        return Delivered(raw=None, captured=False)


def build_reset_mail(payload: dict[str, Any], *, sender: str, now: int) -> bytes:
    minutes = int(payload.get("minutes", 30))
    mail = EmailMessage(policy=SMTP)
    mail["From"] = formataddr(("missive-server", sender))
    mail["To"] = formataddr((str(payload.get("name") or ""), payload["to"]))
    mail["Subject"] = "Reset your missive-server password"
    mail["Date"] = formatdate(now, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(
        "Someone (hopefully you) asked to reset the password of this address.\n\n"
        f"Open this link within {minutes} minutes to choose a new password:\n\n"
        f"{payload['link']}\n\n"
        "The link works once. If you did not ask for it, ignore this mail: your password "
        "stays as it is.\n"
    )
    return mail.as_bytes()
