"""Seeding the organization's directory: teams, accounts, shared labels."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.db.models import (
    Account,
    AccountAlias,
    AccountUser,
    Organization,
    SharedLabel,
    SharedLabelUser,
    Team,
    TeamMember,
    User,
)
from missive_server.ids import new_id
from missive_server.schemas.seed import (
    AccountSeed,
    CustomAccountSeed,
    EmailAccountSeed,
    PhoneAccountSeed,
    SharedLabelSeed,
    TeamSeed,
    entry_label,
)
from missive_server.services.seed._context import SeedContext, SeedError, label_path


def seed_teams(ctx: SeedContext, teams: Sequence[TeamSeed], step: Callable[[str], None]) -> None:
    for index, seed_team in enumerate(teams):
        where = entry_label("teams", index, {"name": seed_team.name})
        org = ctx.organization(f"{where}: organization", seed_team.organization)
        team = ctx.find_team(org, seed_team.name)
        if team is None:
            team = Team(
                id=new_id(),
                organization_id=org.id,
                name=seed_team.name,
                emoji=seed_team.emoji,
                color=seed_team.color,
                created_at=ctx.now,
            )
            ctx.session.add(team)
            ctx.session.flush()
            ctx.add_team(team, org)
        both = set(seed_team.active_members) & set(seed_team.observers)
        if both:
            raise SeedError(
                f"{where}: '{sorted(both)[0]}' cannot be an active member and an observer"
            )
        active = ctx.members(f"{where}: active_members", seed_team.active_members, org)
        observers = ctx.members(f"{where}: observers", seed_team.observers, org)
        _ensure_team_members(ctx.session, team, active, "active")
        _ensure_team_members(ctx.session, team, observers, "observer")
        ctx.record("teams", team.name, team.id, org.name)
        step(where)


def _ensure_team_members(session: Session, team: Team, users: list[User], role: str) -> None:
    for position, user in enumerate(users):
        member = session.get(TeamMember, (team.id, user.id))
        if member is None:
            session.add(TeamMember(team_id=team.id, user_id=user.id, role=role, position=position))
        else:
            member.role = role
    session.flush()


def seed_accounts(
    ctx: SeedContext, accounts: Sequence[AccountSeed], step: Callable[[str], None]
) -> None:
    for index, seed_account in enumerate(accounts):
        where = entry_label("accounts", index, seed_account.model_dump())
        org = (
            ctx.organization(f"{where}: organization", seed_account.organization)
            if seed_account.organization
            else None
        )
        if seed_account.team and org is None:
            raise SeedError(f"{where}: team: a team needs the account's 'organization'")
        team = (
            ctx.team(f"{where}: team", org, seed_account.team)
            if org and seed_account.team
            else None
        )
        account = _find_account(ctx.session, seed_account, org) or _new_account(
            ctx, seed_account, org
        )
        if team is not None:
            account.team_id = team.id
        for user in ctx.members(f"{where}: users", seed_account.users, org):
            if ctx.session.get(AccountUser, (account.id, user.id)) is None:
                ctx.session.add(AccountUser(account_id=account.id, user_id=user.id))
        if isinstance(seed_account, EmailAccountSeed):
            _ensure_aliases(ctx.session, account, seed_account.aliases)
        ctx.session.flush()
        ctx.record("accounts", _account_key(seed_account), account.id, org.name if org else "")
        step(where)


def _account_key(seed_account: AccountSeed) -> str:
    if isinstance(seed_account, EmailAccountSeed):
        return seed_account.address.strip().lower()
    if isinstance(seed_account, PhoneAccountSeed):
        return seed_account.phone_number
    return seed_account.name


def _find_account(
    session: Session, seed_account: AccountSeed, org: Organization | None
) -> Account | None:
    stmt = select(Account).where(
        Account.type == seed_account.type,
        Account.organization_id == org.id if org else Account.organization_id.is_(None),
        Account.owner_id.is_(None),
    )
    if isinstance(seed_account, EmailAccountSeed):
        stmt = stmt.where(Account.address == seed_account.address.strip().lower())
    elif isinstance(seed_account, PhoneAccountSeed):
        stmt = stmt.where(Account.phone_number == seed_account.phone_number)
    else:
        stmt = stmt.where(Account.name == seed_account.name)
    return session.scalar(stmt.order_by(Account.created_at, Account.id).limit(1))


def _new_account(ctx: SeedContext, seed_account: AccountSeed, org: Organization | None) -> Account:
    account = Account(
        id=new_id(),
        type=seed_account.type,
        name=seed_account.name or _account_key(seed_account),
        organization_id=org.id if org else None,
        created_at=ctx.now,
    )
    if isinstance(seed_account, EmailAccountSeed):
        account.address = seed_account.address.strip().lower()
    elif isinstance(seed_account, PhoneAccountSeed):
        account.phone_number = seed_account.phone_number
        account.provider = seed_account.provider
    elif isinstance(seed_account, CustomAccountSeed):
        account.webhook_url = seed_account.webhook_url
        account.secret = seed_account.secret
        account.message_type = seed_account.message_type
    ctx.session.add(account)
    ctx.session.flush()
    return account


def _ensure_aliases(session: Session, account: Account, aliases: list[str]) -> None:
    known = set(
        session.scalars(select(AccountAlias.address).where(AccountAlias.account_id == account.id))
    )
    for address in dict.fromkeys(a.strip().lower() for a in aliases):
        if address not in known:
            session.add(
                AccountAlias(id=new_id(), account_id=account.id, address=address, name=None)
            )


def seed_shared_labels(
    ctx: SeedContext, labels: Sequence[SharedLabelSeed], step: Callable[[str], None]
) -> None:
    for index, seed_label in enumerate(labels):
        where = entry_label("shared_labels", index, {"name": seed_label.name})
        org = ctx.organization(f"{where}: organization", seed_label.organization)
        parent = (
            ctx.label(f"{where}: parent", org, seed_label.parent) if seed_label.parent else None
        )
        paths = ctx.labels(org)
        path = f"{label_path(parent, {lbl.id: lbl for lbl in paths.values()})}/" if parent else ""
        path += seed_label.name
        team_ref = seed_label.share_with_team
        team = ctx.team(f"{where}: share_with_team", org, team_ref) if team_ref else None
        label = paths.get(path)
        if label is None:
            label = _new_label(ctx, seed_label, org, parent, team)
            paths[path] = label
        share_users = ctx.members(f"{where}: share_with_users", seed_label.share_with_users, org)
        for user in share_users:
            if ctx.session.get(SharedLabelUser, (label.id, user.id)) is None:
                ctx.session.add(SharedLabelUser(shared_label_id=label.id, user_id=user.id))
        ctx.session.flush()
        ctx.record("shared_labels", path, label.id, org.name)
        step(where)


def _new_label(
    ctx: SeedContext,
    seed_label: SharedLabelSeed,
    org: Organization,
    parent: SharedLabel | None,
    team: Team | None,
) -> SharedLabel:
    label = SharedLabel(
        id=new_id(),
        organization_id=org.id,
        name=seed_label.name,
        color=seed_label.color,
        parent_id=parent.id if parent else None,
        share_with_organization=seed_label.share_with_organization,
        share_with_team_id=team.id if team else None,
        visibility=seed_label.visibility,
        created_at=ctx.now,
    )
    ctx.session.add(label)
    ctx.session.flush()
    return label
