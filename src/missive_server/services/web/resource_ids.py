"""Settings > API > Resource IDs: the ids an integration developer looks up (spec §1: "opening
the API settings and clicking on the Resource IDs tab"), per organization of the user and only
theirs. A fixed number of queries whatever the number of organizations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Account,
    ContactBook,
    Membership,
    Organization,
    SharedLabel,
    Team,
    User,
)
from missive_server.services.contacts.contact_books import accessible as book_accessible
from missive_server.services.directory.shared_labels import accessible as label_accessible


@dataclass(frozen=True, slots=True)
class ResourceId:
    name: str
    id: str
    detail: str = ""


@dataclass
class OrganizationIds:
    organization: ResourceId
    #: Section title -> entries, in display order.
    sections: dict[str, list[ResourceId]] = field(default_factory=dict)


SECTIONS = ("Teams", "Users", "Shared labels", "Contact books", "Accounts")


Found = dict[str, dict[str, list[ResourceId]]]


def resource_ids(session: Session, *, actor: Principal) -> list[OrganizationIds]:
    orgs = actor.organization_ids
    if not orgs:
        return []
    found = _collect(session, actor, orgs)
    organizations = session.scalars(
        select(Organization).where(Organization.id.in_(orgs)).order_by(Organization.name)
    )
    return [
        OrganizationIds(
            ResourceId(org.name, org.id),
            {
                title: sorted(found[org.id][title], key=lambda r: (r.name.lower(), r.id))
                for title in SECTIONS
            },
        )
        for org in organizations
    ]


def _collect(session: Session, actor: Principal, orgs: frozenset[str]) -> Found:
    found: Found = defaultdict(lambda: defaultdict(list))
    for org_id, team in session.execute(
        select(Team.organization_id, Team).where(Team.organization_id.in_(orgs))
    ).all():
        found[org_id]["Teams"].append(ResourceId(team.name, team.id))
    for org_id, user in session.execute(
        select(Membership.organization_id, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id.in_(orgs))
    ).all():
        found[org_id]["Users"].append(ResourceId(user.name, user.id, user.email))
    for label in session.scalars(
        select(SharedLabel).where(SharedLabel.organization_id.in_(orgs), label_accessible(actor))
    ):
        found[label.organization_id]["Shared labels"].append(ResourceId(label.name, label.id))
    for book in session.scalars(
        select(ContactBook).where(ContactBook.organization_id.in_(orgs), book_accessible(actor))
    ):
        found[book.organization_id or ""]["Contact books"].append(ResourceId(book.name, book.id))
    for account in session.scalars(select(Account).where(Account.organization_id.in_(orgs))):
        where = account.address or account.phone_number
        detail = f"{account.type} · {where}" if where else account.type
        found[account.organization_id or ""]["Accounts"].append(
            ResourceId(account.name, account.id, detail)
        )
    return found
