"""Builders for the hook-event tests: hooks as ORM rows, and the webhook bodies queued."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import (
    Conversation,
    Hook,
    Organization,
    OutboxItem,
    SharedLabel,
    Team,
    User,
    WebhookDelivery,
)
from missive_server.ids import new_id
from tests.conftest import bearer
from tests.factories import Factory

T0 = 1_700_000_000


@dataclass
class World:
    org: Organization
    alice: User
    bob: User
    token: str
    team: Team
    label: SharedLabel
    conversation: Conversation


def make_world(factory: Factory) -> World:
    """Alice (with access) and Bob in Acme, a team, a label and one conversation with a message."""
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    team = factory.team(org, "Support", active=[bob])
    label = factory.shared_label(org, "VIP")
    conversation = factory.conversation(org, users=[alice], at=T0)
    return World(org, alice, bob, factory.token(alice), team, label, conversation)


def make_hook(
    session: Session,
    user: User,
    type: str,
    *,
    org: Organization | None = None,
    description: str | None = None,
    **filters: Any,
) -> Hook:
    """A hook row (another helper owns ``POST /v1/hooks``); ``org=None`` is personal."""
    hook = Hook(
        id=new_id(),
        type=type,
        url="https://receiver.example.com/hook",
        secret="s3cret",
        description=description or f"{type} hook",
        organization_id=org.id if org else None,
        user_id=user.id,
        created_at=T0,
        **filters,
    )
    session.add(hook)
    session.commit()
    return hook


def webhooks(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    """``(hook_id, event, decoded body)`` of every queued webhook, oldest first; each has its
    delivery row with the same id."""
    session.expire_all()
    rows = session.scalars(
        select(OutboxItem).where(OutboxItem.kind == "webhook").order_by(OutboxItem.created_at)
    ).all()
    found = []
    for row in rows:
        delivery = session.get(WebhookDelivery, row.id)
        assert delivery is not None
        assert (delivery.hook_id, delivery.event) == (row.payload["hook_id"], row.payload["event"])
        assert row.raw is not None
        found.append((row.payload["hook_id"], row.payload["event"], orjson.loads(row.raw)))
    return found


def bodies_for(session: Session, hook: Hook) -> list[dict[str, Any]]:
    return [body for hook_id, _, body in webhooks(session) if hook_id == hook.id]


def new_bodies_for(
    session: Session, hook: Hook, seen: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The bodies queued for ``hook`` since ``seen`` was read: with a frozen clock several rows
    share ``created_at``, and PostgreSQL returns ties in no particular order, so "the second
    one" is not an index."""
    return [body for body in bodies_for(session, hook) if body not in seen]


def rest_conversation(client: TestClient, token: str, cid: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{cid}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    found: dict[str, Any] = response.json()["conversations"][0]
    return found


def rest_message(client: TestClient, token: str, cid: str, mid: str) -> dict[str, Any]:
    """The list form of ``GET /v1/conversations/:id/messages`` without ``draft``."""
    response = client.get(f"/v1/conversations/{cid}/messages", headers=bearer(token))
    assert response.status_code == 200, response.json()
    (found,) = [m for m in response.json()["messages"] if m["id"] == mid]
    del found["draft"]
    return dict(found)


def rule(hook: Hook, event: str | None = None) -> dict[str, Any]:
    return {"id": hook.id, "description": hook.description, "type": event or hook.type}
