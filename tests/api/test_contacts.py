from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Contact, ContactGroup, ContactInfo
from missive_server.services.contacts import contacts as contacts_service
from tests.api.contacts_support import (
    BLANK,
    UNAUTHORIZED,
    book,
    contacts_of,
    create,
    error,
    listed,
    patch,
    post,
    setup,
)
from tests.conftest import bearer, count_queries
from tests.factories import Factory

PHILIPPE: dict[str, Any] = {
    "first_name": "Philippe",
    "last_name": "Lehoux",
    "starred": True,
    "infos": [
        {"kind": "phone_number", "label": "mobile", "value": "+1 518 777-7777"},
        {"kind": "email", "label": "home", "value": "philippe@missiveapp.com"},
    ],
    "memberships": [
        {"group": {"kind": "group", "name": "VIPs"}},
        {
            "title": "CEO",
            "location": "Quebec City",
            "group": {"kind": "organization", "name": "Missive"},
        },
    ],
}


def group_ids(session: Session, book_id: str) -> dict[str, str]:
    rows = session.scalars(select(ContactGroup).where(ContactGroup.contact_book_id == book_id))
    return {g.name: g.id for g in rows}


# --- POST /v1/contacts --------------------------------------------------------------------------


def test_create_returns_the_spec_contact_object(
    client: TestClient, factory: Factory, session: Session
) -> None:
    _, _, token, shared = setup(factory)
    [created] = create(client, token, {"contact_book": shared.id, **PHILIPPE})
    groups = group_ids(session, shared.id)
    assert created == {
        **BLANK,
        "id": created["id"],
        "contact_book": shared.id,
        "first_name": "Philippe",
        "last_name": "Lehoux",
        "starred": True,
        "modified_at": 1_700_000_000,
        "infos": PHILIPPE["infos"],
        "memberships": [
            {"group": {"id": groups["VIPs"], "kind": "group", "name": "VIPs"}},
            {
                "group": {"id": groups["Missive"], "kind": "organization", "name": "Missive"},
                "title": "CEO",
                "location": "Quebec City",
                "department": None,
                "description": None,
            },
        ],
    }
    got = client.get(f"/v1/contacts/{created['id']}", headers=bearer(token))
    assert got.status_code == 200
    assert contacts_of(got) == [created]


def test_create_every_scalar_and_info_kind(client: TestClient, factory: Factory) -> None:
    _, _, token, shared = setup(factory)
    scalars = {
        name: f"v-{name}"
        for name in BLANK
        if name not in ("starred", "deleted", "infos", "memberships")
    }
    scalars.update(prefix="Mr.", suffix="Jr.", gender="Male")
    infos = [
        {"kind": "email", "label": "work", "value": "a@b.test"},
        {"kind": "twitter", "label": "personal", "value": "@plehoux"},
        {"kind": "facebook", "label": "other", "custom_label": "Old", "name": "Phil L"},
        {"kind": "url", "label": "blog", "value": "https://blog.test"},
        {"kind": "custom", "label": "other", "custom_label": "Favorite food", "value": "Pizza"},
        {
            "kind": "physical_address",
            "label": "work",
            "street": "1 Main",
            "city": "Quebec",
            "country": "CA",
        },
    ]
    [created] = create(client, token, {"contact_book": shared.id, **scalars, "infos": infos})
    assert {k: created[k] for k in scalars} == scalars
    assert created["infos"] == [
        infos[0],
        infos[1],
        infos[2],
        infos[3],
        # Custom infos come back without their implied label (spec 2.2 notes).
        {"kind": "custom", "custom_label": "Favorite food", "value": "Pizza"},
        {
            "kind": "physical_address",
            "label": "work",
            "street": "1 Main",
            "extended_address": None,
            "city": "Quebec",
            "region": None,
            "postal_code": None,
            "po_box": None,
            "country": "CA",
        },
    ]


def test_create_many_and_a_lone_object(client: TestClient, factory: Factory) -> None:
    _, _, token, shared = setup(factory)
    many = create(
        client,
        token,
        {"contact_book": shared.id, "first_name": "A"},
        {"contact_book": shared.id, "first_name": "B"},
    )
    assert [c["first_name"] for c in many] == ["A", "B"]
    lone = client.post(
        "/v1/contacts",
        headers=bearer(token),
        json={"contacts": {"contact_book": shared.id, "first_name": "C"}},
    )
    assert lone.status_code == 201
    assert [c["first_name"] for c in contacts_of(lone)] == ["C"]


def test_groups_are_reused_case_insensitively(
    client: TestClient, factory: Factory, session: Session
) -> None:
    _, _, token, shared = setup(factory)
    create(
        client,
        token,
        {"contact_book": shared.id, "memberships": [{"group": {"kind": "group", "name": "VIPs"}}]},
        {
            "contact_book": shared.id,
            "memberships": [{"group": {"kind": "group", "name": " vips "}}],
        },
        {
            "contact_book": shared.id,
            "memberships": [{"group": {"kind": "organization", "name": "VIPs"}}],
        },
    )
    kinds = session.execute(
        select(ContactGroup.kind, ContactGroup.name).order_by(ContactGroup.kind)
    ).all()
    assert [tuple(k) for k in kinds] == [("group", "VIPs"), ("organization", "VIPs")]


EMAIL_LABELS = "home, work, personal, other"


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (
            {"kind": "fax", "label": "work", "value": "1"},
            "'contacts[1].infos[1].kind' must be one of: email, phone_number, twitter, facebook, "
            "physical_address, url, custom",
        ),
        (
            {"kind": "email", "label": "mobile", "value": "a@b.test"},
            f"'contacts[1].infos[1].label' must be one of: {EMAIL_LABELS}",
        ),
        ({"kind": "email", "value": "a@b.test"}, "'contacts[1].infos[1].label' is required"),
        (
            {"kind": "email", "label": "work"},
            "'contacts[1].infos[1].value' is required for email infos",
        ),
        (
            {"kind": "email", "label": "work", "value": "not an email"},
            "'contacts[1].infos[1].value' must be an email address",
        ),
        (
            {"kind": "phone_number", "label": "personal", "value": "1"},
            "'contacts[1].infos[1].label' must be one of: main, mobile, home, work, home_fax, "
            "work_fax, other_fax, pager, other",
        ),
        (
            {"kind": "twitter", "label": "home", "value": "@x"},
            "'contacts[1].infos[1].label' must be one of: work, personal, other",
        ),
        (
            {"kind": "facebook", "label": "work", "value": "Phil"},
            "'contacts[1].infos[1].value' is not used by facebook infos (use: name)",
        ),
        (
            {"kind": "facebook", "label": "work"},
            "'contacts[1].infos[1].name' is required for facebook infos",
        ),
        (
            {"kind": "physical_address", "label": "personal", "city": "X"},
            "'contacts[1].infos[1].label' must be one of: work, home, other",
        ),
        (
            {"kind": "physical_address", "label": "home"},
            "'contacts[1].infos[1]' needs at least one of: street, extended_address, city, "
            "region, postal_code, po_box, country",
        ),
        (
            {"kind": "physical_address", "label": "home", "value": "1 Main"},
            "'contacts[1].infos[1].value' is not used by physical_address infos (use: street, "
            "extended_address, city, region, postal_code, po_box, country)",
        ),
        (
            {"kind": "url", "label": "home", "value": "https://x.test"},
            "'contacts[1].infos[1].label' must be one of: homepage, profile, blog, work, "
            "personal, other",
        ),
        (
            {"kind": "custom", "label": "work", "custom_label": "X", "value": "1"},
            "'contacts[1].infos[1].label' must be one of: other",
        ),
        (
            {"kind": "custom", "label": "other", "value": "1"},
            "'contacts[1].infos[1].custom_label' is required for custom infos",
        ),
        (
            {"kind": "email", "label": "work", "custom_label": "X", "value": "a@b.test"},
            "'contacts[1].infos[1].custom_label' is only allowed when 'label' is 'other'",
        ),
        (
            {"kind": "email", "label": "work", "value": 5},
            "'contacts[1].infos[1].value' must be a string",
        ),
    ],
)
def test_info_rules_name_the_offending_item(
    client: TestClient, factory: Factory, session: Session, info: dict[str, Any], message: str
) -> None:
    _, _, token, shared = setup(factory)
    good = {"kind": "email", "label": "work", "value": "ok@b.test"}
    response = post(
        client,
        token,
        {"contact_book": shared.id, "first_name": "Fine"},
        {"contact_book": shared.id, "infos": [good, info]},
    )
    assert (response.status_code, response.json()) == (400, error(message))
    # All or nothing: the valid first contact was not written either.
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"first_name": "x"}, "'contacts[0].contact_book' is required"),
        ({"starred": "maybe"}, "'contacts[0].starred' must be true or false"),
        ({"memberships": [{"title": "CEO"}]}, "'contacts[0].memberships[0].group' is required"),
        (
            {"memberships": [{"group": {"kind": "team", "name": "X"}}]},
            "'contacts[0].memberships[0].group.kind' must be 'group' or 'organization'",
        ),
        (
            {"memberships": [{"group": {"kind": "group", "name": " "}}]},
            "'contacts[0].memberships[0].group.name' must not be empty",
        ),
        (
            {"memberships": [{"title": "CEO", "group": {"kind": "group", "name": "VIP"}}]},
            "'contacts[0].memberships[0].title' is only allowed for organization memberships",
        ),
    ],
)
def test_contact_validation(
    client: TestClient, factory: Factory, item: dict[str, Any], message: str
) -> None:
    _, _, token, shared = setup(factory)
    body = {"contact_book": shared.id, **item} if "first_name" not in item else item
    response = post(client, token, body)
    assert (response.status_code, response.json()) == (400, error(message))


def test_create_in_unknown_or_foreign_book_is_404(client: TestClient, factory: Factory) -> None:
    _, _, token, _ = setup(factory)
    other = factory.organization("Other")
    stranger, _ = factory.member(other)
    foreign = book(factory.session, stranger, other, share_with_organization=True)
    for book_id in (foreign.id, "00000000-0000-4000-8000-000000000000"):
        response = post(client, token, {"contact_book": book_id})
        assert (response.status_code, response.json()) == (
            404,
            error(f"Contact book with id '{book_id}' does not exist"),
        )


def test_every_endpoint_needs_a_token(client: TestClient, factory: Factory) -> None:
    _, _, _, shared = setup(factory)
    calls = [
        client.get(f"/v1/contacts?contact_book={shared.id}"),
        client.get("/v1/contacts/x"),
        client.post("/v1/contacts", json={"contacts": []}),
        client.patch("/v1/contacts/x", json={"contacts": []}),
        client.get("/v1/contact_books"),
        client.get(f"/v1/contact_groups?contact_book={shared.id}&kind=group"),
    ]
    for response in calls:
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# --- PATCH /v1/contacts/:ids --------------------------------------------------------------------


def test_patch_is_partial_but_replaces_infos_and_memberships(
    client: TestClient, factory: Factory, clock: FrozenClock, session: Session
) -> None:
    _, _, token, shared = setup(factory)
    [one] = create(client, token, {"contact_book": shared.id, **PHILIPPE, "notes": "old"})
    [two] = create(client, token, {"contact_book": shared.id, **PHILIPPE})
    clock.advance(60)
    response = patch(
        client,
        token,
        f"{one['id']},{two['id']}",
        {"id": two["id"], "starred": False},
        {
            "id": one["id"],
            "last_name": "L.",
            "notes": None,
            "infos": [{"kind": "email", "label": "work", "value": "new@missive.test"}],
            "memberships": [],
        },
    )
    assert response.status_code == 200, response.json()
    updated = contacts_of(response)
    assert [c["id"] for c in updated] == [one["id"], two["id"]]
    assert updated[0] == {
        **one,
        "last_name": "L.",
        "notes": None,
        "modified_at": 1_700_000_060,
        "infos": [{"kind": "email", "label": "work", "value": "new@missive.test"}],
        "memberships": [],
    }
    assert updated[1] == {**two, "starred": False, "modified_at": 1_700_000_060}
    assert session.scalar(select(func.count()).select_from(ContactInfo)) == 3


def test_patch_errors(client: TestClient, factory: Factory, session: Session) -> None:
    _, _, token, shared = setup(factory)
    [one] = create(client, token, {"contact_book": shared.id, "first_name": "A"})
    mismatch = patch(client, token, one["id"], {"id": "00000000-0000-4000-8000-000000000000"})
    assert (mismatch.status_code, mismatch.json()) == (
        400,
        error("'contacts' must hold exactly one object per id in the path, each with its 'id'"),
    )
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = patch(client, token, unknown, {"id": unknown})
    assert (missing.status_code, missing.json()) == (
        404,
        error(f"Contact with id '{unknown}' does not exist"),
    )
    bad = patch(
        client,
        token,
        one["id"],
        {
            "id": one["id"],
            "first_name": "B",
            "infos": [{"kind": "url", "label": "x", "value": "y"}],
        },
    )
    assert (bad.status_code, bad.json()) == (
        400,
        error(
            "'contacts[0].infos[0].label' must be one of: homepage, profile, blog, work, "
            "personal, other"
        ),
    )
    null = patch(client, token, one["id"], {"id": one["id"], "starred": None})
    assert (null.status_code, null.json()) == (400, error("'contacts[0].starred' must not be null"))
    move = patch(client, token, one["id"], {"id": one["id"], "contact_book": unknown})
    assert (move.status_code, move.json()) == (
        400,
        error("'contacts[0].contact_book' cannot be changed"),
    )
    session.expire_all()
    assert session.scalars(select(Contact.first_name)).all() == ["A"]


def test_foreign_and_deleted_contacts_are_404(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock
) -> None:
    _, _, token, shared = setup(factory)
    other = factory.organization("Other")
    stranger, stranger_token = factory.member(other)
    foreign_book = book(session, stranger, other, share_with_organization=True)
    [foreign] = create(client, stranger_token, {"contact_book": foreign_book.id, "first_name": "F"})
    [mine] = create(client, token, {"contact_book": shared.id, "first_name": "M"})
    contacts_service.delete_contacts(session, [mine["id"]], now=clock.now())
    session.commit()
    for contact_id in (foreign["id"], mine["id"]):
        message = error(f"Contact with id '{contact_id}' does not exist")
        got = client.get(f"/v1/contacts/{contact_id}", headers=bearer(token))
        assert (got.status_code, got.json()) == (404, message)
        changed = patch(client, token, contact_id, {"id": contact_id, "first_name": "X"})
        assert (changed.status_code, changed.json()) == (404, message)


# --- GET /v1/contacts ---------------------------------------------------------------------------


def test_list_orders_and_pages(client: TestClient, factory: Factory, clock: FrozenClock) -> None:
    _, _, token, shared = setup(factory)
    names = [("Zed", "Adams"), ("Amy", "Zhou"), ("Bob", "Martin"), ("Al", "Martin"), ("Solo", None)]
    made = []
    for first, last in names:
        made += create(
            client, token, {"contact_book": shared.id, "first_name": first, "last_name": last}
        )
        clock.advance(10)
    by_name = [c["first_name"] for c in listed(client, token, f"contact_book={shared.id}")]
    assert by_name == ["Solo", "Zed", "Al", "Bob", "Amy"]
    page = listed(client, token, f"contact_book={shared.id}&limit=2&offset=1")
    assert [c["first_name"] for c in page] == ["Zed", "Al"]
    recent = listed(client, token, f"contact_book={shared.id}&order=last_modified&limit=3")
    assert [c["first_name"] for c in recent] == ["Solo", "Al", "Bob"]
    rest = listed(client, token, f"contact_book={shared.id}&order=last_modified&limit=3&offset=3")
    assert [c["first_name"] for c in rest] == ["Amy", "Zed"]


def test_list_validation(client: TestClient, factory: Factory) -> None:
    _, _, token, shared = setup(factory)
    cases = [
        ("", "'contact_book' is required"),
        (
            f"contact_book={shared.id}&order=name",
            "'order' must be one of: last_name, last_modified",
        ),
        (f"contact_book={shared.id}&limit=0", "min 'limit' value is 1"),
        (f"contact_book={shared.id}&offset=-1", "'offset' must be 0 or more"),
        (f"contact_book={shared.id}&modified_since=soon", "'modified_since' must be an integer"),
    ]
    for query, message in cases:
        response = client.get(f"/v1/contacts?{query}", headers=bearer(token))
        assert (response.status_code, response.json()) == (400, error(message)), query
    unknown = client.get("/v1/contacts?contact_book=nope", headers=bearer(token))
    assert (unknown.status_code, unknown.json()) == (
        404,
        error("Contact book with id 'nope' does not exist"),
    )


def test_limit_defaults_to_50_and_caps_at_200(client: TestClient, factory: Factory) -> None:
    _, _, token, shared = setup(factory)
    create(
        client, token, *({"contact_book": shared.id, "first_name": f"C{i:03}"} for i in range(205))
    )
    assert len(listed(client, token, f"contact_book={shared.id}")) == 50
    assert len(listed(client, token, f"contact_book={shared.id}&limit=500")) == 200


def test_modified_since_and_deleted_stubs(
    client: TestClient, factory: Factory, clock: FrozenClock, session: Session
) -> None:
    _, _, token, shared = setup(factory)
    [old] = create(client, token, {"contact_book": shared.id, "first_name": "Old"})
    clock.advance(100)
    [kept, gone] = create(
        client,
        token,
        {"contact_book": shared.id, "first_name": "Kept"},
        {"contact_book": shared.id, "first_name": "Gone"},
    )
    clock.advance(5)
    contacts_service.delete_contacts(session, [gone["id"]], now=clock.now())
    session.commit()
    since = 1_700_000_100
    base = f"contact_book={shared.id}&order=last_modified"
    assert [c["id"] for c in listed(client, token, f"{base}&modified_since={since}")] == [
        kept["id"]
    ]
    with_deleted = listed(client, token, f"{base}&modified_since={since}&include_deleted=true")
    assert with_deleted == [{"id": gone["id"], "deleted": True, "modified_at": 1_700_000_105}, kept]
    # Without modified_since, include_deleted has no effect (spec 2.2.3).
    everyone = listed(client, token, f"{base}&include_deleted=true")
    assert [c["id"] for c in everyone] == [kept["id"], old["id"]]


def test_a_page_renders_in_a_fixed_number_of_queries(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    _, _, token, shared = setup(factory)

    def run(count: int) -> int:
        with count_queries(engine) as seen:
            found = listed(client, token, f"contact_book={shared.id}&limit=200&search=missive")
        assert len(found) == count
        return len(seen)

    create(client, token, {"contact_book": shared.id, **PHILIPPE})
    few = run(1)
    create(client, token, *({"contact_book": shared.id, **PHILIPPE} for _ in range(30)))
    assert run(31) == few
