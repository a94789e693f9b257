"""Declarative, idempotent seeding (``missive-server seed``, ``demo``, later ``/_emulator/seed``).

Running the same document twice creates nothing new: organizations are matched by name, users
by email, teams and labels by (organization, name), accounts by address / phone number / name,
conversations by ``key`` (or their first message). Existing entities are reused as they are;
only missing links (memberships, team members, account users) are added and roles follow the
document. The caller owns the transaction: on ``SeedError`` it rolls back, so nothing is
half-seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.db.models import Account, AccountUser, Membership, Organization, User
from missive_server.ids import new_id
from missive_server.schemas.seed import (
    OrganizationSeed,
    SeedDocument,
    UserSeed,
    describe_validation_error,
    entry_label,
)
from missive_server.services.directory import passwords, tokens
from missive_server.services.seed._contacts import seed_contact_books
from missive_server.services.seed._context import SeedContext, SeedError, SeedResult
from missive_server.services.seed._conversations import seed_conversations
from missive_server.services.seed._directory import (
    seed_accounts,
    seed_shared_labels,
    seed_teams,
)
from missive_server.services.seed._responses import seed_responses
from missive_server.services.seed._tasks import seed_tasks

__all__ = ["SeedError", "SeedResult", "parse_document", "seed"]

#: Called after each entry with its label (``users[0] (alice@acme.test)``); drives progress bars.
Progress = Callable[[str], None]


def parse_document(raw: Any) -> SeedDocument:
    """Validate a decoded JSON document; errors name each entry and field."""
    try:
        return SeedDocument.model_validate(raw)
    except ValidationError as error:
        raise SeedError(describe_validation_error(error, raw)) from None


def seed(
    session: Session, document: SeedDocument, *, now: int, progress: Progress | None = None
) -> SeedResult:
    """Create what the document describes and is missing. Flushes, never commits."""
    ctx = SeedContext(session=session, now=now)
    step = progress or _ignore
    for index, org in enumerate(document.organizations):
        _seed_organization(ctx, org)
        step(entry_label("organizations", index, {"name": org.name}))
    for index, user in enumerate(document.users):
        _seed_user(ctx, entry_label("users", index, {"email": user.email}), user)
        step(entry_label("users", index, {"email": user.email}))
    seed_teams(ctx, document.teams, step)
    seed_accounts(ctx, document.accounts, step)
    seed_shared_labels(ctx, document.shared_labels, step)
    seed_contact_books(ctx, document.contact_books, step)
    seed_conversations(ctx, document.conversations, step)
    seed_tasks(ctx, document.tasks, step)
    seed_responses(ctx, document.responses, step)
    session.flush()
    return ctx.finish()


def _ignore(_label: str) -> None:
    return None


def _seed_organization(ctx: SeedContext, seed_org: OrganizationSeed) -> None:
    found = ctx.session.scalar(
        select(Organization)
        .where(Organization.name == seed_org.name)
        .order_by(Organization.created_at, Organization.id)
        .limit(1)
    )
    if found is None:
        found = Organization(id=new_id(), name=seed_org.name, created_at=ctx.now)
        ctx.session.add(found)
        ctx.session.flush()
    ctx.organizations[seed_org.name] = found
    ctx.record("organizations", seed_org.name, found.id)


def _seed_user(ctx: SeedContext, where: str, seed_user: UserSeed) -> None:
    user = ctx.session.scalar(select(User).where(User.email == seed_user.email))
    created = user is None
    if user is None:
        name = seed_user.name or seed_user.email.split("@")[0].title()
        user = User(
            id=new_id(),
            email=seed_user.email,
            name=name,
            avatar_url=seed_user.avatar_url,
            created_at=ctx.now,
        )
        ctx.session.add(user)
        ctx.session.flush()
    ctx.users[seed_user.email] = user
    ctx.record("users", seed_user.email, user.id)
    for org_name, role in seed_user.organizations.items():
        _ensure_membership(ctx, ctx.organization(f"{where}: organizations", org_name), user, role)
    _ensure_personal_account(ctx, user)
    if seed_user.password is not None and not passwords.password_matches(user, seed_user.password):
        passwords.set_password(user=user, password=seed_user.password)
    if seed_user.token is not None:
        ctx.tokens[user.email] = tokens.ensure_token(
            ctx.session, user_id=user.id, token=seed_user.token, now=ctx.now
        )
    elif created:
        # Shown once, like `token create`; later runs leave the user's tokens alone.
        ctx.tokens[user.email] = tokens.issue_token(
            ctx.session, user_id=user.id, now=ctx.now, name="seed"
        )


def _ensure_membership(ctx: SeedContext, org: Organization, user: User, role: str) -> None:
    membership = ctx.session.get(Membership, (org.id, user.id))
    if membership is None:
        ctx.session.add(Membership(organization_id=org.id, user_id=user.id, role=role))
    else:
        membership.role = role
    ctx.session.flush()


def _ensure_personal_account(ctx: SeedContext, user: User) -> None:
    """A user's own address is always a send-as alias: a personal email account."""
    account = ctx.session.scalar(
        select(Account).where(
            Account.type == "email", Account.owner_id == user.id, Account.address == user.email
        )
    )
    if account is None:
        account = Account(
            id=new_id(),
            type="email",
            name=user.name,
            organization_id=None,
            owner_id=user.id,
            address=user.email,
            created_at=ctx.now,
        )
        ctx.session.add(account)
        ctx.session.flush()
    if ctx.session.get(AccountUser, (account.id, user.id)) is None:
        ctx.session.add(AccountUser(account_id=account.id, user_id=user.id))
        ctx.session.flush()
