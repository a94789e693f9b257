from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import bearer
from tests.factories import Factory


def test_lists_only_the_callers_organizations(client: TestClient, factory: Factory) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    _, token = factory.member(acme)
    factory.member(other)

    response = client.get("/v1/organizations", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {"organizations": [{"id": acme.id, "name": "Acme"}]}


def test_offset_pagination(client: TestClient, factory: Factory) -> None:
    orgs = [factory.organization(f"Org {i}") for i in range(3)]
    user = factory.user(organizations=dict.fromkeys(orgs, "user"))
    token = factory.token(user)

    first = client.get("/v1/organizations?limit=2", headers=bearer(token)).json()["organizations"]
    rest = client.get("/v1/organizations?limit=2&offset=2", headers=bearer(token)).json()[
        "organizations"
    ]

    assert [o["name"] for o in first] == ["Org 0", "Org 1"]
    assert [o["name"] for o in rest] == ["Org 2"]


def test_missing_and_revoked_tokens_are_401(client: TestClient) -> None:
    expected = {"error": {"message": "Authentication token is invalid or has been revoked"}}
    for headers in ({}, bearer("missive_pat-nope"), {"Authorization": "Basic abc"}):
        response = client.get("/v1/organizations", headers=headers)
        assert response.status_code == 401
        assert response.json() == expected


def test_invalid_limit_names_the_field(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())

    response = client.get("/v1/organizations?limit=many", headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == {"error": {"message": "'limit' must be an integer"}}
