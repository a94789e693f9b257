from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Organization, SharedLabel
from missive_server.ids import new_id
from missive_server.schemas.shared_labels import SharedLabelsEnvelope
from tests.api.test_teams import FORBIDDEN, UNAUTHORIZED, count_queries, error
from tests.conftest import bearer
from tests.factories import UNKNOWN_ID, Factory

PLAIN: dict[str, Any] = {
    "color": None,
    "parent": None,
    "share_with_organization": False,
    "share_with_users": [],
    "share_with_team": None,
    "visibility": "organization",
}


def labels_of(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    SharedLabelsEnvelope.model_validate(body)  # the exact wire schema, no extra field
    labels: list[dict[str, Any]] = body["shared_labels"]
    return labels


def wire(label: SharedLabel, path: str, **changes: Any) -> dict[str, Any]:
    return {
        **PLAIN,
        "id": label.id,
        "name": label.name,
        "name_with_parent_names": path,
        "organization": label.organization_id,
        "color": label.color,
        "parent": label.parent_id,
        **changes,
    }


def post(client: TestClient, token: str, *items: dict[str, Any]) -> Any:
    return client.post(
        "/v1/shared_labels", headers=bearer(token), json={"shared_labels": list(items)}
    )


def patch(client: TestClient, token: str, path: str, *items: dict[str, Any]) -> Any:
    return client.patch(
        f"/v1/shared_labels/{path}", headers=bearer(token), json={"shared_labels": list(items)}
    )


def listed(client: TestClient, token: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/v1/shared_labels?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    return labels_of(response)


# --- GET /v1/shared_labels ----------------------------------------------------------------------


def test_list_returns_full_labels_with_parent_names(client: TestClient, factory: Factory) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    _, token = factory.member(acme)
    bob = factory.member(acme)[0]
    root = factory.shared_label(acme, "Billing", color="#430098")
    middle = factory.shared_label(acme, "Invoices", parent=root, share_with_users=[bob])
    leaf = factory.shared_label(acme, "Heroku", parent=middle)
    factory.shared_label(other, "Foreign")

    assert listed(client, token) == [
        wire(root, "Billing"),
        wire(leaf, "Billing/Invoices/Heroku"),
        wire(middle, "Billing/Invoices", share_with_users=[bob.id]),
    ]


def test_delegates_labels_only_for_admins_and_shared_users(
    client: TestClient, factory: Factory
) -> None:
    acme = factory.organization()
    _, user_token = factory.member(acme, "user")
    _, admin_token = factory.member(acme, "admin")
    shared_user, shared_token = factory.member(acme, "user")
    factory.shared_label(acme, "Public")
    factory.shared_label(acme, "Secret", visibility="delegates", share_with_users=[shared_user])

    assert [label["name"] for label in listed(client, user_token)] == ["Public"]
    assert [label["name"] for label in listed(client, admin_token)] == ["Public", "Secret"]
    assert [label["name"] for label in listed(client, shared_token)] == ["Public", "Secret"]


def test_list_filters_by_organization(client: TestClient, factory: Factory) -> None:
    acme, beta, other = (factory.organization(n) for n in ("Acme", "Beta", "Other"))
    token = factory.token(factory.user(organizations={acme: "user", beta: "user"}))
    factory.shared_label(acme, "A")
    factory.shared_label(beta, "B")

    assert [label["name"] for label in listed(client, token)] == ["A", "B"]
    assert [label["name"] for label in listed(client, token, f"organization={beta.id}")] == ["B"]
    response = client.get(f"/v1/shared_labels?organization={other.id}", headers=bearer(token))
    assert (response.status_code, response.json()) == (
        404,
        error(f"Organization with id '{other.id}' does not exist"),
    )


def test_list_pagination(client: TestClient, factory: Factory, session: Session) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    add_labels(session, acme, 203)

    def names(query: str) -> list[str]:
        return [label["name"] for label in listed(client, token, query)]

    assert len(names("")) == 50
    assert len(names("limit=201")) == 200
    assert names("limit=2") == ["L000", "L001"]
    assert names("limit=2&offset=2") == ["L002", "L003"]
    assert names("limit=5&offset=201") == ["L201", "L202"]
    assert names("offset=203") == []
    for query, message in (
        ("limit=0", "min 'limit' value is 1"),
        ("offset=-1", "'offset' must be 0 or more"),
    ):
        response = client.get(f"/v1/shared_labels?{query}", headers=bearer(token))
        assert (response.status_code, response.json()) == (400, error(message))


def add_labels(session: Session, org: Organization, count: int) -> None:
    session.add_all(
        SharedLabel(id=new_id(), organization_id=org.id, name=f"L{i:03}", created_at=0)
        for i in range(count)
    )
    session.commit()


def test_list_loads_ancestors_level_by_level(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    for i in range(4):
        parent = None
        for level in "abc":
            parent = factory.shared_label(acme, f"{level}{i}", parent=parent)

    with count_queries(engine) as statements:
        labels = listed(client, token, f"organization={acme.id}&limit=4&offset=8")

    assert [label["name_with_parent_names"] for label in labels] == [
        "a0/b0/c0",
        "a1/b1/c1",
        "a2/b2/c2",
        "a3/b3/c3",
    ]
    # token, labels, one query per missing ancestor level (2), share_with_users
    assert len(statements) == 5


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/shared_labels"),
        ("POST", "/v1/shared_labels"),
        ("PATCH", f"/v1/shared_labels/{UNKNOWN_ID}"),
    ],
)
def test_missing_or_invalid_token_is_401(client: TestClient, method: str, path: str) -> None:
    item = {"id": path.rsplit("/", 1)[-1], "name": "X", "organization": new_id()}
    for headers in ({}, bearer("missive_pat-nope")):
        json = None if method == "GET" else {"shared_labels": [item]}
        response = client.request(method, path, headers=headers, json=json)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# --- POST /v1/shared_labels ---------------------------------------------------------------------


def test_any_member_creates_plain_and_nested_labels(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "user")
    parent = factory.shared_label(acme, "Invoices")

    response = post(
        client,
        token,
        {"name": "Heroku", "organization": acme.id, "color": "#430098", "parent": parent.id},
        {
            "name": "Misc",
            "organization": acme.id,
            "visibility": "organization",
            "share_with_users": [],
        },
    )

    assert response.status_code == 201
    heroku, misc = labels_of(response)
    assert heroku == {
        **PLAIN,
        "id": heroku["id"],
        "name": "Heroku",
        "name_with_parent_names": "Invoices/Heroku",
        "organization": acme.id,
        "color": "#430098",
        "parent": parent.id,
    }
    assert misc == {
        **PLAIN,
        "id": misc["id"],
        "name": "Misc",
        "name_with_parent_names": "Misc",
        "organization": acme.id,
    }
    assert listed(client, token) == [heroku, wire(parent, "Invoices"), misc]


def test_create_accepts_a_single_object(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)

    response = client.post(
        "/v1/shared_labels",
        headers=bearer(token),
        json={"shared_labels": {"name": "VIP", "organization": acme.id}},
    )

    assert response.status_code == 201
    assert [label["name"] for label in labels_of(response)] == ["VIP"]


def test_admin_creates_a_shared_label(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    admin, token = factory.member(acme, "owner")
    team = factory.team(acme)

    response = post(
        client,
        token,
        {
            "name": "Escalations",
            "organization": acme.id,
            "visibility": "delegates",
            "share_with_organization": True,
            "share_with_team": team.id,
            "share_with_users": [admin.id, admin.id],
        },
    )

    assert response.status_code == 201
    [label] = labels_of(response)
    assert label == {
        **PLAIN,
        "id": label["id"],
        "name": "Escalations",
        "name_with_parent_names": "Escalations",
        "organization": acme.id,
        "visibility": "delegates",
        "share_with_organization": True,
        "share_with_team": team.id,
        "share_with_users": [admin.id],
    }
    assert listed(client, token) == [label]


@pytest.mark.parametrize(
    "field", ["visibility", "share_with_organization", "share_with_team", "share_with_users"]
)
def test_sharing_on_create_needs_an_admin(client: TestClient, factory: Factory, field: str) -> None:
    acme = factory.organization()
    me, token = factory.member(acme, "user")
    sharing = {
        "visibility": "delegates",
        "share_with_organization": True,
        "share_with_team": factory.team(acme).id,
        "share_with_users": [me.id],
    }
    sharing = {field: sharing[field]}

    response = post(client, token, {"name": "X", "organization": acme.id, **sharing})

    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    assert listed(client, token) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "'shared_labels[0].name' must not be empty"),
        ({"name": "x" * 256}, "'shared_labels[0].name' must be at most 255 characters"),
        ({"color": "#12345"}, "'shared_labels[0].color' must be a HEX color (#RGB or #RRGGBB)"),
        ({"color": "red"}, "'shared_labels[0].color' must be a HEX color (#RGB or #RRGGBB)"),
        (
            {"visibility": "everyone"},
            "'shared_labels[0].visibility' must be 'organization' or 'delegates'",
        ),
        ({"visibility": None}, "'shared_labels[0].visibility' must not be null"),
        ({"share_with_users": None}, "'shared_labels[0].share_with_users' must not be null"),
        (
            {"share_with_organization": "often"},
            "'shared_labels[0].share_with_organization' must be true or false",
        ),
    ],
)
def test_create_validation_names_the_field(
    client: TestClient, factory: Factory, change: dict[str, Any], message: str
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "admin")

    response = post(client, token, {"name": "X", "organization": acme.id, **change})

    assert (response.status_code, response.json()) == (400, error(message))


def test_create_requires_name_and_organization(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)

    for item, message in (
        ({"organization": acme.id}, "'shared_labels[0].name' is required"),
        ({"name": "X"}, "'shared_labels[0].organization' is required"),
    ):
        response = post(client, token, item)
        assert (response.status_code, response.json()) == (400, error(message))


def test_create_unknown_or_foreign_references_are_404(client: TestClient, factory: Factory) -> None:
    acme, other = factory.organization(), factory.organization("Other")
    _, token = factory.member(acme, "admin")
    outsider = factory.member(other)[0]
    foreign_label, foreign_team = factory.shared_label(other), factory.team(other)
    unknown = new_id()

    for field, value, message in (
        ("organization", other.id, f"Organization with id '{other.id}' does not exist"),
        ("organization", unknown, f"Organization with id '{unknown}' does not exist"),
        ("parent", foreign_label.id, f"Shared label with id '{foreign_label.id}' does not exist"),
        ("parent", unknown, f"Shared label with id '{unknown}' does not exist"),
        ("share_with_team", foreign_team.id, f"Team with id '{foreign_team.id}' does not exist"),
        ("share_with_team", unknown, f"Team with id '{unknown}' does not exist"),
        ("share_with_users", [outsider.id], f"User with id '{outsider.id}' does not exist"),
        ("share_with_users", [unknown], f"User with id '{unknown}' does not exist"),
    ):
        response = post(client, token, {"name": "X", "organization": acme.id, field: value})
        assert (response.status_code, response.json()) == (404, error(message)), field


def test_a_hidden_delegates_label_is_not_a_usable_parent(
    client: TestClient, factory: Factory
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "user")
    secret = factory.shared_label(acme, "Secret", visibility="delegates")

    response = post(client, token, {"name": "X", "organization": acme.id, "parent": secret.id})

    assert (response.status_code, response.json()) == (
        404,
        error(f"Shared label with id '{secret.id}' does not exist"),
    )


def test_create_is_all_or_nothing(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "user")

    response = post(
        client,
        token,
        {"name": "Good", "organization": acme.id},
        {"name": "Bad", "organization": acme.id, "parent": new_id()},
    )

    assert response.status_code == 404
    assert listed(client, token) == []


# --- PATCH /v1/shared_labels/:ids ---------------------------------------------------------------


def test_any_member_renames_recolors_and_moves(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "user")
    billing, sales = factory.shared_label(acme, "Billing"), factory.shared_label(acme, "Sales")
    label = factory.shared_label(acme, "Heroku", parent=billing, color="#fff")

    response = patch(
        client,
        token,
        label.id,
        {"id": label.id, "name": "AWS", "color": "#000000", "parent": sales.id},
    )

    assert response.status_code == 200
    assert labels_of(response) == [
        wire(label, "Sales/AWS", name="AWS", color="#000000", parent=sales.id)
    ]
    moved_to_top = patch(client, token, label.id, {"id": label.id, "parent": None, "color": None})
    assert labels_of(moved_to_top) == [wire(label, "AWS", name="AWS", color=None, parent=None)]


def test_update_batch_sees_earlier_items(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    parent = factory.shared_label(acme, "Invoices")
    child = factory.shared_label(acme, "Heroku", parent=parent)

    response = patch(
        client,
        token,
        f"{child.id},{parent.id}",
        {"id": parent.id, "name": "Bills"},
        {"id": child.id, "color": "#abc"},
    )

    assert labels_of(response) == [
        wire(child, "Bills/Heroku", color="#abc"),
        wire(parent, "Bills", name="Bills"),
    ]


def test_update_refuses_a_parent_cycle(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    root = factory.shared_label(acme, "Root")
    child = factory.shared_label(acme, "Child", parent=root)
    grandchild = factory.shared_label(acme, "Grandchild", parent=child)

    for parent in (root, grandchild):
        response = patch(client, token, root.id, {"id": root.id, "parent": parent.id})
        assert (response.status_code, response.json()) == (
            400,
            error(
                f"'parent' of shared label '{root.id}' cannot be the label itself"
                " or one of its descendants"
            ),
        )
    swap = patch(
        client,
        token,
        f"{child.id},{root.id}",
        {"id": child.id, "parent": None},
        {"id": root.id, "parent": grandchild.id},
    )
    assert swap.status_code == 200
    assert [label["name_with_parent_names"] for label in labels_of(swap)] == [
        "Child",
        "Child/Grandchild/Root",
    ]


def test_admin_changes_sharing(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "admin")
    bob, carol = factory.member(acme)[0], factory.member(acme)[0]
    team = factory.team(acme)
    label = factory.shared_label(acme, share_with_users=[bob])

    response = patch(
        client,
        token,
        label.id,
        {
            "id": label.id,
            "visibility": "delegates",
            "share_with_organization": True,
            "share_with_team": team.id,
            "share_with_users": [carol.id],
        },
    )

    assert response.status_code == 200
    expected = wire(
        label,
        "VIP",
        visibility="delegates",
        share_with_organization=True,
        share_with_team=team.id,
        share_with_users=[carol.id],
    )
    assert labels_of(response) == [expected]
    cleared = patch(client, token, label.id, {"id": label.id, "share_with_team": None})
    assert labels_of(cleared) == [{**expected, "share_with_team": None}]


def test_sharing_changes_need_an_admin(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    me, token = factory.member(acme, "user")
    label = factory.shared_label(acme, share_with_users=[me])

    unchanged = {"visibility": "organization", "share_with_users": [me.id], "share_with_team": None}
    same = patch(client, token, label.id, {"id": label.id, "name": "Renamed", **unchanged})
    assert same.status_code == 200
    for change in (
        {"visibility": "delegates"},
        {"share_with_organization": True},
        {"share_with_users": []},
        {"share_with_team": factory.team(acme).id},
    ):
        response = patch(client, token, label.id, {"id": label.id, "name": "Again", **change})
        assert (response.status_code, response.json()) == (403, FORBIDDEN)
    assert [label["name"] for label in listed(client, token)] == ["Renamed"]


def test_update_unknown_foreign_or_hidden_label_is_404(
    client: TestClient, factory: Factory
) -> None:
    acme, other = factory.organization(), factory.organization("Other")
    _, token = factory.member(acme, "user")
    mine = factory.shared_label(acme, "Mine")
    foreign = factory.shared_label(other, "Foreign")
    hidden = factory.shared_label(acme, "Hidden", visibility="delegates")

    for label_id in (foreign.id, hidden.id, new_id()):
        response = patch(
            client,
            token,
            f"{mine.id},{label_id}",
            {"id": mine.id, "name": "Changed"},
            {"id": label_id, "name": "X"},
        )
        assert (response.status_code, response.json()) == (
            404,
            error(f"Shared label with id '{label_id}' does not exist"),
        )
    response = patch(client, token, mine.id, {"id": mine.id, "parent": foreign.id})
    assert (response.status_code, response.json()) == (
        404,
        error(f"Shared label with id '{foreign.id}' does not exist"),
    )
    assert [label["name"] for label in listed(client, token)] == ["Mine"]


def test_update_body_must_match_path(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    one, two = factory.shared_label(acme, "One"), factory.shared_label(acme, "Two")
    message = "'shared_labels' must hold exactly one object per id in the path, each with its 'id'"

    for path, items in (
        (one.id, [{"id": two.id}]),
        (f"{one.id},{two.id}", [{"id": one.id}]),
        (one.id, [{"id": one.id}, {"id": one.id}]),
    ):
        response = patch(client, token, path, *items)
        assert (response.status_code, response.json()) == (400, error(message))
    response = patch(client, token, one.id, {"id": one.id, "name": None})
    assert (response.status_code, response.json()) == (
        400,
        error("'shared_labels[0].name' must not be null"),
    )


def test_update_is_all_or_nothing(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    one, two = factory.shared_label(acme, "One"), factory.shared_label(acme, "Two")

    response = patch(
        client,
        token,
        f"{one.id},{two.id}",
        {"id": one.id, "name": "Changed"},
        {"id": two.id, "parent": two.id},
    )

    assert response.status_code == 400
    assert [label["name"] for label in listed(client, token)] == ["One", "Two"]
