"""DELETE /v1/hooks/:id (spec 2.15.2) and the extensions GET /v1/hooks, GET and PATCH
/v1/hooks/:id: who may see and manage a hook, re-enabling, and what deletion takes along."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import (
    Hook,
    Membership,
    OutboxItem,
    WebhookAttempt,
    WebhookDelivery,
)
from missive_server.ids import new_id
from missive_server.schemas.hooks import HookEnvelope, HooksEnvelope
from missive_server.services.hooks.hook_deliveries import enqueue_delivery
from tests.api.hooks_api_support import create, hook_row, no_real_dns, wire
from tests.api.test_teams import UNAUTHORIZED, error
from tests.conftest import bearer, count_queries
from tests.factories import UNKNOWN_ID, Factory

__all__ = ["no_real_dns"]


def listed(client: TestClient, token: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/v1/hooks?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    HooksEnvelope.model_validate(response.json())  # exact schema: no secret
    hooks: list[dict[str, Any]] = response.json()["hooks"]
    return hooks


def unknown(hook_id: str) -> dict[str, Any]:
    return error(f"Hook with id '{hook_id}' does not exist")


@pytest.fixture
def setup(factory: Factory, session: Session, clock: FrozenClock) -> dict[str, Any]:
    """Acme: an admin, a member and an outsider's org; hooks of each kind."""
    acme, other = factory.organization("Acme"), factory.organization("Other")
    admin, admin_token = factory.member(acme, "admin")
    member, member_token = factory.member(acme, "user")
    outsider, outsider_token = factory.member(other, "owner")
    org_hook = hook_row(session, clock, admin, acme, type="incoming_email")
    clock.advance(1)
    member_personal = hook_row(session, clock, member, content_contains="refund")
    clock.advance(1)
    admin_personal = hook_row(session, clock, admin)
    clock.advance(1)
    foreign = hook_row(session, clock, outsider, other)
    return {
        "acme": acme,
        "other": other,
        "admin": (admin, admin_token),
        "member": (member, member_token),
        "outsider": (outsider, outsider_token),
        "org_hook": org_hook,
        "member_personal": member_personal,
        "admin_personal": admin_personal,
        "foreign": foreign,
    }


# --- GET /v1/hooks ------------------------------------------------------------------------------


def test_list_shows_own_hooks_and_the_organizations_hooks_to_admins(
    client: TestClient, setup: dict[str, Any]
) -> None:
    _, admin_token = setup["admin"]
    _, member_token = setup["member"]
    _, outsider_token = setup["outsider"]

    assert listed(client, admin_token) == [wire(setup["org_hook"]), wire(setup["admin_personal"])]
    assert listed(client, member_token) == [wire(setup["member_personal"])]
    assert listed(client, outsider_token) == [wire(setup["foreign"])]


def test_list_filters_by_organization(client: TestClient, setup: dict[str, Any]) -> None:
    _, admin_token = setup["admin"]
    acme, other = setup["acme"], setup["other"]
    assert listed(client, admin_token, f"organization={acme.id}") == [wire(setup["org_hook"])]
    for organization_id in (other.id, new_id()):
        response = client.get(
            f"/v1/hooks?organization={organization_id}", headers=bearer(admin_token)
        )
        assert (response.status_code, response.json()) == (
            404,
            error(f"Organization with id '{organization_id}' does not exist"),
        )


def test_list_pages_by_offset_in_creation_order(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock, engine: Engine
) -> None:
    user, token = factory.member(factory.organization())
    rows = []
    for _ in range(5):
        rows.append(hook_row(session, clock, user))
        clock.advance(1)

    with count_queries(engine) as statements:
        page = listed(client, token, "limit=2&offset=2")

    assert page == [wire(rows[2]), wire(rows[3])]
    assert listed(client, token, "limit=2&offset=4") == [wire(rows[4])]
    assert len(statements) == 2  # token, hooks
    response = client.get("/v1/hooks?limit=0", headers=bearer(token))
    assert (response.status_code, response.json()) == (400, error("min 'limit' value is 1"))


def test_disabled_hooks_show_their_failures(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock
) -> None:
    user, token = factory.member(factory.organization())
    hook = hook_row(
        session, clock, user, enabled=False, consecutive_failures=50, disabled_at=1_700_000_500
    )
    assert listed(client, token) == [
        wire(hook, enabled=False, consecutive_failures=50, disabled_at=1_700_000_500)
    ]


# --- GET /v1/hooks/:id --------------------------------------------------------------------------


def test_get_one_hook(client: TestClient, setup: dict[str, Any]) -> None:
    _, admin_token = setup["admin"]
    hook = setup["org_hook"]
    response = client.get(f"/v1/hooks/{hook.id.upper()}", headers=bearer(admin_token))
    assert response.status_code == 200
    HookEnvelope.model_validate(response.json())
    assert response.json() == {"hooks": wire(hook)}


@pytest.mark.parametrize(
    ("who", "hook"),
    [
        ("member", "org_hook"),  # an organization hook, for a plain member
        ("member", "admin_personal"),  # someone else's personal hook
        ("admin", "member_personal"),  # admins do not see members' personal hooks
        ("admin", "foreign"),  # another organization's
    ],
)
def test_hooks_the_caller_cannot_manage_are_unknown(
    client: TestClient, setup: dict[str, Any], who: str, hook: str
) -> None:
    _, token = setup[who]
    hook_id = setup[hook].id
    for method in ("GET", "DELETE"):
        response = client.request(method, f"/v1/hooks/{hook_id}", headers=bearer(token))
        assert (response.status_code, response.json()) == (404, unknown(hook_id))
    response = client.patch(
        f"/v1/hooks/{hook_id}", headers=bearer(token), json={"hooks": {"enabled": True}}
    )
    assert (response.status_code, response.json()) == (404, unknown(hook_id))


def test_unknown_hook_ids_are_404(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    hook_id = new_id()
    response = client.get(f"/v1/hooks/{hook_id}", headers=bearer(token))
    assert (response.status_code, response.json()) == (404, unknown(hook_id))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/hooks"),
        ("GET", f"/v1/hooks/{UNKNOWN_ID}"),
        ("PATCH", f"/v1/hooks/{UNKNOWN_ID}"),
        ("DELETE", f"/v1/hooks/{UNKNOWN_ID}"),
    ],
)
def test_missing_or_invalid_token_is_401(client: TestClient, method: str, path: str) -> None:
    for headers in ({}, bearer("missive_pat-nope")):
        response = client.request(method, path, headers=headers, json={"hooks": {"enabled": True}})
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# --- PATCH /v1/hooks/:id ------------------------------------------------------------------------


def patch(client: TestClient, token: str, hook_id: str, body: Any) -> Any:
    return client.patch(f"/v1/hooks/{hook_id}", headers=bearer(token), json=body)


def test_reenabling_a_disabled_hook_resets_its_failures(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock
) -> None:
    user, token = factory.member(factory.organization())
    hook = hook_row(
        session, clock, user, enabled=False, consecutive_failures=50, disabled_at=1_699_999_000
    )

    response = patch(client, token, hook.id, {"hooks": {"enabled": True}})

    assert response.status_code == 200
    expected = wire(hook, enabled=True, consecutive_failures=0, disabled_at=None)
    assert response.json() == {"hooks": expected}
    session.expire_all()
    stored = session.get(Hook, hook.id)
    assert stored is not None
    assert (stored.enabled, stored.consecutive_failures, stored.disabled_at) == (True, 0, None)


def test_disabling_by_hand_records_when_and_keeps_the_count(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock
) -> None:
    user, token = factory.member(factory.organization())
    hook = hook_row(session, clock, user, consecutive_failures=3)
    clock.advance(60)

    response = patch(client, token, hook.id, {"hooks": {"enabled": False}})

    expected = wire(hook, enabled=False, consecutive_failures=3, disabled_at=1_700_000_060)
    assert response.json() == {"hooks": expected}
    # Sending the current state again changes nothing.
    clock.advance(60)
    assert patch(client, token, hook.id, {"hooks": {"enabled": False}}).json() == {
        "hooks": expected
    }
    # An enabled hook that is "enabled" again keeps its count.
    other = hook_row(session, clock, user, consecutive_failures=2)
    assert patch(client, token, other.id, {"hooks": {"enabled": True}}).json() == {
        "hooks": wire(other)
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"hooks": {}}, "'hooks.enabled' is required"),
        ({"hooks": {"enabled": None}}, "'hooks.enabled' must not be null"),
        ({"hooks": {"enabled": "perhaps"}}, "'hooks.enabled' must be true or false"),
        ({"enabled": True}, "'hooks' is required"),
        (
            {"hooks": {"enabled": True, "url": "https://hooks.example.com/new"}},
            "'hooks.url' cannot be changed; delete the hook and create a new one",
        ),
        (
            {"hooks": {"enabled": True, "secret": "x" * 20}},
            "'hooks.secret' cannot be changed; delete the hook and create a new one",
        ),
        (
            {"hooks": {"enabled": True, "type": "new_comment"}},
            "'hooks.type' cannot be changed; delete the hook and create a new one",
        ),
    ],
)
def test_patch_validation(
    client: TestClient,
    factory: Factory,
    session: Session,
    clock: FrozenClock,
    body: Any,
    message: str,
) -> None:
    user, token = factory.member(factory.organization())
    hook = hook_row(session, clock, user, enabled=False, disabled_at=1)
    response = patch(client, token, hook.id, body)
    assert (response.status_code, response.json()) == (400, error(message))
    session.expire_all()
    assert session.get(Hook, hook.id).enabled is False  # type: ignore[union-attr]


# --- DELETE /v1/hooks/:id -----------------------------------------------------------------------


def test_delete_answers_empty_object_and_the_hook_is_gone(
    client: TestClient, factory: Factory
) -> None:
    _, token = factory.member(factory.organization())
    hook_id = create(client, token)["id"]

    response = client.delete(f"/v1/hooks/{hook_id}", headers=bearer(token))

    assert (response.status_code, response.json()) == (200, {})
    assert client.get(f"/v1/hooks/{hook_id}", headers=bearer(token)).status_code == 404
    again = client.delete(f"/v1/hooks/{hook_id}", headers=bearer(token))
    assert (again.status_code, again.json()) == (404, unknown(hook_id))


def test_delete_takes_the_delivery_log_and_cancels_queued_deliveries(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock
) -> None:
    user, token = factory.member(factory.organization())
    hook, kept = hook_row(session, clock, user), hook_row(session, clock, user)
    now = clock.now()
    queued = enqueue_delivery(
        session, hook=hook, event="new_comment", payload={"a": 1}, conversation_id=None, now=now
    )
    sent = enqueue_delivery(
        session, hook=hook, event="new_comment", payload={"a": 2}, conversation_id=None, now=now
    )
    other = enqueue_delivery(
        session, hook=kept, event="new_comment", payload={"a": 3}, conversation_id=None, now=now
    )
    session.flush()
    session.add(
        WebhookAttempt(
            id=new_id(), delivery_id=sent.id, attempted_at=now, status_code=200, latency_ms=12
        )
    )
    session.get_one(OutboxItem, sent.id).status = "sent"
    session.commit()
    queued_id, sent_id, other_id = queued.id, sent.id, other.id
    clock.advance(30)

    assert client.delete(f"/v1/hooks/{hook.id}", headers=bearer(token)).json() == {}

    session.expire_all()
    assert session.scalars(select(WebhookDelivery.id)).all() == [other_id]
    assert session.scalars(select(WebhookAttempt)).all() == []
    statuses = {
        item.id: (item.status, item.updated_at) for item in session.scalars(select(OutboxItem))
    }
    assert statuses == {
        queued_id: ("cancelled", now + 30),
        sent_id: ("sent", now),
        other_id: ("pending", now),
    }


def test_organization_admins_delete_any_of_its_hooks(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock
) -> None:
    acme = factory.organization()
    creator = factory.member(acme, "owner")[0]
    _, other_admin = factory.member(acme, "admin")
    hook = hook_row(session, clock, creator, acme)
    assert client.delete(f"/v1/hooks/{hook.id}", headers=bearer(other_admin)).json() == {}


def test_a_creator_no_longer_admin_still_manages_their_organization_hook(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock
) -> None:
    acme = factory.organization()
    creator, token = factory.member(acme, "admin")
    hook = hook_row(session, clock, creator, acme)
    session.get_one(Membership, (acme.id, creator.id)).role = "user"
    session.commit()
    assert listed(client, token) == [wire(hook)]
    assert client.delete(f"/v1/hooks/{hook.id}", headers=bearer(token)).json() == {}


def test_a_creator_who_left_the_organization_no_longer_sees_its_hooks(
    client: TestClient, factory: Factory, session: Session, clock: FrozenClock
) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    creator = factory.user("leaver@acme.test", organizations={acme: "admin", other: "user"})
    token = factory.token(creator)
    hook = hook_row(session, clock, creator, acme)
    session.delete(session.get_one(Membership, (acme.id, creator.id)))
    session.commit()
    assert listed(client, token) == []
    response = client.delete(f"/v1/hooks/{hook.id}", headers=bearer(token))
    assert (response.status_code, response.json()) == (404, unknown(hook.id))
