"""Test data builders. Each call writes and commits, so the API under test sees the rows."""

from __future__ import annotations

from sqlalchemy.orm import Session

from missive_server.clock import FrozenClock
from missive_server.db.models import (
    Membership,
    Organization,
    SharedLabel,
    SharedLabelUser,
    Team,
    TeamMember,
    User,
)
from missive_server.ids import new_id
from missive_server.services import tokens


class Factory:
    def __init__(self, session: Session, clock: FrozenClock) -> None:
        self.session = session
        self.clock = clock

    def _save(self, *rows: object) -> None:
        self.session.add_all(rows)
        self.session.commit()

    def organization(self, name: str = "Acme") -> Organization:
        org = Organization(id=new_id(), name=name, created_at=self.clock.now())
        self._save(org)
        return org

    def user(
        self,
        email: str = "alice@acme.test",
        name: str | None = None,
        organizations: dict[Organization, str] | None = None,
    ) -> User:
        user = User(id=new_id(), email=email, name=name or email.split("@")[0].title(), created_at=self.clock.now())
        memberships = [
            Membership(organization_id=org.id, user_id=user.id, role=role)
            for org, role in (organizations or {}).items()
        ]
        self._save(user)
        self._save(*memberships)
        return user

    def token(self, user: User, token: str | None = None) -> str:
        value = tokens.issue_token(self.session, user_id=user.id, now=self.clock.now(), token=token)
        self.session.commit()
        return value

    def member(self, org: Organization, role: str = "user", email: str | None = None) -> tuple[User, str]:
        """A user of ``org`` and a token for them."""
        user = self.user(email or f"{new_id()[:8]}@acme.test", organizations={org: role})
        return user, self.token(user)

    def team(
        self,
        org: Organization,
        name: str = "Support",
        active: list[User] | None = None,
        observers: list[User] | None = None,
    ) -> Team:
        team = Team(id=new_id(), organization_id=org.id, name=name, created_at=self.clock.now())
        self._save(team)
        members = [
            TeamMember(team_id=team.id, user_id=u.id, role="active", position=i) for i, u in enumerate(active or [])
        ] + [
            TeamMember(team_id=team.id, user_id=u.id, role="observer", position=i)
            for i, u in enumerate(observers or [])
        ]
        self._save(*members)
        return team

    def shared_label(
        self,
        org: Organization,
        name: str = "VIP",
        parent: SharedLabel | None = None,
        visibility: str = "organization",
        share_with_users: list[User] | None = None,
        color: str | None = None,
    ) -> SharedLabel:
        label = SharedLabel(
            id=new_id(),
            organization_id=org.id,
            name=name,
            color=color,
            parent_id=parent.id if parent else None,
            visibility=visibility,
            created_at=self.clock.now(),
        )
        self._save(label)
        self._save(*[SharedLabelUser(shared_label_id=label.id, user_id=u.id) for u in share_with_users or []])
        return label
