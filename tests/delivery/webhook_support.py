"""Test data for webhook delivery: hooks made with the ORM (creating them through the API is
another part's) and deliveries queued with ``enqueue_delivery``, as event code queues them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from missive_server.app import build_worker
from missive_server.clock import FrozenClock
from missive_server.db.models import Hook, Organization, OutboxItem, User, WebhookDelivery
from missive_server.delivery.worker import Worker
from missive_server.ids import new_id
from missive_server.services.hooks.hook_deliveries import enqueue_delivery
from missive_server.services.outbox import RetryPolicy
from missive_server.settings import Settings
from tests.delivery.webhook_receiver import WebhookReceiver
from tests.factories import Factory

SECRET = "rule-s3cret-ÿ"
T0 = 1_700_000_000


def make_hook(
    session: Session,
    *,
    user: User,
    url: str,
    org: Organization | None = None,
    secret: str = SECRET,
    type: str = "incoming_email",
    **fields: Any,
) -> Hook:
    hook = Hook(
        id=new_id(),
        type=type,
        url=url,
        secret=secret,
        description="Forward to the CRM",
        organization_id=org.id if org else None,
        user_id=user.id,
        created_at=T0,
        **fields,
    )
    session.add(hook)
    session.commit()
    return hook


def payload(n: int = 0) -> dict[str, Any]:
    """A §3.3-shaped body; the content is not this part's, only its bytes are."""
    return {
        "rule": {"id": "r1", "description": "Forward to the CRM", "type": "incoming_email"},
        "conversation": {"id": f"c{n}", "subject": "Ünïcode ✓ \u2028 a/b"},
        "message": {"id": f"m{n}", "preview": "Hi"},
    }


def queue(
    session: Session, hook: Hook, *, n: int = 0, now: int = T0, policy: RetryPolicy | None = None
) -> WebhookDelivery:
    options = {"policy": policy} if policy else {}
    delivery = enqueue_delivery(
        session,
        hook=hook,
        event=hook.type,
        payload=payload(n),
        conversation_id=None,
        now=now,
        **options,
    )
    session.commit()
    return delivery


def outbox_row(session: Session, delivery_id: str) -> OutboxItem:
    session.expire_all()
    row = session.get(OutboxItem, delivery_id)
    assert row is not None
    return row


def fresh_hook(session: Session, hook_id: str) -> Hook:
    session.expire_all()
    hook = session.get(Hook, hook_id)
    assert hook is not None
    return hook


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15, follow_redirects=False) as client:
        yield client


#: The receivers of these tests listen on loopback, which webhooks may reach only when allowed.
LOOPBACK_ALLOWED = {"webhook_allow_private": ["127.0.0.1"]}

#: ``make_worker(**settings_changes)``: the worker exactly as ``serve`` and
#: ``missive-server worker`` build it, with the test's clock and these settings changed.
WorkerFactory = Callable[..., Worker]


@pytest.fixture
def make_worker(
    app: FastAPI, settings: Settings, clock: FrozenClock, http_client: httpx.Client
) -> WorkerFactory:
    def build(**changes: Any) -> Worker:
        changed = settings.model_copy(update={**LOOPBACK_ALLOWED, **changes})
        return build_worker(changed, app.state.session_factory, clock=clock, client=http_client)

    return build


@pytest.fixture
def worker(make_worker: WorkerFactory) -> Worker:
    return make_worker()


@pytest.fixture
def hook(session: Session, factory: Factory, receiver: WebhookReceiver) -> Hook:
    """An organization hook of an admin, posting to the receiver."""
    org = factory.organization()
    alice, _ = factory.member(org, "admin")
    return make_hook(session, user=alice, org=org, url=receiver.url())


def worker_for(
    app: FastAPI, settings: Settings, clock: FrozenClock, client: httpx.Client
) -> Worker:
    """The worker of another app (a restarted server, a second worker)."""
    allowed = settings.model_copy(update=LOOPBACK_ALLOWED)
    return build_worker(allowed, app.state.session_factory, clock=clock, client=client)
