"""Settings > API over HTTP: the token list, "Create a new token" (shown once, hashed at rest,
usable on /v1 at once), revoke (401 on the next request), CSRF on every form, and the Resource
IDs tab, which never shows another organization's ids."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.auth import hash_token
from missive_server.clock import FrozenClock
from missive_server.db.models import ApiToken, ContactBook, Organization, User
from missive_server.ids import new_id
from missive_server.services.directory.token_cache import DEFAULT_TTL_SECONDS
from missive_server.services.directory.tokens import LAST_USED_GRANULARITY
from tests.api.drafts_support import account
from tests.conftest import bearer
from tests.factories import Factory
from tests.web.support import post_sign_in

TOKEN = re.compile(r"missive_pat-[A-Za-z0-9_-]{20,}")


@dataclass
class World:
    acme: Organization
    other: Organization
    alice: User
    token: str


@pytest.fixture
def world(factory: Factory) -> World:
    acme, other = factory.organization("Acme"), factory.organization("Globex")
    alice = factory.user("alice@acme.test", organizations={acme: "owner"})
    return World(acme, other, alice, factory.token(alice))


def signed_in(client: TestClient, token: str) -> str:
    """Sign in and return the session's CSRF token (read from a page, as a browser would)."""
    assert post_sign_in(client, token=token).status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/settings/api").text)
    assert found
    return found.group(1)


def create(client: TestClient, csrf: str, name: str) -> str:
    page = client.post("/settings/api/tokens", data={"csrf": csrf, "name": name})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    found = TOKEN.search(page.text)
    assert found, page.text
    return found.group(0)


def test_settings_needs_sign_in(client: TestClient) -> None:
    for path in ("/settings/api", "/settings/api/new", "/settings/resource-ids"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/sign-in")
    response = client.post("/settings/api/tokens", data={"name": "x"}, follow_redirects=False)
    assert response.status_code == 303


def test_sidebar_links_to_settings_api(client: TestClient, world: World) -> None:
    signed_in(client, world.token)
    page = client.get("/").text
    assert 'href="/settings/api"' in page
    api = client.get("/settings/api").text
    assert "Create a new token" in api
    assert 'href="/settings/api/new"' in api
    assert 'href="/settings/resource-ids"' in api


def test_created_token_is_shown_once_hashed_and_works(
    client: TestClient, world: World, session: Session, clock: FrozenClock
) -> None:
    csrf = signed_in(client, world.token)
    assert client.get("/settings/api/new").status_code == 200
    new = create(client, csrf, "CRM sync")
    stored = session.scalar(select(ApiToken).where(ApiToken.name == "CRM sync"))
    assert stored is not None
    assert stored.user_id == world.alice.id
    assert stored.token_hash == hash_token(new)
    assert new not in stored.token_hash
    listing = client.get("/settings/api").text
    assert "CRM sync" in listing
    assert new[:16] in listing
    assert new not in listing  # a reload never shows it again
    users = client.get("/v1/users", headers=bearer(new))
    assert users.status_code == 200
    assert [u["email"] for u in users.json()["users"]] == ["alice@acme.test"]


def test_last_used_is_recorded_at_a_coarse_granularity(
    client: TestClient, world: World, session: Session, clock: FrozenClock
) -> None:
    csrf = signed_in(client, world.token)
    new = create(client, csrf, "ci")
    assert "Never" in client.get("/settings/api").text
    first = clock.now()
    client.get("/v1/users", headers=bearer(new))
    clock.advance(LAST_USED_GRANULARITY - 1)
    client.get("/v1/users", headers=bearer(new))
    row = session.scalar(select(ApiToken).where(ApiToken.name == "ci"))
    assert row is not None
    assert row.last_used_at == first
    # Past the granularity, and past the per-process token cache (which answers without a
    # lookup, so without a refresh, for its few seconds).
    clock.advance(1 + DEFAULT_TTL_SECONDS)
    client.get("/v1/users", headers=bearer(new))
    session.refresh(row)
    assert row.last_used_at == clock.now()


def test_revoke_takes_effect_at_once(client: TestClient, world: World, session: Session) -> None:
    csrf = signed_in(client, world.token)
    new = create(client, csrf, "short-lived")
    assert client.get("/v1/users", headers=bearer(new)).status_code == 200
    row = session.scalar(select(ApiToken).where(ApiToken.name == "short-lived"))
    assert row is not None
    done = client.post(
        f"/settings/api/tokens/{row.id}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (
        303,
        "/settings/api?notice=Token+revoked.",
    )
    assert client.get("/v1/users", headers=bearer(new)).status_code == 401
    assert "short-lived" not in client.get("/settings/api").text
    again = client.post(f"/settings/api/tokens/{row.id}/revoke", data={"csrf": csrf})
    assert again.status_code == 404


def test_another_users_token_cannot_be_revoked(
    client: TestClient, world: World, factory: Factory, session: Session
) -> None:
    bob, bob_token = factory.member(world.acme, email="bob@acme.test")
    csrf = signed_in(client, world.token)
    row = session.scalar(select(ApiToken).where(ApiToken.user_id == bob.id))
    assert row is not None
    response = client.post(f"/settings/api/tokens/{row.id}/revoke", data={"csrf": csrf})
    assert response.status_code == 404
    assert client.get("/v1/users", headers=bearer(bob_token)).status_code == 200
    assert bob_token[:16] not in client.get("/settings/api").text


@pytest.mark.parametrize("csrf", [None, "forged"])
def test_forms_reject_a_missing_or_wrong_csrf_token(
    client: TestClient, world: World, session: Session, csrf: str | None
) -> None:
    signed_in(client, world.token)
    data = {"name": "sneaky"} | ({"csrf": csrf} if csrf else {})
    assert client.post("/settings/api/tokens", data=data).status_code == 403
    assert session.scalar(select(ApiToken).where(ApiToken.name == "sneaky")) is None
    mine = session.scalar(select(ApiToken).where(ApiToken.user_id == world.alice.id))
    assert mine is not None
    revoke = client.post(f"/settings/api/tokens/{mine.id}/revoke", data=data)
    assert revoke.status_code == 403
    assert client.get("/v1/users", headers=bearer(world.token)).status_code == 200


def test_resource_ids_list_every_kind_and_never_another_organizations(
    client: TestClient, world: World, factory: Factory, session: Session
) -> None:
    acme, other = world.acme, world.other
    ours = {
        "team": factory.team(acme, "Support").id,
        "label": factory.shared_label(acme, "VIP").id,
        "book": _book(session, acme, world.alice, "Customers"),
        "account": account(
            session, "email", "Support inbox", org=acme, address="help@acme.test"
        ).id,
        "user": world.alice.id,
        "org": acme.id,
    }
    outsider = factory.user("eve@globex.test", organizations={other: "owner"})
    theirs = {
        "team": factory.team(other, "Globex team").id,
        "label": factory.shared_label(other, "Globex label").id,
        "book": _book(session, other, outsider, "Globex book"),
        "account": account(session, "sms", "Globex SMS", org=other, phone_number="+15550000").id,
        "user": outsider.id,
        "org": other.id,
    }
    session.commit()
    signed_in(client, world.token)
    page = client.get("/settings/resource-ids")
    assert page.status_code == 200
    for kind, rid in ours.items():
        assert f'data-copy="{rid}"' in page.text, kind
    for kind, rid in theirs.items():
        assert rid not in page.text, kind
    assert "Globex" not in page.text
    assert "eve@globex.test" not in page.text


def _book(session: Session, org: Organization, owner: User, name: str) -> str:
    book = ContactBook(
        id=new_id(), organization_id=org.id, user_id=owner.id, name=name,
        share_with_organization=True, created_at=0,
    )  # fmt: skip
    session.add(book)
    session.flush()
    return book.id
