"""What a seed run knows: entities of the document by name, found in the file or the database.

Every lookup names the entry and the field it came from, so a wrong reference reads
``teams[0] (Support): active_members: no user 'bob@acme.test' in this file or the database``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from missive_server.db.models import Account, Membership, Organization, SharedLabel, Team, User
from missive_server.errors import BadRequest

#: Sections of the printed id map, in document order.
SECTIONS = ("organizations", "users", "teams", "accounts", "shared_labels", "conversations")


class SeedError(BadRequest):
    """A document that cannot be seeded; the message names the entry and the field."""


@dataclass(slots=True)
class SeedResult:
    """Ids of everything the document names, tokens to print, and notes on skipped parts."""

    ids: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, dict[str, str]]:
        return {**self.ids, "tokens": dict(self.tokens)}


@dataclass(slots=True)
class SeedContext:
    session: Session
    now: int
    organizations: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    #: (section, organization name or "", key) -> id; keys are made unique in ``finish``.
    named: list[tuple[str, str, str, str]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _teams: dict[tuple[str, str], Team] = field(default_factory=dict)
    _labels: dict[str, dict[str, SharedLabel]] = field(default_factory=dict)

    def record(self, section: str, key: str, entity_id: str, organization: str = "") -> None:
        self.named.append((section, organization, key, entity_id))

    def finish(self) -> SeedResult:
        return SeedResult(ids=_unique_keys(self.named), tokens=self.tokens, notes=self.notes)

    def organization(self, where: str, name: str) -> Organization:
        found = self.organizations.get(name) or self.session.scalar(
            select(Organization)
            .where(Organization.name == name)
            .order_by(Organization.created_at, Organization.id)
            .limit(1)
        )
        if found is None:
            raise SeedError(f"{where}: no organization '{name}' in this file or the database")
        self.organizations[name] = found
        return found

    def user(self, where: str, email: str) -> User:
        address = email.strip().lower()
        found = self.users.get(address) or self.session.scalar(
            select(User).where(User.email == address)
        )
        if found is None:
            raise SeedError(f"{where}: no user '{email}' in this file or the database")
        self.users[address] = found
        return found

    def members(
        self, where: str, emails: list[str], organization: Organization | None
    ) -> list[User]:
        """Users by email who, when an organization is given, must belong to it."""
        users = [self.user(where, email) for email in emails]
        if organization is None or not users:
            return users
        member_ids = set(
            self.session.scalars(
                select(Membership.user_id).where(
                    Membership.organization_id == organization.id,
                    Membership.user_id.in_([u.id for u in users]),
                )
            )
        )
        for user in users:
            if user.id not in member_ids:
                raise SeedError(f"{where}: '{user.email}' is not a member of '{organization.name}'")
        return users

    def team(self, where: str, organization: Organization, name: str) -> Team:
        found = self.find_team(organization, name)
        if found is None:
            raise SeedError(
                f"{where}: no team '{name}' in '{organization.name}' in this file or the database"
            )
        return found

    def find_team(self, organization: Organization, name: str) -> Team | None:
        key = (organization.id, name)
        found = self._teams.get(key) or self.session.scalar(
            select(Team)
            .where(Team.organization_id == organization.id, Team.name == name)
            .order_by(Team.created_at, Team.id)
            .limit(1)
        )
        if found is not None:
            self._teams[key] = found
        return found

    def add_team(self, team: Team, organization: Organization) -> None:
        self._teams[(organization.id, team.name)] = team

    def labels(self, organization: Organization) -> dict[str, SharedLabel]:
        """The organization's labels by ``Parent/Child`` path (loaded once, then kept current)."""
        if organization.id not in self._labels:
            rows = self.session.scalars(
                select(SharedLabel)
                .where(SharedLabel.organization_id == organization.id)
                .order_by(SharedLabel.created_at, SharedLabel.id)
            ).all()
            self._labels[organization.id] = _by_path(rows)
        return self._labels[organization.id]

    def label(self, where: str, organization: Organization, ref: str) -> SharedLabel:
        """A label by its path, or by its own name when that is unambiguous."""
        paths = self.labels(organization)
        if ref in paths:
            return paths[ref]
        matches = [path for path, label in paths.items() if label.name == ref]
        if len(matches) > 1:
            choices = ", ".join(f"'{m}'" for m in sorted(matches))
            raise SeedError(f"{where}: shared label '{ref}' is ambiguous; use one of {choices}")
        if not matches:
            raise SeedError(
                f"{where}: no shared label '{ref}' in '{organization.name}' in this file or the "
                "database (define parents before their children)"
            )
        return paths[matches[0]]

    def account(self, where: str, organization: Organization | None, ref: str) -> Account:
        """An account by address, phone number or name, in the organization (or personal)."""
        in_scope = (
            Account.organization_id == organization.id
            if organization
            else Account.organization_id.is_(None)
        )
        matches = or_(
            Account.address == ref.strip().lower(), Account.phone_number == ref, Account.name == ref
        )
        found = self.session.scalar(
            select(Account)
            .where(in_scope, matches)
            .order_by(Account.created_at, Account.id)
            .limit(1)
        )
        if found is None:
            scope = f"'{organization.name}'" if organization else "personal accounts"
            raise SeedError(f"{where}: no account '{ref}' in {scope} in this file or the database")
        return found


def label_path(label: SharedLabel, by_id: dict[str, SharedLabel]) -> str:
    names, seen, current = [label.name], {label.id}, label
    while current.parent_id and current.parent_id in by_id and current.parent_id not in seen:
        current = by_id[current.parent_id]
        seen.add(current.id)
        names.append(current.name)
    return "/".join(reversed(names))


def _by_path(labels: Sequence[SharedLabel]) -> dict[str, SharedLabel]:
    by_id = {label.id: label for label in labels}
    paths: dict[str, SharedLabel] = {}
    for label in labels:
        paths.setdefault(label_path(label, by_id), label)
    return paths


def _unique_keys(named: list[tuple[str, str, str, str]]) -> dict[str, dict[str, str]]:
    """``{"teams": {"Support": id}}``; a name used in two organizations becomes ``"Org: Name"``."""
    organizations_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for section, organization, key, _ in named:
        organizations_of[(section, key)].add(organization)
    ids: dict[str, dict[str, str]] = {section: {} for section in SECTIONS}
    for section, organization, key, entity_id in named:
        shared = len(organizations_of[(section, key)]) > 1
        ids.setdefault(section, {})[
            f"{organization}: {key}" if shared and organization else key
        ] = entity_id
    return ids
