from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import bearer
from tests.factories import Factory


def test_lists_users_of_the_callers_organizations_with_me(
    client: TestClient, factory: Factory
) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    alice = factory.user("alice@acme.test", "Alice", organizations={acme: "owner"})
    bob = factory.user("bob@acme.test", "Bob", organizations={acme: "user"})
    factory.user("eve@other.test", "Eve", organizations={other: "owner"})
    token = factory.token(alice)

    response = client.get("/v1/users", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {
        "users": [
            {
                "id": alice.id,
                "me": True,
                "email": "alice@acme.test",
                "name": "Alice",
                "avatar_url": None,
            },
            {
                "id": bob.id,
                "me": False,
                "email": "bob@acme.test",
                "name": "Bob",
                "avatar_url": None,
            },
        ]
    }


def test_organization_filter_and_foreign_organization(client: TestClient, factory: Factory) -> None:
    acme, beta, other = (factory.organization(n) for n in ("Acme", "Beta", "Other"))
    alice = factory.user("alice@acme.test", "Alice", organizations={acme: "user", beta: "user"})
    factory.user("bea@beta.test", "Bea", organizations={beta: "user"})
    token = factory.token(alice)

    in_beta = client.get(f"/v1/users?organization={beta.id}", headers=bearer(token)).json()
    foreign = client.get(f"/v1/users?organization={other.id}", headers=bearer(token))
    unknown = client.get(
        "/v1/users?organization=00000000-0000-4000-8000-000000000000", headers=bearer(token)
    )

    assert [u["email"] for u in in_beta["users"]] == ["alice@acme.test", "bea@beta.test"]
    assert foreign.status_code == 404
    assert foreign.json() == {
        "error": {"message": f"Organization with id '{other.id}' does not exist"}
    }
    assert unknown.status_code == 404


def test_offset_pagination_boundaries(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    users = [
        factory.user(f"u{i}@acme.test", f"User {i}", organizations={acme: "user"}) for i in range(5)
    ]
    token = factory.token(users[0])

    def page(query: str) -> list[str]:
        response = client.get(f"/v1/users?{query}", headers=bearer(token))
        assert response.status_code == 200
        return [u["name"] for u in response.json()["users"]]

    assert page("limit=2") == ["User 0", "User 1"]
    assert page("limit=2&offset=2") == ["User 2", "User 3"]
    assert page("limit=2&offset=4") == ["User 4"]
    assert page("limit=2&offset=5") == []
    assert page("limit=500") == [f"User {i}" for i in range(5)]


def test_auth_and_validation_errors(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())

    missing = client.get("/v1/users")
    invalid = client.get("/v1/users?offset=-1", headers=bearer(token))
    not_int = client.get("/v1/users?limit=x", headers=bearer(token))

    assert missing.status_code == 401
    assert missing.json() == {
        "error": {"message": "Authentication token is invalid or has been revoked"}
    }
    assert (invalid.status_code, invalid.json()) == (
        400,
        {"error": {"message": "'offset' must be 0 or more"}},
    )
    assert (not_int.status_code, not_int.json()) == (
        400,
        {"error": {"message": "'limit' must be an integer"}},
    )
