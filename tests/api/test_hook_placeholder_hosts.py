"""Hooks at hosts that do not resolve, as client test suites create them on offline CI runners.

Emulator mode subscribes them (201) and every delivery fails with the resolver's own reason and
is retried like any failed delivery; outside emulator mode the 400 stays. These tests use the
machine's real resolver on ``.invalid`` names, which never resolve (RFC 6761), so they hold with
or without a network. Every other guard stays in both modes.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Hook
from tests.api.emulator_support import emu, emulator
from tests.conftest import bearer
from tests.delivery.test_inbound import World
from tests.factories import Factory
from tests.services.inbound_mail import email_account
from tests.web.test_inbox_pages import sign_in

__all__ = ["emu", "emulator"]

PLACEHOLDER = "https://ci-placeholder.invalid/missive"
ALLOW = "set MISSIVE_WEBHOOK_ALLOW_PRIVATE to allow it"


@pytest.fixture
def world(factory: Factory, session: Session) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", name="Alice", organizations={org: "admin"})
    team = factory.team(org, "Support", active=[alice])
    support = email_account(session, "support@acme.test", org=org, team=team)
    return World(org, alice, team, support, factory.token(alice))


def subscribe(client: TestClient, world: World, url: str) -> Any:
    body = {"hooks": {"type": "incoming_email", "url": url, "organization": world.org.id}}
    return client.post("/v1/hooks", json=body, headers=bearer(world.token))


def hooks_in(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Hook)) or 0


def test_outside_emulator_mode_the_host_must_resolve(
    client: TestClient, world: World, session: Session
) -> None:
    response = subscribe(client, world, PLACEHOLDER)

    assert (response.status_code, response.json()) == (
        400,
        {"error": {"message": "'hooks.url' host 'ci-placeholder.invalid' does not resolve"}},
    )
    assert hooks_in(session) == 0


def test_emulator_subscribes_and_logs_each_failed_delivery(
    emu: TestClient, emulator: FastAPI, world: World, clock: FrozenClock
) -> None:
    created = subscribe(emu, world, PLACEHOLDER)
    assert created.status_code == 201, created.json()
    hook_id = created.json()["hooks"]["id"]
    mail = {"from": "Sam <sam@example.com>", "to": ["support@acme.test"], "subject": "Help",
            "text": "Hello"}  # fmt: skip
    assert emu.post("/_emulator/inbound", json=mail).status_code == 200

    assert emulator.state.worker.run_once() == 1

    path = f"/v1/hooks/{hook_id}/deliveries"
    [delivery] = emu.get(path, headers=bearer(world.token)).json()["deliveries"]
    reason = delivery["last_error"]
    assert reason.startswith("'url' host 'ci-placeholder.invalid' does not resolve: ")
    # The resolver's own words follow (glibc: "[Errno -2] Name or service not known").
    assert len(reason) > len("'url' host 'ci-placeholder.invalid' does not resolve: ")
    assert (delivery["status"], delivery["attempt_count"]) == ("pending", 1)
    assert delivery["attempts"][0]["error"] == reason
    assert delivery["attempts"][0]["status_code"] is None
    [listed] = emu.get("/_emulator/deliveries").json()["deliveries"]
    assert (listed["id"], listed["url"], listed["last_error"]) == (
        delivery["id"],
        PLACEHOLDER,
        reason,
    )
    sign_in(emu, world.token)
    page = emu.get("/deliveries").text
    assert "ci-placeholder.invalid" in page
    assert "does not resolve" in page

    # Retried like any failed delivery: due again after the backoff, failing the same way.
    assert emulator.state.worker.run_once() == 0
    clock.advance(delivery["next_attempt_at"] - clock.now())
    assert emulator.state.worker.run_once() == 1
    [again] = emu.get(path, headers=bearer(world.token)).json()["deliveries"]
    assert (again["status"], again["attempt_count"]) == ("pending", 2)
    assert again["last_error"] == reason
    hook = emu.get(f"/v1/hooks/{hook_id}", headers=bearer(world.token)).json()["hooks"]
    assert (hook["enabled"], hook["consecutive_failures"]) == (True, 2)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://169.254.169.254/latest",
            f"'hooks.url' is a cloud metadata address (169.254.169.254); {ALLOW}",
        ),
        ("http://10.1.2.3/hook", f"'hooks.url' is a private address (10.1.2.3); {ALLOW}"),
        ("http://[fe80::1]/hook", f"'hooks.url' is a link-local address (fe80::1); {ALLOW}"),
        (
            "http://metadata.google.internal/",
            f"'hooks.url' host 'metadata.google.internal' is a local name; {ALLOW}",
        ),
        ("http://printer.local/", f"'hooks.url' host 'printer.local' is a local name; {ALLOW}"),
        ("ftp://ci-placeholder.invalid/", "'hooks.url' must be an http:// or https:// URL"),
    ],
)
def test_emulator_keeps_every_other_guard(
    emu: TestClient, world: World, session: Session, url: str, message: str
) -> None:
    response = subscribe(emu, world, url)

    assert (response.status_code, response.json()) == (400, {"error": {"message": message}})
    assert hooks_in(session) == 0


def test_emulator_still_allows_loopback(emu: TestClient, world: World) -> None:
    assert subscribe(emu, world, "http://127.0.0.1:9/hook").status_code == 201
