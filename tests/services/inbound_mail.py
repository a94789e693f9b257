"""Builders for inbound-email tests: email accounts (no factory has them yet) and raw mail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.orm import Session

from missive_server.db.models import Account, AccountAlias, AccountUser, Organization, Team, User
from missive_server.ids import new_id

T0 = 1_700_000_000
#: A PNG header claiming 40x30 pixels.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (40).to_bytes(4, "big") + (30).to_bytes(4, "big")


def email_account(
    session: Session,
    address: str,
    *,
    org: Organization | None = None,
    team: Team | None = None,
    owner: User | None = None,
    users: Sequence[User] = (),
    aliases: Sequence[str] = (),
) -> Account:
    """An email account (there is no factory for accounts yet); committed."""
    account = Account(
        id=new_id(),
        type="email",
        name=address,
        organization_id=org.id if org else None,
        team_id=team.id if team else None,
        owner_id=owner.id if owner else None,
        address=address,
        created_at=T0,
    )
    session.add(account)
    session.flush()
    session.add_all(AccountUser(account_id=account.id, user_id=u.id) for u in users)
    session.add_all(
        AccountAlias(id=new_id(), account_id=account.id, address=a, name=None) for a in aliases
    )
    session.commit()
    return account


def mail(
    subject: str = "Help",
    *,
    sender: str = "Sam <sam@example.com>",
    to: str = "support@acme.test",
    text: str | None = "Hello there",
    html: str | None = None,
    message_id: str | None = "<first@example.com>",
    in_reply_to: str | None = None,
    references: str | None = None,
    date: int | None = None,
) -> bytes:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    if date is not None:
        message["Date"] = format_datetime(datetime.fromtimestamp(date, UTC))
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    return message.as_bytes(policy=policy.SMTP)  # CRLF line ends, as on the wire
