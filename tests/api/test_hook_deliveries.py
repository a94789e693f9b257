"""The delivery log (extension): ``GET /v1/hooks/:id/deliveries``, ``POST .../redeliver``, and
in emulator mode ``GET /_emulator/deliveries`` and ``POST /_emulator/deliveries/:id/redeliver``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from dirty_equals import IsInt
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db.models import Hook, Organization, OutboxItem, User
from missive_server.ids import new_id
from missive_server.services import outbox
from missive_server.settings import Settings
from tests.conftest import bearer, count_queries
from tests.delivery.webhook_receiver import WebhookReceiver, receiver
from tests.delivery.webhook_support import (
    LOOPBACK_ALLOWED,
    T0,
    fresh_hook,
    make_hook,
    payload,
    queue,
)
from tests.factories import Factory

__all__ = ["receiver"]  # fixture

UNAUTHORIZED = {"error": {"message": "Authentication token is invalid or has been revoked"}}


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


@dataclass
class World:
    org: Organization
    alice: User
    token: str
    bob_token: str
    hook: Hook


@pytest.fixture
def world(session: Session, factory: Factory, receiver: WebhookReceiver) -> World:
    org = factory.organization()
    alice, token = factory.member(org, "admin")
    _, bob_token = factory.member(org)
    hook = make_hook(session, user=alice, org=org, url=receiver.url())
    return World(org, alice, token, bob_token, hook)


def deliver(app: FastAPI) -> int:
    attempted: int = app.state.worker.run_once()
    return attempted


def attempt(at: int, status: int | None, error: str | None = None) -> dict[str, Any]:
    return {"attempted_at": at, "status_code": status, "latency_ms": IsInt(ge=0), "error": error}


def test_the_log_newest_first_with_every_attempt(
    client: TestClient,
    app: FastAPI,
    session: Session,
    world: World,
    receiver: WebhookReceiver,
    clock: FrozenClock,
) -> None:
    receiver.answers = [500]
    first = queue(session, world.hook, n=1)
    deliver(app)
    clock.advance(15)
    deliver(app)
    second = queue(session, world.hook, n=2, now=clock.now())
    receiver.answers = [502]
    deliver(app)
    response = client.get(f"/v1/hooks/{world.hook.id}/deliveries", headers=bearer(world.token))
    target = f"http://127.0.0.1:{receiver.port}/hooks/missive"
    assert response.status_code == 200
    assert response.json() == {
        "deliveries": [
            {
                "id": second.id,
                "hook": world.hook.id,
                "event": "incoming_email",
                "conversation": None,
                "created_at": T0 + 15,
                "status": "pending",
                "attempt_count": 1,
                "next_attempt_at": T0 + 30,
                "last_error": f"{target} answered 502 Bad Gateway",
                "sent_at": None,
                "attempts": [attempt(T0 + 15, 502, f"{target} answered 502 Bad Gateway")],
            },
            {
                "id": first.id,
                "hook": world.hook.id,
                "event": "incoming_email",
                "conversation": None,
                "created_at": T0,
                "status": "sent",
                "attempt_count": 2,
                "next_attempt_at": None,
                "last_error": None,
                "sent_at": T0 + 15,
                "attempts": [
                    attempt(T0, 500, f"{target} answered 500 Internal Server Error"),
                    attempt(T0 + 15, 200),
                ],
            },
        ]
    }


def test_members_of_the_hooks_organization_read_it(
    client: TestClient, session: Session, world: World
) -> None:
    queue(session, world.hook)
    response = client.get(f"/v1/hooks/{world.hook.id}/deliveries", headers=bearer(world.bob_token))
    assert response.status_code == 200
    assert len(response.json()["deliveries"]) == 1


def test_unknown_foreign_and_personal_hooks_of_others_are_404(
    client: TestClient, session: Session, factory: Factory, world: World
) -> None:
    other_org = factory.organization("Globex")
    mallory, _ = factory.member(other_org, "owner")
    foreign = make_hook(session, user=mallory, org=other_org, url="https://example.com/h")
    personal = make_hook(session, user=world.alice, url="https://example.com/p")  # Alice's own
    for hook_id in (new_id(), foreign.id, personal.id):
        response = client.get(f"/v1/hooks/{hook_id}/deliveries", headers=bearer(world.bob_token))
        assert (response.status_code, response.json()) == (
            404,
            error(f"Hook with id '{hook_id}' does not exist"),
        )
    mine = client.get(f"/v1/hooks/{personal.id}/deliveries", headers=bearer(world.token))
    assert (mine.status_code, mine.json()) == (200, {"deliveries": []})


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_missing_or_invalid_token_is_401(client: TestClient, world: World, method: str) -> None:
    path = f"/v1/hooks/{world.hook.id}/deliveries"
    if method == "POST":
        path += f"/{new_id()}/redeliver"
    for headers in ({}, bearer("missive_pat-nope")):
        response = client.request(method, path, headers=headers)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_paging_with_limit_and_until(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    ids = []
    for n in range(5):
        ids.append(queue(session, world.hook, n=n, now=T0 + n * 10).id)
    path = f"/v1/hooks/{world.hook.id}/deliveries"
    page = client.get(path, params={"limit": 2}, headers=bearer(world.token)).json()
    assert [d["id"] for d in page["deliveries"]] == [ids[4], ids[3]]
    until = page["deliveries"][-1]["created_at"] - 1
    page = client.get(path, params={"limit": 2, "until": until}, headers=bearer(world.token))
    assert [d["id"] for d in page.json()["deliveries"]] == [ids[2], ids[1]]
    bad = client.get(path, params={"limit": 1}, headers=bearer(world.token))
    assert (bad.status_code, bad.json()) == (400, error("min 'limit' value is 2"))


def test_listing_takes_the_same_queries_for_one_or_many_deliveries(
    client: TestClient, app: FastAPI, engine: Engine, session: Session, world: World
) -> None:
    path = f"/v1/hooks/{world.hook.id}/deliveries"
    queue(session, world.hook)
    deliver(app)
    client.get(path, headers=bearer(world.token))  # the token, into the token cache
    with count_queries(engine) as one:
        assert len(client.get(path, headers=bearer(world.token)).json()["deliveries"]) == 1
    for n in range(8):
        queue(session, world.hook, n=n)
    deliver(app)
    with count_queries(engine) as many:
        assert len(client.get(path, headers=bearer(world.token)).json()["deliveries"]) == 9
    assert len(many) == len(one)


def test_redeliver_sends_the_same_delivery_again(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    session: Session,
    world: World,
    receiver: WebhookReceiver,
    clock: FrozenClock,
) -> None:
    receiver.default = 410
    delivery = queue(session, world.hook)
    for _ in range(600):
        deliver(app)
        clock.advance(1)
    assert len(receiver.requests) == 6
    path = f"/v1/hooks/{world.hook.id}/deliveries/{delivery.id}/redeliver"
    response = client.post(path, headers=bearer(world.bob_token))
    assert response.status_code == 200
    [body] = response.json()["deliveries"]
    assert body["id"] == delivery.id
    assert (body["status"], body["next_attempt_at"], body["last_error"]) == (
        "pending",
        clock.now(),
        None,
    )
    assert body["attempt_count"] == 6
    receiver.default = 204
    assert deliver(app) == 1
    again = receiver.requests[-1]
    assert again.headers["webhook-id"] == delivery.id
    assert again.body == orjson.dumps(payload())
    assert again.headers["webhook-timestamp"] == str(clock.now())


def test_redelivering_re_enables_a_disabled_hook(
    client: TestClient, app: FastAPI, session: Session, world: World, receiver: WebhookReceiver
) -> None:
    delivery = queue(session, world.hook)
    world.hook.enabled, world.hook.consecutive_failures, world.hook.disabled_at = False, 50, T0
    session.commit()
    deliver(app)  # refused: the hook is disabled
    path = f"/v1/hooks/{world.hook.id}/deliveries/{delivery.id}/redeliver"
    assert client.post(path, headers=bearer(world.token)).status_code == 200
    hook = fresh_hook(session, world.hook.id)
    assert (hook.enabled, hook.consecutive_failures, hook.disabled_at) == (True, 0, None)
    assert deliver(app) == 1
    assert receiver.ids() == [delivery.id]


def test_redeliver_of_an_unknown_or_other_hooks_delivery_is_404(
    client: TestClient, session: Session, factory: Factory, world: World
) -> None:
    other = make_hook(session, user=world.alice, org=world.org, url="https://example.com/o")
    elsewhere = queue(session, other)
    for delivery_id in (new_id(), elsewhere.id):
        path = f"/v1/hooks/{world.hook.id}/deliveries/{delivery_id}/redeliver"
        response = client.post(path, headers=bearer(world.token))
        assert (response.status_code, response.json()) == (
            404,
            error(f"Delivery with id '{delivery_id}' does not exist"),
        )
    hidden = f"/v1/hooks/{other.id}/deliveries/{elsewhere.id}/redeliver"
    mallory_org = factory.organization("Globex")
    _, mallory = factory.member(mallory_org, "owner")
    response = client.post(hidden, headers=bearer(mallory))
    assert (response.status_code, response.json()) == (
        404,
        error(f"Hook with id '{other.id}' does not exist"),
    )


# --- emulator mode --------------------------------------------------------------------------


@pytest.fixture
def emu(settings: Settings, clock: FrozenClock, engine: Engine) -> Iterator[TestClient]:
    emulator = create_app(
        settings.model_copy(update={"emulator": True}), clock=clock, engine=engine
    )
    with TestClient(emulator) as test_client:
        yield test_client


def test_emulator_lists_every_hooks_deliveries_with_their_bodies(
    emu: TestClient, client: TestClient, session: Session, world: World
) -> None:
    other = make_hook(session, user=world.alice, url="https://example.com/personal?k=v")
    first = queue(session, world.hook, n=1)
    second = queue(session, other, n=2, now=T0 + 1)
    listed = emu.get("/_emulator/deliveries").json()["deliveries"]
    assert [(d["id"], d["hook"], d["url"]) for d in listed] == [
        (second.id, other.id, "https://example.com/personal?k=v"),
        (first.id, world.hook.id, world.hook.url),
    ]
    assert listed[1]["body"] == payload(1)
    assert listed[1]["status"] == "pending"
    only = emu.get("/_emulator/deliveries", params={"hook": world.hook.id}).json()
    assert [d["id"] for d in only["deliveries"]] == [first.id]
    assert client.get("/_emulator/deliveries").status_code == 404  # not mounted otherwise


def test_emulator_redeliver(
    emu: TestClient, app: FastAPI, session: Session, world: World, receiver: WebhookReceiver
) -> None:
    delivery = queue(session, world.hook)
    deliver(app)
    response = emu.post(f"/_emulator/deliveries/{delivery.id}/redeliver")
    assert response.status_code == 200
    assert response.json()["deliveries"][0]["status"] == "pending"
    deliver(app)
    assert receiver.ids() == [delivery.id, delivery.id]
    unknown = new_id()
    response = emu.post(f"/_emulator/deliveries/{unknown}/redeliver")
    assert (response.status_code, response.json()) == (
        404,
        error(f"Delivery with id '{unknown}' does not exist"),
    )


def test_redelivering_a_delivery_in_progress_never_doubles_it(
    client: TestClient, app: FastAPI, session: Session, world: World, clock: FrozenClock
) -> None:
    delivery = queue(session, world.hook)
    [claimed] = outbox.claim_due(session, now=T0)  # another worker is sending it
    session.commit()
    clock.advance(1)
    path = f"/v1/hooks/{world.hook.id}/deliveries/{delivery.id}/redeliver"
    assert client.post(path, headers=bearer(world.token)).status_code == 200
    session.expire_all()
    row = session.get(OutboxItem, delivery.id)
    assert row is not None
    assert (row.status, row.attempts, row.locked_until) == ("pending", 1, claimed.locked_until)
    assert deliver(app) == 0  # the lease holds until that worker reports


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on loopback, where webhooks go only when allowed."""
    return settings.model_copy(update=LOOPBACK_ALLOWED)
