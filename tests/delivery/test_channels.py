"""Channel messages end to end: an outbox ``channel`` row, the worker, and a real HTTP receiver
on loopback for custom channels (spec 3.2 signature, 3.4 payload); SMS and the other provider
channels are recorded as delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import (
    Account,
    AccountUser,
    Conversation,
    Message,
    Organization,
    OutboxItem,
    User,
)
from missive_server.delivery.channels import build_channel_handler
from missive_server.delivery.handlers import build_handlers
from missive_server.delivery.signing import sign, verify
from missive_server.delivery.worker import Worker
from missive_server.ids import new_id
from missive_server.services import outbox
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.messages import (
    MessageInput,
    add_message,
    attachments_by_message,
)
from missive_server.services.outbox import RetryPolicy
from missive_server.settings import Settings
from tests.conftest import bearer
from tests.factories import Factory
from tests.serve_support import free_port

T0 = 1_700_000_000
SECRET = "chan-s3cret-ÿ"
POLICY = RetryPolicy(max_attempts=3, backoff_seconds=30)
CUSTOM_SENDER = {"id": None, "name": "My custom account", "username": "My custom account"}
CONTACT = {"id": "12345", "name": "Philippe Lehoux", "username": "@plehoux"}
BODY = "Hi Phil, Ünïcode ✓ — see https://example.com/a/b"


# A real HTTP receiver on loopback.


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request; ``answers`` scripts the status codes (then 200). ``"hang"``
    holds the answer until the test ends (a receiver slower than the timeout)."""

    answers: list[int | str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, path: str = "/hook?token=abc") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.seen.append(Seen(request.command, request.path, headers, request.rfile.read(length)))
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "hang":
            self.release.wait(10)
            answer = 200
        assert isinstance(answer, int)
        request.send_response(answer)
        if 300 <= answer < 400:
            request.send_header("Location", self.url("/target"))
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout test) breaks the pipe; nothing to report."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorder = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            recorder.answer(self)

        do_GET = do_POST  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15) as client:
        yield client


@pytest.fixture
def worker(
    app: FastAPI, settings: Settings, clock: FrozenClock, http_client: httpx.Client
) -> Worker:
    return Worker(
        app.state.session_factory,
        clock=clock,
        handlers=build_handlers(settings, http_client=http_client),
        policy=POLICY,
    )


# The data: a conversation with a contact's message, and our reply queued for delivery.


@dataclass
class World:
    org: Organization
    alice: User
    token: str
    account: Account
    conversation: Conversation


def make_world(
    factory: Factory,
    session: Session,
    *,
    kind: str = "custom",
    webhook_url: str | None = None,
    secret: str | None = SECRET,
) -> World:
    org = factory.organization("Acme")
    alice, token = factory.member(org, email="alice@acme.test")
    account = Account(
        id=new_id(),
        type=kind,
        name="My custom account",
        organization_id=org.id,
        message_type="custom_text" if kind == "custom" else None,
        phone_number="+18336856203" if kind in ("sms", "whatsapp") else None,
        provider={"sms": "twilio", "whatsapp": "twilio_whatsapp"}.get(kind),
        webhook_url=webhook_url,
        secret=secret,
        created_at=T0 - 7200,
    )
    session.add(account)
    session.flush()
    session.add(AccountUser(account_id=account.id, user_id=alice.id))
    session.commit()
    incoming = MessageInput(
        type="custom_text",
        body="Hello? Anyone there?",
        from_field=CONTACT,
        to_fields=[CUSTOM_SENDER],
        account_id=account.id,
        delivered_at=T0 - 3600,
    )
    conversation = factory.conversation(org, users=[alice], at=T0 - 3600, messages=[incoming])
    return World(org, alice, token, account, conversation)


def reply(world: World, **changes: Any) -> MessageInput:
    data = MessageInput(
        type="custom_text",
        body=BODY,
        from_field=CUSTOM_SENDER,
        to_fields=[CONTACT],
        references=["thread-42"],
        account_id=world.account.id,
        author_id=world.alice.id,
        attachments=[NewAttachment("notes.txt", b"hello")],
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def queue(session: Session, world: World, data: MessageInput) -> tuple[Message, OutboxItem]:
    """What the sending service does: the message, then a ``channel`` row in the same commit."""
    message = add_message(session, world.conversation, data, now=T0)
    message.delivery_status = "queued"
    item = outbox.enqueue(
        session,
        kind="channel",
        now=T0,
        policy=POLICY,
        message_id=message.id,
        conversation_id=world.conversation.id,
        payload={"channel": world.account.type, "account_id": world.account.id},
    )
    session.commit()
    return message, item


def fresh(session: Session, row: Any) -> Any:
    session.expire_all()
    return session.get(type(row), row.id)


def delivery(client: TestClient, world: World, message: Message) -> tuple[str, str | None]:
    """The message's delivery as clients see it (extension fields of ``GET /v1/messages``)."""
    response = client.get(f"/v1/messages/{message.id}", headers=bearer(world.token))
    assert response.status_code == 200, response.json()
    wire = response.json()["messages"]
    return wire["delivery_status"], wire["delivery_error"]


def expected_message(session: Session, world: World, message: Message) -> dict[str, Any]:
    [attachment] = attachments_by_message(session, [message.id])[message.id]
    return {
        "id": message.id,
        "preview": BODY,
        "type": "custom_text",
        "delivered_at": T0,
        "updated_at": T0,
        "created_at": T0,
        "references": ["thread-42"],
        "body": BODY,
        "from_field": CUSTOM_SENDER,
        "to_fields": [CONTACT],
        "external_id": None,
        "attachments": [
            {
                "id": attachment.id,
                "filename": "notes.txt",
                "extension": "txt",
                "url": f"http://testserver/_files/{attachment.id}/"
                f"{attachment.download_token}/notes.txt",
                "media_type": "text",
                "sub_type": "plain",
                "size": 5,
            }
        ],
        "author": {
            "id": world.alice.id,
            "name": "Alice",
            "email": "alice@acme.test",
            "avatar_url": None,
        },
    }


CONVERSATION_KEYS = {
    *("id", "created_at", "subject", "latest_message_subject", "organization", "color"),
    *("assignees", "users", "attachments_count", "messages_count", "authors", "drafts_count"),
    *("send_later_messages_count", "tasks_count", "completed_tasks_count", "web_url"),
    *("app_url", "assignee_names", "assignee_emails", "shared_label_names"),
    *("last_activity_at", "team", "shared_labels"),
}


# Custom channels (spec 3.4).


def test_custom_channel_message_is_posted_signed(
    worker: Worker,
    receiver: Receiver,
    client: TestClient,
    session: Session,
    factory: Factory,
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    message, item = queue(session, world, reply(world))

    assert worker.run_once() == 1

    [seen] = receiver.seen
    assert (seen.method, seen.path) == ("POST", "/hook?token=abc")
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["content-length"] == str(len(seen.body))
    expected_signature = hmac.new(SECRET.encode(), seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["x-hook-signature"] == f"sha256={expected_signature}"
    # Compact, non-ASCII unescaped, no "\/" (spec 3.2): what a JSON.stringify re-check yields.
    payload = json.loads(seen.body)
    assert json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() == seen.body
    assert set(payload) == {"message", "conversation"}
    assert payload["message"] == expected_message(session, world, message)
    # The conversation is the REST API's rendering, as the author sees it.
    assert set(payload["conversation"]) == CONVERSATION_KEYS
    rest = client.get(f"/v1/conversations/{world.conversation.id}", headers=bearer(world.token))
    assert payload["conversation"] == rest.json()["conversations"][0]
    assert payload["conversation"]["id"] == world.conversation.id
    assert payload["conversation"]["messages_count"] == 2
    assert payload["conversation"]["organization"] == {"id": world.org.id, "name": "Acme"}
    assert [u["id"] for u in payload["conversation"]["users"]] == [world.alice.id]

    sent = fresh(session, item)
    assert (sent.status, sent.attempts, sent.captured, sent.last_error) == ("sent", 1, False, None)
    assert (sent.sent_at, sent.raw) == (T0, seen.body)
    assert delivery(client, world, message) == ("sent", None)


def test_server_error_is_retried_after_backoff(
    worker: Worker,
    receiver: Receiver,
    client: TestClient,
    session: Session,
    factory: Factory,
    clock: FrozenClock,
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    message, item = queue(session, world, reply(world))
    receiver.answers = [500]
    error = f"http://127.0.0.1:{receiver.port}/hook answered 500 Internal Server Error"

    assert worker.run_once() == 1
    pending = fresh(session, item)
    assert (pending.status, pending.attempts, pending.last_error) == ("pending", 1, error)
    assert pending.next_attempt_at == T0 + 30
    assert delivery(client, world, message) == ("queued", error)

    clock.advance(29)
    assert worker.run_once() == 0
    clock.advance(1)
    assert worker.run_once() == 1

    first, second = receiver.seen
    assert second.body == first.body
    assert verify(SECRET, second.body, second.headers["x-hook-signature"])
    sent = fresh(session, item)
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 2, T0 + 30)
    assert delivery(client, world, message) == ("sent", None)


@pytest.mark.parametrize("status", [408, 429, 503])
def test_transient_answers_are_retried(
    worker: Worker, receiver: Receiver, session: Session, factory: Factory, status: int
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    _, item = queue(session, world, reply(world))
    receiver.answers = [status]

    assert worker.run_once() == 1

    pending = fresh(session, item)
    assert (pending.status, pending.next_attempt_at) == ("pending", T0 + 30)
    assert pending.last_error.startswith(f"http://127.0.0.1:{receiver.port}/hook answered {status}")


@pytest.mark.parametrize(("status", "reason"), [(400, "Bad Request"), (404, "Not Found")])
def test_client_errors_fail_at_once(
    worker: Worker,
    receiver: Receiver,
    client: TestClient,
    session: Session,
    factory: Factory,
    status: int,
    reason: str,
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    message, item = queue(session, world, reply(world))
    receiver.answers = [status]

    assert worker.run_once() == 1

    error = f"http://127.0.0.1:{receiver.port}/hook answered {status} {reason}"
    failed = fresh(session, item)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, error)
    assert delivery(client, world, message) == ("failed", error)


def test_unreachable_receiver_fails_visibly_after_the_last_attempt(
    worker: Worker, client: TestClient, session: Session, factory: Factory, clock: FrozenClock
) -> None:
    world = make_world(factory, session, webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    message, item = queue(session, world, reply(world))

    assert worker.run_once() == 1
    assert fresh(session, item).status == "pending"
    clock.advance(30)
    assert worker.run_once() == 1
    assert fresh(session, item).next_attempt_at == T0 + 30 + 60
    clock.advance(60)
    assert worker.run_once() == 1
    clock.advance(3600)
    assert worker.run_once() == 0

    failed = fresh(session, item)
    assert (failed.status, failed.attempts, failed.sent_at) == ("failed", 3, None)
    assert "ConnectError" in failed.last_error
    status, error = delivery(client, world, message)
    assert (status, error) == ("failed", failed.last_error)


def test_redirects_are_not_followed(
    worker: Worker, receiver: Receiver, session: Session, factory: Factory, clock: FrozenClock
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    _, item = queue(session, world, reply(world))
    receiver.answers = [302, 302, 302]

    for _ in range(3):
        assert worker.run_once() == 1
        clock.advance(3600)

    assert [(s.method, s.path) for s in receiver.seen] == [("POST", "/hook?token=abc")] * 3
    failed = fresh(session, item)
    assert failed.status == "failed"
    assert failed.last_error == (
        f"http://127.0.0.1:{receiver.port}/hook answered 302 Found (redirects are not followed)"
    )


def test_a_receiver_slower_than_the_timeout_is_retried(
    app: FastAPI,
    clock: FrozenClock,
    receiver: Receiver,
    http_client: httpx.Client,
    session: Session,
    factory: Factory,
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    _, item = queue(session, world, reply(world))
    receiver.answers = ["hang"]
    handler = build_channel_handler(http_client, public_url="http://testserver", timeout=0.2)
    quick = Worker(
        app.state.session_factory, clock=clock, handlers={"channel": handler}, policy=POLICY
    )

    assert quick.run_once() == 1

    pending = fresh(session, item)
    assert pending.status == "pending"
    assert pending.last_error == f"http://127.0.0.1:{receiver.port}/hook: ReadTimeout: timed out"


def test_custom_channel_without_webhook_url_fails_at_once(
    worker: Worker, client: TestClient, session: Session, factory: Factory
) -> None:
    world = make_world(factory, session, webhook_url=None)
    message, item = queue(session, world, reply(world))

    assert worker.run_once() == 1

    failed = fresh(session, item)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error == "channel has no webhook URL"
    assert delivery(client, world, message) == ("failed", "channel has no webhook URL")


def test_custom_channel_without_secret_posts_unsigned(
    worker: Worker, receiver: Receiver, session: Session, factory: Factory
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url(), secret=None)
    queue(session, world, reply(world))

    assert worker.run_once() == 1

    [seen] = receiver.seen
    assert "x-hook-signature" not in seen.headers


def test_the_secret_is_never_logged(
    worker: Worker,
    receiver: Receiver,
    session: Session,
    factory: Factory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    _, ok = queue(session, world, reply(world))
    _, refused = queue(session, world, reply(world))
    receiver.answers = [200, 400]

    with caplog.at_level("DEBUG"):
        assert worker.run_once() == 2

    assert {fresh(session, ok).status, fresh(session, refused).status} == {"sent", "failed"}
    assert caplog.records
    assert SECRET not in caplog.text
    assert sign(SECRET, b"").removeprefix("sha256=") not in caplog.text


def test_a_deleted_message_fails_at_once(
    worker: Worker, session: Session, factory: Factory, receiver: Receiver
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    item = outbox.enqueue(
        session, kind="channel", now=T0, policy=POLICY, payload={"channel": "custom"}
    )
    session.commit()

    assert worker.run_once() == 1

    failed = fresh(session, item)
    assert (failed.status, failed.last_error) == (
        "failed",
        "the message of this delivery no longer exists",
    )
    assert receiver.seen == []
    assert world.account.webhook_url


# Provider channels: recorded as delivered, nothing leaves the machine.


@pytest.mark.parametrize("kind", ["sms", "whatsapp", "messenger", "instagram", "live_chat"])
def test_provider_channels_are_recorded_as_delivered(
    worker: Worker,
    client: TestClient,
    session: Session,
    factory: Factory,
    receiver: Receiver,
    kind: str,
) -> None:
    # A webhook URL on the account must not matter: only custom channels POST.
    world = make_world(factory, session, kind=kind, webhook_url=receiver.url())
    phone = {"name": "Paul", "phone_number": "+15550001111"}
    data = reply(world, type=kind, to_fields=[phone], attachments=[], references=[])
    message, item = queue(session, world, data)

    assert worker.run_once() == 1

    sent = fresh(session, item)
    assert (sent.status, sent.attempts, sent.captured, sent.sent_at) == ("sent", 1, True, T0)
    assert orjson.loads(sent.raw) == {
        "channel": kind,
        "account": {
            "id": world.account.id,
            "name": "My custom account",
            "phone_number": world.account.phone_number,
            "provider": world.account.provider,
        },
        "message": {
            "id": message.id,
            "preview": BODY,
            "type": kind,
            "delivered_at": T0,
            "updated_at": T0,
            "created_at": T0,
            # SMS and WhatsApp messages carry their phone-number pair (spec 1A).
            "references": [f"+15550001111{world.account.phone_number}"]
            if kind in ("sms", "whatsapp")
            else [],
            "body": BODY,
            "from_field": CUSTOM_SENDER,
            "to_fields": [phone],
            "external_id": None,
            "attachments": [],
            "author": {
                "id": world.alice.id,
                "name": "Alice",
                "email": "alice@acme.test",
                "avatar_url": None,
            },
        },
    }
    assert receiver.seen == []
    assert delivery(client, world, message) == ("sent", None)


def test_signature_helper_matches_spec_example() -> None:
    body = b'{"message":{"id":"a"}}'
    expected = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert sign("secret", body) == expected
    assert verify("secret", body, expected)
    assert verify("secret", body, expected.removeprefix("sha256=").upper())
    assert not verify("other", body, expected)
    assert not verify("secret", body + b" ", expected)


# End to end: a draft sent from a custom channel through the API (spec 2.6.1 -> 3.4).


def test_draft_sent_from_a_custom_channel_reaches_the_receiver(
    worker: Worker,
    receiver: Receiver,
    client: TestClient,
    session: Session,
    factory: Factory,
) -> None:
    world = make_world(factory, session, webhook_url=receiver.url())
    response = client.post(
        "/v1/drafts",
        headers=bearer(world.token),
        json={
            "drafts": {
                "conversation": world.conversation.id,
                "account": world.account.id,
                "body": BODY,
                "to_fields": [CONTACT],
                "send": True,
            }
        },
    )
    assert response.status_code == 201, response.json()
    message_id = response.json()["drafts"]["id"]

    assert worker.run_once() == 1

    [seen] = receiver.seen
    assert verify(SECRET, seen.body, seen.headers["x-hook-signature"])
    payload = json.loads(seen.body)
    assert payload["message"] == {
        "id": message_id,
        "preview": BODY,
        "type": "custom_text",
        "delivered_at": T0,
        "updated_at": T0,
        "created_at": T0,
        "references": [],
        "body": BODY,
        "from_field": CUSTOM_SENDER,
        "to_fields": [CONTACT],
        "external_id": None,
        "attachments": [],
        "author": {
            "id": world.alice.id,
            "name": "Alice",
            "email": "alice@acme.test",
            "avatar_url": None,
        },
    }
    rest = client.get(f"/v1/conversations/{world.conversation.id}", headers=bearer(world.token))
    assert payload["conversation"] == rest.json()["conversations"][0]
    assert payload["conversation"]["messages_count"] == 2
    message = client.get(f"/v1/messages/{message_id}", headers=bearer(world.token))
    assert message.json()["messages"]["delivery_status"] == "sent"
