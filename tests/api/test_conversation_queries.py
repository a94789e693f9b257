"""Rendering conversations costs a fixed number of queries, whatever the page holds (no N+1)."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from missive_server.db.models import Organization
from tests.conftest import bearer, count_queries
from tests.factories import Factory


def _fill(factory: Factory, org: Organization, count: int) -> str:
    owner, token = factory.member(org, "owner")
    others = [factory.member(org)[0] for _ in range(3)]
    parent = factory.shared_label(org, "Customers")
    labels = [factory.shared_label(org, f"L{i}", parent=parent) for i in range(3)]
    team = factory.team(org, active=others[:2])
    for i in range(count):
        factory.conversation(
            org, users=[owner, *others], labels=labels, team=team, at=1_700_000_000 + i
        )
    return token


def _queries(client: TestClient, engine: Engine, token: str, url: str) -> int:
    with count_queries(engine) as statements:
        response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.text
    return len(statements)


def test_list_query_count_does_not_grow_with_the_page(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    small = _fill(factory, factory.organization("Small"), 2)
    large = _fill(factory, factory.organization("Large"), 20)
    url = "/v1/conversations?inbox=true&limit=50"

    small_count = _queries(client, engine, small, url)
    large_count = _queries(client, engine, large, url)

    assert len(client.get(url, headers=bearer(large)).json()["conversations"]) == 20
    assert large_count == small_count


def test_get_conversation_query_count_is_fixed(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    org = factory.organization()
    token = _fill(factory, org, 1)
    conversation_id = client.get("/v1/conversations?all=true", headers=bearer(token)).json()[
        "conversations"
    ][0]["id"]

    # token, conversation, access, organization, team, users, labels, label users, label parents
    count = _queries(client, engine, token, f"/v1/conversations/{conversation_id}")
    assert count <= 9, count
