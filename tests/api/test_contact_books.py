"""GET /v1/contact_books, GET /v1/contact_groups, and the conversation filters by contact."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from starlette.testclient import TestClient

from missive_server.db.models import User
from missive_server.schemas.contact_books import ContactBooksEnvelope
from missive_server.schemas.contact_groups import ContactGroupsEnvelope
from missive_server.services.contacts import contacts as contacts_service
from missive_server.services.conversations.messages import MessageInput
from tests.api.contacts_support import book, create, error, setup
from tests.conftest import bearer, count_queries
from tests.factories import Factory


def books(client: TestClient, token: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/v1/contact_books?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    ContactBooksEnvelope.model_validate(response.json())
    found: list[dict[str, Any]] = response.json()["contact_books"]
    return found


def test_books_the_user_can_access(client: TestClient, factory: Factory) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    me, token = factory.member(acme)
    colleague, _ = factory.member(acme)
    stranger, _ = factory.member(other)
    team = factory.team(acme, "Sales", active=[me])
    s = factory.session
    personal = book(s, me, None, "A personal")
    hr = book(
        s,
        colleague,
        acme,
        "B org",
        share_with_organization=True,
        description="HR",
        exclude_from_search=True,
    )
    sales = book(s, colleague, acme, "C team", share_with_team_id=team.id)
    direct = book(s, colleague, acme, "D users", share_with_user_ids=(me.id,))
    own = book(s, me, acme, "E mine")
    book(s, colleague, acme, "Hidden")
    book(s, colleague, None, "Their personal")
    book(s, stranger, other, "Foreign", share_with_organization=True)

    found = books(client, token)
    assert [b["name"] for b in found] == ["A personal", "B org", "C team", "D users", "E mine"]
    assert found[0] == {
        "id": personal.id,
        "user": me.id,
        "share_with_organization": False,
        "share_with_team": None,
        "share_with_users": [],
        "organization": None,
        "name": "A personal",
        "description": None,
        "exclude_from_search": False,
        "importing": False,
    }
    assert found[1] == {
        **found[1],
        "id": hr.id,
        "user": colleague.id,
        "organization": acme.id,
        "share_with_organization": True,
        "description": "HR",
        "exclude_from_search": True,
        "importing": False,
    }
    assert (found[2]["id"], found[2]["share_with_team"]) == (sales.id, team.id)
    assert (found[3]["id"], found[3]["share_with_users"]) == (direct.id, [me.id])
    assert found[4]["id"] == own.id
    assert [b["name"] for b in books(client, token, "limit=2&offset=2")] == ["C team", "D users"]


def groups(client: TestClient, token: str, query: str) -> Any:
    return client.get(f"/v1/contact_groups?{query}", headers=bearer(token))


def test_contact_groups_by_kind_with_paging(client: TestClient, factory: Factory) -> None:
    _, _, token, shared = setup(factory)
    made = create(
        client,
        token,
        *(
            {
                "contact_book": shared.id,
                "memberships": [
                    {"group": {"kind": "group", "name": name}},
                    {"group": {"kind": "organization", "name": f"{name} Inc"}},
                ],
            }
            for name in ("VIPs", "Leads", "Press")
        ),
    )
    ids = {m["group"]["name"]: m["group"]["id"] for c in made for m in c["memberships"]}
    response = groups(client, token, f"contact_book={shared.id}&kind=group")
    assert response.status_code == 200
    ContactGroupsEnvelope.model_validate(response.json())
    assert response.json() == {
        "contact_groups": [
            {"id": ids["Leads"], "name": "Leads"},
            {"id": ids["Press"], "name": "Press"},
            {"id": ids["VIPs"], "name": "VIPs"},
        ]
    }
    page = groups(client, token, f"contact_book={shared.id}&kind=organization&limit=1&offset=1")
    assert page.json() == {"contact_groups": [{"id": ids["Press Inc"], "name": "Press Inc"}]}


def test_contact_groups_validation_and_foreign_books(client: TestClient, factory: Factory) -> None:
    _, _, token, shared = setup(factory)
    other = factory.organization("Other")
    stranger, _ = factory.member(other)
    foreign = book(factory.session, stranger, other, share_with_organization=True)
    cases = [
        (f"contact_book={shared.id}", 400, "'kind' is required"),
        ("kind=group", 400, "'contact_book' is required"),
        (f"contact_book={shared.id}&kind=team", 400, "'kind' must be one of: group, organization"),
        (
            f"contact_book={foreign.id}&kind=group",
            404,
            f"Contact book with id '{foreign.id}' does not exist",
        ),
    ]
    for query, status, message in cases:
        response = groups(client, token, query)
        assert (response.status_code, response.json()) == (status, error(message)), query


# --- GET /v1/conversations?email= | domain= | contact_organization= ------------------------------


def mail(factory: Factory, me: User, sender: str, at: int) -> str:
    data = MessageInput(
        subject="Hi",
        body="<p>Hi</p>",
        delivered_at=at,
        from_field={"address": sender},
        to_fields=[{"address": "support@acme.test"}],
    )
    return factory.conversation(None, users=[me], messages=[data], at=at).id


def conversation_ids(client: TestClient, token: str, query: str) -> list[str]:
    response = client.get(f"/v1/conversations?all=true&{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    return [c["id"] for c in response.json()["conversations"]]


def test_conversations_of_a_contact_organization(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    _, me, token, shared = setup(factory)
    globex = [f"buyer{i}@globex.test" for i in range(3)]
    made = create(
        client,
        token,
        *(
            {
                "contact_book": shared.id,
                "infos": [{"kind": "email", "label": "work", "value": a.upper()}],
                "memberships": [{"group": {"kind": "organization", "name": "Globex"}}],
            }
            for a in globex
        ),
        {
            "contact_book": shared.id,
            "infos": [{"kind": "email", "label": "work", "value": "x@initech.test"}],
            "memberships": [{"group": {"kind": "organization", "name": "Initech"}}],
        },
    )
    group_id = made[0]["memberships"][0]["group"]["id"]
    convs = [
        mail(factory, me, a, 1_700_000_000 + i) for i, a in enumerate([*globex, "x@initech.test"])
    ]
    contacts_service.delete_contacts(factory.session, [made[2]["id"]], now=1_700_000_100)
    factory.session.commit()

    with count_queries(engine) as seen:
        found = conversation_ids(client, token, f"contact_organization={group_id}")
    assert found == [convs[1], convs[0]]  # newest first; the deleted contact no longer counts
    assert sum("conversation_addresses" in s for s in seen) == 1  # one query for the whole page
    assert conversation_ids(client, token, "email=BUYER2@globex.test") == [convs[2]]
    assert conversation_ids(client, token, "domain=initech.test") == [convs[3]]


def test_contact_filters_are_exclusive_and_checked(client: TestClient, factory: Factory) -> None:
    _, _, token, _ = setup(factory)
    other = factory.organization("Other")
    stranger, stranger_token = factory.member(other)
    foreign = book(factory.session, stranger, other, share_with_organization=True)
    [c] = create(
        client,
        stranger_token,
        {"contact_book": foreign.id, "memberships": [{"group": {"kind": "group", "name": "X"}}]},
    )
    foreign_group = c["memberships"][0]["group"]["id"]
    for query in (
        "email=a@b.test&domain=b.test",
        f"domain=b.test&contact_organization={foreign_group}",
        f"email=a@b.test&contact_organization={foreign_group}",
    ):
        response = client.get(f"/v1/conversations?all=true&{query}", headers=bearer(token))
        assert (response.status_code, response.json()) == (
            400,
            error("'email', 'domain' and 'contact_organization' cannot be combined"),
        )
    response = client.get(
        f"/v1/conversations?all=true&contact_organization={foreign_group}", headers=bearer(token)
    )
    assert (response.status_code, response.json()) == (
        404,
        error(f"Contact group with id '{foreign_group}' does not exist"),
    )
