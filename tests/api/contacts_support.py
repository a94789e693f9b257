"""Builders and helpers shared by the contact tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import ContactBook, Organization, User
from missive_server.schemas.contacts import ContactsEnvelope
from missive_server.services.contacts import contact_books
from missive_server.services.contacts.contact_books import ContactBookSpec
from tests.conftest import bearer
from tests.factories import Factory

UNAUTHORIZED = {"error": {"message": "Authentication token is invalid or has been revoked"}}
#: What every rendered contact holds when only a name was sent.
BLANK: dict[str, Any] = {
    "first_name": None,
    "last_name": None,
    "middle_name": None,
    "phonetic_first_name": None,
    "phonetic_last_name": None,
    "phonetic_middle_name": None,
    "prefix": None,
    "suffix": None,
    "nickname": None,
    "file_as": None,
    "notes": None,
    "gender": None,
    "starred": False,
    "deleted": False,
    "infos": [],
    "memberships": [],
}


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def book(
    session: Session,
    owner: User,
    org: Organization | None,
    name: str = "Customers",
    **sharing: Any,
) -> ContactBook:
    spec = ContactBookSpec(
        name=name, owner_id=owner.id, organization_id=org.id if org else None, **sharing
    )
    created = contact_books.create_contact_book(session, spec, now=1_700_000_000)
    session.commit()
    return created


def setup(factory: Factory) -> tuple[Organization, User, str, ContactBook]:
    """Acme, a member with a token, and an organization book shared with the organization."""
    acme = factory.organization("Acme")
    user, token = factory.member(acme)
    shared = book(factory.session, user, acme, share_with_organization=True)
    return acme, user, token, shared


def contacts_of(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    ContactsEnvelope.model_validate(body)  # the exact wire schema, no extra field
    found: list[dict[str, Any]] = body["contacts"]
    return found


def post(client: TestClient, token: str, *items: dict[str, Any]) -> Any:
    return client.post("/v1/contacts", headers=bearer(token), json={"contacts": list(items)})


def create(client: TestClient, token: str, *items: dict[str, Any]) -> list[dict[str, Any]]:
    response = post(client, token, *items)
    assert response.status_code == 201, response.json()
    return contacts_of(response)


def patch(client: TestClient, token: str, path: str, *items: dict[str, Any]) -> Any:
    return client.patch(
        f"/v1/contacts/{path}", headers=bearer(token), json={"contacts": list(items)}
    )


def listed(client: TestClient, token: str, query: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/contacts?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    return contacts_of(response)
