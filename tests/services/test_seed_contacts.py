"""Seeding contact books and contacts: sharing, deleted contacts, idempotency, errors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.base import Base
from missive_server.db.models import Contact, ContactBook, ContactBookUser, User
from tests.conftest import bearer
from tests.services.test_seed import ORG, base, error_of, run

CONTACTS: list[dict[str, Any]] = [
    {
        "first_name": "Philippe",
        "last_name": "Lehoux",
        "infos": [{"kind": "email", "label": "work", "value": "philippe@missive.test"}],
        "memberships": [{"title": "CEO", "group": {"kind": "organization", "name": "Missive"}}],
    },
    {"first_name": "Gone", "deleted": True},
]


def books(**book: Any) -> dict[str, Any]:
    return base(contact_books=[{"name": "Customers", "organization": ORG, **book}])


def counts(session: Session) -> dict[str, int]:
    return {
        t.name: session.scalar(select(func.count()).select_from(t)) or 0
        for t in Base.metadata.sorted_tables
    }


def test_books_with_sharing_and_contacts_are_stored_once(
    session: Session, clock: FrozenClock, client: TestClient, engine: Engine
) -> None:
    document = books(
        share_with_team="Support",
        share_with_users=["bob@acme.test"],
        description="Paying customers",
        exclude_from_search=True,
        contacts=CONTACTS,
    )
    document["contact_books"].append({"name": "Mine", "owner": "bob@acme.test"})
    first = run(session, clock, document)
    before = counts(session)
    second = run(session, clock, document)
    assert second.ids == first.ids
    assert counts(session) == before  # idempotent

    ids = first.ids["contact_books"]
    customers = session.get(ContactBook, ids["Customers"])
    alice = session.scalar(select(User).where(User.email == "alice@acme.test"))
    bob = session.scalar(select(User).where(User.email == "bob@acme.test"))
    assert customers is not None
    assert alice is not None
    assert bob is not None
    assert (customers.user_id, customers.description) == (alice.id, "Paying customers")
    assert customers.exclude_from_search is True
    assert customers.share_with_team_id is not None
    assert session.scalars(select(ContactBookUser.user_id)).all() == [bob.id]
    mine = session.get(ContactBook, ids["Mine"])
    assert mine is not None
    assert (mine.organization_id, mine.user_id, mine.exclude_from_search) == (None, bob.id, False)
    rows = session.execute(
        select(Contact.first_name, Contact.deleted).order_by(Contact.first_name)
    ).all()
    assert [tuple(r) for r in rows] == [("Gone", True), ("Philippe", False)]

    from missive_server.services.directory import tokens

    token = tokens.issue_token(session, user_id=bob.id, now=clock.now())
    session.commit()
    found = client.get(
        f"/v1/contacts?contact_book={customers.id}&search=missive", headers=bearer(token)
    )
    assert [c["first_name"] for c in found.json()["contacts"]] == ["Philippe"]


def test_seed_errors_name_the_entry(session: Session, clock: FrozenClock) -> None:
    bad_info = [{"infos": [{"kind": "email", "label": "mobile", "value": "a@b.test"}]}]
    assert error_of(session, clock, books(contacts=bad_info)) == (
        "'contact_books[0].contacts[0].infos[0].label' must be one of: home, work, personal, other"
    )
    assert error_of(session, clock, books(share_with_team="Nope")) == (
        "contact_books[0] (Customers): share_with_team: no team 'Nope' in 'Acme' in this file "
        "or the database"
    )
    assert error_of(session, clock, base(contact_books=[{"name": "P"}])) == (
        "contact_books[0] (P): a personal book (no organization) needs an 'owner'"
    )
    assert "contacts.0.surname" in error_of(
        session, clock, books(contacts=[{"surname": "X"}])
    ).replace("[", ".").replace("]", "")
