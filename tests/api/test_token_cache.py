"""The per-process token cache (services/directory/token_cache.py): a principal is reused for
the TTL of the injected clock, changes committed in this process are seen at once, changes
made by another process (a bare connection here) within the TTL."""

from __future__ import annotations

from sqlalchemy import Engine, text, update
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import ApiToken, Membership
from missive_server.services.directory.token_cache import DEFAULT_TTL_SECONDS
from tests.conftest import bearer, count_queries
from tests.factories import Factory


def _orgs(client: TestClient, token: str) -> int:
    return client.get("/v1/organizations", headers=bearer(token)).status_code


def test_a_cached_token_costs_no_statement(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    _, token = factory.member(factory.organization())
    assert _orgs(client, token) == 200
    with count_queries(engine) as warm:
        client.get("/v1/organizations", headers=bearer(token))
    factory.clock.advance(DEFAULT_TTL_SECONDS)
    with count_queries(engine) as expired:
        client.get("/v1/organizations", headers=bearer(token))
    # The warm request skips the token lookup; after the TTL it reads the token again.
    assert len(expired) == len(warm) + 1, (warm, expired)
    assert any("api_tokens" in s for s in expired)
    assert not any("api_tokens" in s for s in warm)


def test_a_revoke_by_another_process_is_seen_within_the_ttl(
    client: TestClient, factory: Factory, engine: Engine, clock: FrozenClock
) -> None:
    _, token = factory.member(factory.organization())
    assert _orgs(client, token) == 200
    # Another process: a write this process's sessions never see.
    with engine.begin() as connection:
        connection.execute(text("UPDATE api_tokens SET revoked_at = 1"))
    clock.advance(DEFAULT_TTL_SECONDS - 1)
    assert _orgs(client, token) == 200
    clock.advance(1)
    assert _orgs(client, token) == 401


def test_a_revoke_in_this_process_is_seen_at_once(
    client: TestClient, factory: Factory, clock: FrozenClock
) -> None:
    _, token = factory.member(factory.organization())
    assert _orgs(client, token) == 200
    factory.session.execute(update(ApiToken).values(revoked_at=clock.now()))
    factory.session.commit()
    assert _orgs(client, token) == 401


def test_a_membership_change_in_this_process_is_seen_at_once(
    client: TestClient, factory: Factory
) -> None:
    first, second = factory.organization("First"), factory.organization("Second")
    user, token = factory.member(first)
    assert [
        o["name"]
        for o in client.get("/v1/organizations", headers=bearer(token)).json()["organizations"]
    ] == ["First"]
    factory.session.add(Membership(organization_id=second.id, user_id=user.id, role="user"))
    factory.session.commit()
    names = [
        o["name"]
        for o in client.get("/v1/organizations", headers=bearer(token)).json()["organizations"]
    ]
    assert sorted(names) == ["First", "Second"]


def test_a_rolled_back_change_keeps_the_cache(
    client: TestClient, factory: Factory, engine: Engine, clock: FrozenClock
) -> None:
    _, token = factory.member(factory.organization())
    assert _orgs(client, token) == 200
    factory.session.execute(update(ApiToken).values(revoked_at=clock.now()))
    factory.session.rollback()
    with count_queries(engine) as statements:
        assert _orgs(client, token) == 200
    assert not any("api_tokens" in s for s in statements)


def test_a_clock_moved_back_does_not_stretch_an_entry(
    client: TestClient, factory: Factory, engine: Engine, clock: FrozenClock
) -> None:
    _, token = factory.member(factory.organization())
    assert _orgs(client, token) == 200
    with engine.begin() as connection:
        connection.execute(text("UPDATE api_tokens SET revoked_at = 1"))
    clock.advance(-3600)
    assert _orgs(client, token) == 401
