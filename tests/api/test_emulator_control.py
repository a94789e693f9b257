"""``/_emulator/reset`` and ``/_emulator/seed``; every emulator route 404s outside emulator mode."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from missive_server.db.base import Base
from missive_server.services.seed import demo
from tests.api.emulator_support import emu, emulator
from tests.conftest import bearer

__all__ = ["emu", "emulator"]

DOCUMENT: dict[str, Any] = {
    "organizations": [{"name": "Initech"}],
    "users": [{"email": "peter@initech.test", "organizations": {"Initech": "owner"}}],
}

ROUTES = [
    ("GET", "/_emulator/outbox"),
    ("GET", "/_emulator/deliveries"),
    ("POST", "/_emulator/reset"),
    ("POST", "/_emulator/seed"),
    ("POST", "/_emulator/inbound"),
    ("GET", "/_emulator/clock"),
    ("POST", "/_emulator/clock"),
    ("GET", "/_emulator/faults"),
    ("POST", "/_emulator/faults"),
    ("DELETE", "/_emulator/faults"),
]


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_emulator_route_is_absent_outside_emulator_mode(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, json={})
    assert response.status_code == 404
    assert response.json() == {"error": {"message": "Not found"}}


def test_seed_returns_ids_and_a_working_token(emu: TestClient) -> None:
    response = emu.post("/_emulator/seed", json=DOCUMENT)

    assert response.status_code == 200, response.text
    body = response.json()
    token = body["tokens"]["peter@initech.test"]
    assert set(body["ids"]) >= {"organizations", "users"}
    me = emu.get("/v1/users", headers=bearer(token))
    assert me.status_code == 200
    assert [u["email"] for u in me.json()["users"]] == ["peter@initech.test"]
    assert me.json()["users"][0]["id"] == body["ids"]["users"]["peter@initech.test"]


def test_seed_rejects_a_bad_document_like_the_cli(emu: TestClient, engine: Engine) -> None:
    bad = {"organizations": [{"name": "Initech"}], "users": [{"organizations": {}}]}
    response = emu.post("/_emulator/seed", json=bad)

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "users[0]" in message
    assert "email" in message
    assert row_counts(engine)["organizations"] == 0


def test_seed_of_an_unknown_organization_names_the_field(emu: TestClient, engine: Engine) -> None:
    doc = {"users": [{"email": "a@b.test", "organizations": {"Nowhere": "owner"}}]}
    response = emu.post("/_emulator/seed", json=doc)

    assert response.status_code == 400
    assert "Nowhere" in response.json()["error"]["message"]
    assert row_counts(engine)["users"] == 0  # rolled back, nothing half-seeded


def test_reset_empties_every_table_and_the_server_works_after(
    emu: TestClient, engine: Engine
) -> None:
    seeded = emu.post("/_emulator/reset", json={"seed": "demo"})
    assert seeded.status_code == 200, seeded.text
    before = row_counts(engine)
    assert sum(before.values()) > 20

    response = emu.post("/_emulator/reset")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "deleted": {name: n for name, n in before.items() if n},
        "seeded": None,
    }
    assert row_counts(engine) == dict.fromkeys(before, 0)
    assert {t.name for t in Base.metadata.sorted_tables} == set(before)

    again = emu.post("/_emulator/seed", json=DOCUMENT).json()
    token = again["tokens"]["peter@initech.test"]
    org = again["ids"]["organizations"]["Initech"]
    post = emu.post(
        "/v1/posts",
        headers=bearer(token),
        json={
            "posts": {
                "organization": org,
                "notification": {"title": "t", "body": "b"},
                "text": "Hello",
                "conversation_subject": "After reset",
            }
        },
    )
    assert post.status_code == 201, post.text


def test_reset_with_the_demo_seed(emu: TestClient) -> None:
    response = emu.post("/_emulator/reset", json={"seed": "demo"})

    assert response.status_code == 200, response.text
    tokens = response.json()["seeded"]["tokens"]
    assert tokens == demo.DEMO_TOKENS
    listed = emu.get("/v1/conversations?inbox=true", headers=bearer(demo.DEMO_OWNER_TOKEN))
    assert listed.status_code == 200
    assert listed.json()["conversations"]


def test_the_readme_workflow(emu: TestClient) -> None:
    """README "Testing your integration": reset with a seed, mail in, the user sees it."""
    seeded = emu.post(
        "/_emulator/reset",
        json={
            "seed": {
                "organizations": [{"name": "Acme"}],
                "users": [
                    {
                        "email": "alice@acme.test",
                        "organizations": {"Acme": "owner"},
                        "token": "missive_pat-test-alice",
                    }
                ],
                "accounts": [
                    {
                        "type": "email",
                        "address": "support@acme.test",
                        "organization": "Acme",
                        "users": ["alice@acme.test"],
                    }
                ],
            }
        },
    )
    assert seeded.status_code == 200, seeded.text
    assert seeded.json()["seeded"]["tokens"] == {"alice@acme.test": "missive_pat-test-alice"}
    got = emu.post(
        "/_emulator/inbound",
        json={
            "from": "Sam <sam@example.com>",
            "to": ["support@acme.test"],
            "subject": "Help",
            "text": "Hello",
        },
    )
    assert got.status_code == 200, got.text
    conversation = got.json()["deliveries"][0]["conversation"]
    listed = emu.get("/v1/conversations?inbox=true", headers=bearer("missive_pat-test-alice"))
    assert [c["id"] for c in listed.json()["conversations"]] == [conversation]
