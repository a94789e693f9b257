"""Every event type, caused through its real path, reaches a real receiver on loopback signed
both ways, with the §3.3 payload the event code queued (issue 5, "Done means")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Hook
from missive_server.db.models.hooks import EXTENSION_HOOK_TYPES, HOOK_TYPES
from missive_server.delivery.signing import verify, verify_standard
from missive_server.delivery.worker import Worker
from missive_server.services.inbound.inbound import receive_email
from missive_server.services.seed.seed import parse_document, seed
from tests.api.drafts_support import SMS_NUMBER, World, created, make_world
from tests.conftest import bearer
from tests.delivery.webhook_receiver import WebhookReceiver, receiver
from tests.delivery.webhook_support import SECRET, http_client, make_hook, make_worker, worker
from tests.factories import Factory
from tests.services import inbound_mail

__all__ = ["http_client", "make_worker", "receiver", "worker"]  # fixtures

#: The key of the event object each type carries besides ``rule`` and ``conversation``.
EVENT_OBJECT = {
    "incoming_email": "message",
    "incoming_sms_message": "message",
    "incoming_facebook_message": "message",
    "incoming_whatsapp_message": "message",
    "incoming_twilio_chat_message": "message",
    "new_comment": "comment",
    "outgoing_email": "message",
    "outgoing_sms_message": "message",
    "outgoing_whatsapp_message": "message",
    "outgoing_facebook_message": "message",
    "outgoing_twilio_chat_message": "message",
    "label_change": "latest_message",
    "conversation_closed": "latest_message",
    "conversation_reopened": "latest_message",
    "conversation_assignee_change": "latest_message",
    "team_change": "latest_message",
}


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def _patch(client: TestClient, world: World, **changes: Any) -> None:
    cid = world.conversation.id
    body = {"conversations": [{"id": cid, "organization": world.org.id, **changes}]}
    response = client.patch(f"/v1/conversations/{cid}", json=body, headers=bearer(world.token))
    assert response.status_code == 200, response.json()


def _inbound(session: Session, clock: FrozenClock) -> None:
    raw = inbound_mail.mail("Where is my parcel?", message_id="<e2e-1@example.com>")
    receive_email(session, raw, ["support@acme.test"], now=clock.now())
    session.commit()


def _seeded(account: str) -> Callable[[Session, FrozenClock], None]:
    def run(session: Session, clock: FrozenClock) -> None:
        document = {
            "organizations": [{"name": "Acme"}],
            "conversations": [
                {
                    "key": f"e2e-{account}",
                    "organization": "Acme",
                    "account": account,
                    "users": ["alice@acme.test"],
                    "messages": [
                        {
                            "from_field": {"name": "Kate", "phone_number": "+13306795612"},
                            "body": "Is the shop open?",
                            "delivered_at": clock.now(),
                        }
                    ],
                }
            ],
        }
        seed(session, parse_document(document), now=clock.now())
        session.commit()

    return run


def _label(client: TestClient, world: World, factory: Factory) -> None:
    label = factory.shared_label(world.org, "VIP")
    _patch(client, world, add_shared_labels=[label.id])


def _subtask(client: TestClient, world: World) -> None:
    response = client.post(
        "/v1/tasks",
        headers=bearer(world.token),
        json={
            "tasks": {
                "title": "Call back",
                "organization": world.org.id,
                "subtask": True,
                "conversation": world.conversation.id,
                "assignees": [world.bob.id],
            }
        },
    )
    assert response.status_code == 201, response.json()


def _send_through_channel(client: TestClient, world: World, event: str) -> None:
    phone = {"to_fields": [{"phone_number": "+13306795612"}]}
    drafts = {
        "outgoing_sms_message": {"from_field": {"phone_number": SMS_NUMBER}, **phone},
        "outgoing_whatsapp_message": {
            "from_field": {"phone_number": SMS_NUMBER, "type": "twilio_whatsapp"},
            **phone,
        },
        "outgoing_facebook_message": {
            "account": world.messenger.id,
            "to_fields": [{"id": "1736313053102918"}],
        },
        "outgoing_twilio_chat_message": {"account": world.live_chat.id, "to_fields": [{"id": "7"}]},
    }
    body = {"drafts": {"body": "We are open", "send": True, **drafts[event]}}
    response = client.post("/v1/drafts", json=body, headers=bearer(world.token))
    assert response.status_code == 201, response.json()


def _cause(
    event: str,
    *,
    client: TestClient,
    session: Session,
    world: World,
    factory: Factory,
    clock: FrozenClock,
) -> None:
    """Make ``event`` happen the way a user or an integration would."""
    seeded = {
        "incoming_sms_message": "Acme SMS",
        "incoming_whatsapp_message": "Acme WhatsApp",
        "incoming_facebook_message": "Acme Messenger",
        "incoming_twilio_chat_message": "Acme Chat",
    }
    if event == "incoming_email":
        _inbound(session, clock)
    elif event in seeded:
        _seeded(seeded[event])(session, clock)
    elif event == "new_comment":
        _subtask(client, world)
    elif event == "outgoing_email":
        created(client, world.token, send=True, organization=world.org.id)
    elif event.startswith("outgoing_"):
        _send_through_channel(client, world, event)
    elif event == "label_change":
        _label(client, world, factory)
    elif event == "conversation_closed":
        _patch(client, world, close=True)
    elif event == "conversation_reopened":
        _patch(client, world, close=True)
        clock.advance(1)
        _patch(client, world, reopen=True)
    elif event == "conversation_assignee_change":
        _patch(client, world, add_assignees=[world.alice.id])
    elif event == "team_change":
        _patch(client, world, team=world.team.id)
    else:  # pragma: no cover - a new type must get a cause here
        raise AssertionError(f"no way to cause {event}")


def test_every_event_type_is_covered() -> None:
    assert set(EVENT_OBJECT) == set(HOOK_TYPES) | set(EXTENSION_HOOK_TYPES)


@pytest.mark.parametrize("event", sorted(EVENT_OBJECT))
def test_each_event_reaches_the_receiver_signed_with_its_payload(
    event: str,
    client: TestClient,
    session: Session,
    world: World,
    factory: Factory,
    clock: FrozenClock,
    receiver: WebhookReceiver,
    worker: Worker,
) -> None:
    hook: Hook = make_hook(session, user=world.alice, org=world.org, url=receiver.url(), type=event)

    _cause(event, client=client, session=session, world=world, factory=factory, clock=clock)
    worker.run_once()

    assert receiver.requests, f"{event}: nothing was delivered"
    for request in receiver.requests:
        assert verify(SECRET, request.body, request.headers["x-hook-signature"])
        assert verify_standard(
            SECRET,
            msg_id=request.headers["webhook-id"],
            timestamp=int(request.headers["webhook-timestamp"]),
            body=request.body,
            signature=request.headers["webhook-signature"],
        )
        body = orjson.loads(request.body)
        assert body["rule"] == {"id": hook.id, "description": hook.description, "type": event}
        assert set(body) == {"rule", "conversation", EVENT_OBJECT[event]}
        assert body["conversation"]["id"]
        assert "body" not in body.get("message", {})
    assert len(set(receiver.ids())) == len(receiver.requests)
