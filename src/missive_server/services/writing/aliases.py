"""Who may send as what: the caller's send-as aliases and the accounts they can use (spec 2.6.1).

An account is the caller's when they own it (``owner_id``) or it is shared with them
(``account_users``). Its send-as aliases are its own address and its ``account_aliases`` rows,
compared case-insensitively. Phone accounts (SMS, WhatsApp) are matched by their exact E.164
number, optionally narrowed by provider or type (``from_field.type``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Account, AccountAlias, AccountUser

#: Account types reached by a ``phone_number`` sender.
PHONE_TYPES = ("sms", "whatsapp")
#: ``from_field.type`` values (spec 2.6.1): a provider, or the ``whatsapp`` account type.
PHONE_PROVIDERS = ("signalwire", "twilio", "twilio_whatsapp", "whatsapp")


@dataclass(frozen=True, slots=True)
class Sender:
    """An email alias the caller may send as: the account, the address as configured, and the
    alias's display name (``None`` for the account's own address)."""

    account: Account
    address: str
    name: str | None = None


def usable_by(actor: Principal, *, organization_members: bool = False) -> ColumnElement[bool]:
    """Accounts the caller owns or that are shared with them. With ``organization_members``,
    every member of an organization may use its accounts (integrations pushing into a custom
    channel, ``POST /v1/messages``); sending needs the account shared with the caller."""
    owned_or_shared = or_(
        Account.owner_id == actor.user_id,
        exists().where(AccountUser.account_id == Account.id, AccountUser.user_id == actor.user_id),
    )
    if not organization_members:
        return owned_or_shared
    return or_(
        Account.organization_id.in_(actor.organization_ids),
        Account.organization_id.is_(None) & owned_or_shared,
    )


def find_sender(
    session: Session, actor: Principal, address: str, *, account_id: str | None = None
) -> Sender | None:
    """The alias ``address`` of an email account the caller may use (of ``account_id`` only,
    when given); the oldest account wins when several share the address."""
    wanted = address.strip().lower()
    if not wanted:
        return None
    own = _email_accounts(actor, account_id).where(func.lower(Account.address) == wanted)
    account = session.scalar(own.order_by(Account.created_at, Account.id).limit(1))
    if account is not None:
        return Sender(account, account.address or wanted)
    aliases = (
        _email_accounts(actor, account_id)
        .add_columns(AccountAlias)
        .join(AccountAlias, AccountAlias.account_id == Account.id)
        .where(func.lower(AccountAlias.address) == wanted)
        .order_by(Account.created_at, Account.id, AccountAlias.id)
        .limit(1)
    )
    found = session.execute(aliases).first()
    if found is None:
        return None
    account, alias = found
    return Sender(account, alias.address, alias.name)


def sender_account(session: Session, actor: Principal, address: str) -> Account | None:
    """The email account behind one of the caller's send-as aliases, or ``None``."""
    sender = find_sender(session, actor, address)
    return sender.account if sender is not None else None


def phone_account(
    session: Session,
    actor: Principal,
    phone_number: str,
    *,
    provider: str | None = None,
    account_id: str | None = None,
) -> Account | None:
    """The SMS/WhatsApp account with this number the caller may use. ``provider`` (a
    ``from_field.type``) picks among accounts sharing the number."""
    stmt = select(Account).where(
        Account.type.in_(PHONE_TYPES),
        Account.phone_number == phone_number.strip(),
        usable_by(actor),
    )
    if account_id is not None:
        stmt = stmt.where(Account.id == account_id)
    if provider is not None:
        stmt = stmt.where(
            or_(
                Account.provider == provider,
                and_(Account.provider.is_(None), Account.type == provider),
            )
        )
    # Ambiguous without ``provider``: SMS before WhatsApp, then the oldest.
    return session.scalar(stmt.order_by(Account.type, Account.created_at, Account.id).limit(1))


def usable_account(
    session: Session, actor: Principal, account_id: str, *, organization_members: bool = False
) -> Account | None:
    """An account by id if the caller may use it (unknown and foreign ids alike: ``None``)."""
    usable = usable_by(actor, organization_members=organization_members)
    return session.scalar(select(Account).where(Account.id == account_id, usable))


def _email_accounts(actor: Principal, account_id: str | None) -> Select[Account]:
    stmt = select(Account).where(Account.type == "email", usable_by(actor))
    if account_id is not None:
        stmt = stmt.where(Account.id == account_id)
    return stmt
