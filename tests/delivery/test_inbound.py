"""The inbound SMTP listener over real sockets: smtplib -> aiosmtpd on loopback -> API."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from dirty_equals import IsStr
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.engine import make_engine
from missive_server.db.models import (
    Account,
    Conversation,
    Message,
    Organization,
    OutboxItem,
    Team,
    User,
)
from missive_server.delivery.inbound import InboundServer, parse_listen
from missive_server.services import outbox
from missive_server.services.outbox import RetryPolicy
from missive_server.services.seed.demo import DEMO_OWNER_TOKEN
from missive_server.services.sessions import session_factory
from tests.conftest import ServeFixture, bearer
from tests.factories import EntryFactory, Factory
from tests.serve_support import command, free_port
from tests.services.inbound_mail import PNG, email_account, mail

T0 = 1_700_000_000
MAX_BYTES = 64 * 1024


@dataclass
class World:
    org: Organization
    alice: User
    team: Team
    support: Account
    token: str


@pytest.fixture
def world(factory: Factory, session: Session) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", name="Alice Smith", organizations={org: "user"})
    team = factory.team(org, "Support", active=[alice])
    support = email_account(session, "support@acme.test", org=org, team=team)
    return World(org, alice, team, support, factory.token(alice))


@pytest.fixture
def listener(app: Any, clock: FrozenClock) -> Iterator[InboundServer]:
    server = InboundServer(
        app.state.session_factory, clock, "127.0.0.1", free_port(), max_message_bytes=MAX_BYTES
    )
    with server:
        yield server


def smtp(listener: InboundServer) -> smtplib.SMTP:
    return smtplib.SMTP(listener.host, listener.port, local_hostname="client.test", timeout=10)


def send(
    listener: InboundServer,
    raw: bytes,
    recipients: list[str],
    sender: str = "sam@example.com",
) -> tuple[int, bytes]:
    """MAIL, RCPT, DATA by hand (no SIZE parameter), returning the reply to DATA."""
    with smtp(listener) as client:
        client.ehlo()
        assert client.mail(sender)[0] == 250
        for recipient in recipients:
            assert client.rcpt(recipient)[0] == 250
        code, reply = client.data(raw)
        return code, reply


def get(client: TestClient, token: str, path: str) -> Any:
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


@contextmanager
def fresh_session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def stored_message(database_url: str, email_message_id: str) -> Message | None:
    """Read through a new engine: only committed rows are visible."""
    with fresh_session(database_url) as session:
        return session.scalar(select(Message).where(Message.email_message_id == email_message_id))


def test_new_mail_becomes_a_conversation_in_the_team_inbox(
    client: TestClient, world: World, listener: InboundServer, database_url: str
) -> None:
    raw = mail(date=T0 - 60, to="Acme Support <support@acme.test>")

    assert send(listener, raw, ["support@acme.test"]) == (250, b"OK")

    [listed] = get(client, world.token, f"/v1/conversations?team_inbox={world.team.id}")[
        "conversations"
    ]
    [message] = get(client, world.token, f"/v1/conversations/{listed['id']}/messages")["messages"]
    body = get(client, world.token, f"/v1/messages/{message['id']}")
    assert body == {
        "messages": {
            "id": message["id"],
            "subject": "Help",
            "preview": "Hello there",
            "type": "email",
            "delivered_at": T0 - 60,
            "updated_at": T0,
            "created_at": T0,
            "email_message_id": "<first@example.com>",
            "in_reply_to": [],
            "references": [],
            "from_field": {"name": "Sam", "address": "sam@example.com"},
            "to_fields": [{"name": "Acme Support", "address": "support@acme.test"}],
            "cc_fields": [],
            "bcc_fields": [],
            "reply_to_fields": [],
            "attachments": [],
            "body": "<div>Hello there</div>",
            "conversation": {
                "id": listed["id"],
                "created_at": T0,
                "subject": None,
                "latest_message_subject": "Help",
                "organization": {"id": world.org.id, "name": "Acme"},
                "color": None,
                "assignees": [],
                "users": [
                    {
                        "id": world.alice.id,
                        "name": "Alice Smith",
                        "email": "alice@acme.test",
                        "unassigned": False,
                        "closed": False,
                        "archived": False,
                        "trashed": False,
                        "junked": False,
                        "assigned": False,
                        "flagged": False,
                        "snoozed": False,
                    }
                ],
                "attachments_count": 0,
                "messages_count": 1,
                "authors": [{"name": "Sam", "address": "sam@example.com"}],
                "drafts_count": 0,
                "send_later_messages_count": 0,
                "tasks_count": 0,
                "completed_tasks_count": 0,
                "web_url": f"http://testserver/#inbox/conversations/{listed['id']}",
                "app_url": f"missive://testserver/#inbox/conversations/{listed['id']}",
                "assignee_names": "",
                "assignee_emails": "",
                "shared_label_names": "",
                "last_activity_at": T0,
                "team": {"id": world.team.id, "name": "Support", "organization": world.org.id},
                "shared_labels": [],
            },
        }
    }
    # Team members see it in the team inbox and All, not in their own Inbox.
    assert get(client, world.token, "/v1/conversations?inbox=true")["conversations"] == []


def test_accepted_mail_is_committed_before_250(
    world: World, listener: InboundServer, database_url: str
) -> None:
    code, _ = send(listener, mail(message_id="<durable@example.com>"), ["support@acme.test"])

    assert code == 250
    stored = stored_message(database_url, "<durable@example.com>")
    assert stored is not None
    assert stored.subject == "Help"


def test_a_reply_lands_in_the_same_conversation(
    client: TestClient,
    world: World,
    listener: InboundServer,
    clock: FrozenClock,
    database_url: str,
) -> None:
    send(listener, mail(), ["support@acme.test"])
    clock.advance(300)
    reply = mail(
        "Re: Help",
        sender="Sam <sam@example.com>",
        text="Thanks!",
        message_id="<reply@example.com>",
        in_reply_to="<first@example.com>",
        references="<first@example.com>",
    )

    with smtp(listener) as client_smtp:
        refused = client_smtp.sendmail("sam@example.com", ["support@acme.test"], reply)
    assert refused == {}

    [listed] = get(client, world.token, f"/v1/conversations?team_inbox={world.team.id}")[
        "conversations"
    ]
    assert listed["messages_count"] == 2
    assert listed["last_activity_at"] == T0 + 300
    messages = get(client, world.token, f"/v1/conversations/{listed['id']}/messages")["messages"]
    assert [(m["subject"], m["in_reply_to"], m["references"]) for m in messages] == [
        ("Re: Help", ["<first@example.com>"], ["<first@example.com>"]),
        ("Help", [], []),
    ]
    found = get(client, world.token, "/v1/messages?email_message_id=reply@example.com")
    assert [m["conversation"]["id"] for m in found["messages"]] == [listed["id"]]


def test_unknown_recipients_are_refused_with_550(
    world: World, listener: InboundServer, database_url: str
) -> None:
    with smtp(listener) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("sam@example.com", ["nobody@acme.test"], mail())

    assert refused.value.recipients == {"nobody@acme.test": (550, b"5.1.1 No such mailbox here")}
    assert stored_message(database_url, "<first@example.com>") is None


def test_known_recipients_still_receive_when_others_are_refused(
    world: World, listener: InboundServer, database_url: str
) -> None:
    with smtp(listener) as client:
        refused = client.sendmail(
            "sam@example.com", ["nobody@acme.test", "SUPPORT@acme.test"], mail()
        )

    assert refused == {"nobody@acme.test": (550, b"5.1.1 No such mailbox here")}
    assert stored_message(database_url, "<first@example.com>") is not None


def test_attachments_and_inline_images(
    client: TestClient, world: World, listener: InboundServer
) -> None:
    message = EmailMessage()
    message["Subject"] = "Screenshot"
    message["From"] = "sam@example.com"
    message["To"] = "support@acme.test"
    message["Message-ID"] = "<shot@example.com>"
    message.set_content("see attached")
    message.add_alternative('<div>Look: <img src="cid:shot@example.com" alt="shot"></div>', "html")
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<shot@example.com>")
    message.add_attachment(b"%PDF-1.4 fake", "application", "pdf", filename="invoice.pdf")

    assert send(listener, message.as_bytes(policy=policy.SMTP), ["support@acme.test"])[0] == 250

    found = get(client, world.token, "/v1/messages?email_message_id=shot@example.com")
    [wire] = found["messages"]
    files = {a["filename"]: a for a in wire["attachments"]}
    assert files == {
        "inline-image.png": {
            "id": IsStr(),
            "filename": "inline-image.png",
            "extension": "png",
            "url": IsStr(regex=r"http://testserver/_files/[0-9a-f-]{36}/[^/]+/inline-image\.png"),
            "media_type": "image",
            "sub_type": "png",
            "size": len(PNG),
            "width": 40,
            "height": 30,
        },
        "invoice.pdf": {
            "id": IsStr(),
            "filename": "invoice.pdf",
            "extension": "pdf",
            "url": IsStr(regex=r"http://testserver/_files/[0-9a-f-]{36}/[^/]+/invoice\.pdf"),
            "media_type": "application",
            "sub_type": "pdf",
            "size": len(b"%PDF-1.4 fake"),
        },
    }
    image_id = files["inline-image.png"]["id"]
    assert wire["body"] == (
        f'<div>Look: <img data-missive-attachment-id="{image_id}" alt="shot"></div>\n'
    )
    assert "cid:" not in wire["body"]
    assert wire["conversation"]["attachments_count"] == 2
    download = client.get(files["invoice.pdf"]["url"].removeprefix("http://testserver"))
    assert download.status_code == 200
    assert download.content == b"%PDF-1.4 fake"


def test_malformed_mime_is_stored_and_the_listener_keeps_working(
    world: World, listener: InboundServer, database_url: str
) -> None:
    raw = (
        b"Subject: broken \xff\r\nMessage-ID: <broken@example.com>\r\nFrom: @@@\r\n"
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/html; charset=bogus\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\nPGI+aGk8L2I+!!!\r\n--zz\r\nContent-Type: image/png\r\n"
    )

    assert send(listener, raw, ["support@acme.test"], sender="bounce@example.com")[0] == 250
    assert send(listener, mail(), ["support@acme.test"])[0] == 250

    broken = stored_message(database_url, "<broken@example.com>")
    assert broken is not None
    assert (broken.subject, broken.body) == ("broken \ufffd", "<b>hi</b>")
    assert broken.from_field == {"name": None, "address": "bounce@example.com"}
    assert stored_message(database_url, "<first@example.com>") is not None


def test_oversized_mail_gets_552(world: World, listener: InboundServer, database_url: str) -> None:
    big = mail(text="x" * 70 + ("\n" + "y" * 70) * (MAX_BYTES // 70 + 10))

    # smtplib announces the size (ESMTP SIZE): refused at MAIL FROM.
    with smtp(listener) as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        client.sendmail("sam@example.com", ["support@acme.test"], big)
    assert refused.value.smtp_code == 552
    # A client that does not announce it is refused after DATA.
    with smtp(listener) as client:
        client.ehlo()
        client.mail("sam@example.com")
        client.rcpt("support@acme.test")
        assert client.data(big) == (552, b"Error: Too much mail data")
    assert stored_message(database_url, "<first@example.com>") is None
    assert send(listener, mail(), ["support@acme.test"])[0] == 250


def test_a_database_failure_answers_451_and_writes_nothing(
    world: World, listener: InboundServer, engine: Engine, database_url: str
) -> None:
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE messages RENAME TO messages_away"))
    try:
        code, reply = send(listener, mail(), ["support@acme.test"])
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE messages_away RENAME TO messages"))

    assert (code, reply) == (451, b"4.3.0 Temporary failure, try again")
    with fresh_session(database_url) as session:
        assert session.scalars(select(Conversation)).all() == []
    # The sender retries: the listener still works and the mail arrives once.
    assert send(listener, mail(), ["support@acme.test"])[0] == 250
    assert stored_message(database_url, "<first@example.com>") is not None


def test_a_reply_discards_the_auto_followup(
    client: TestClient,
    world: World,
    listener: InboundServer,
    session: Session,
    clock: FrozenClock,
) -> None:
    send(listener, mail(), ["support@acme.test"])
    conversation = session.scalars(select(Conversation)).one()
    draft = EntryFactory(session, clock).draft(conversation, world.alice, send_at=T0 + 86400)
    draft.auto_followup = True
    outbox.enqueue(
        session,
        kind="send_draft",
        now=T0,
        policy=RetryPolicy(),
        due_at=T0 + 86400,
        message_id=draft.id,
        conversation_id=conversation.id,
    )
    session.commit()
    drafts_path = f"/v1/conversations/{conversation.id}/drafts"
    assert [d["id"] for d in get(client, world.token, drafts_path)["drafts"]] == [draft.id]

    reply = mail("Re: Help", message_id="<reply@example.com>", in_reply_to="<first@example.com>")
    assert send(listener, reply, ["support@acme.test"])[0] == 250

    assert get(client, world.token, drafts_path)["drafts"] == []
    session.expire_all()
    assert session.scalars(select(OutboxItem.status)).all() == ["cancelled"]
    conversation_wire = get(client, world.token, f"/v1/conversations/{conversation.id}")
    assert conversation_wire["conversations"][0]["send_later_messages_count"] == 0


def test_stop_frees_the_port(app: Any, clock: FrozenClock) -> None:
    port = free_port()
    server = InboundServer(app.state.session_factory, clock, "127.0.0.1", port)
    server.start()
    server.stop()
    with socket.create_server(("127.0.0.1", port)):
        pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:2525", ("127.0.0.1", 2525)), ("[::1]:25", ("::1", 25))],
)
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["2525", "host:", ":25", "host:99999", "host:port"])
def test_parse_listen_rejects(value: str) -> None:
    with pytest.raises(ValueError, match=r"expected host:port"):
        parse_listen(value)


@pytest.mark.slow(8)
def test_serve_with_smtp_listen_receives_mail_for_the_demo(
    tmp_path: Path, serve: ServeFixture
) -> None:
    """The README's flow: ``demo``, ``serve --smtp-listen``, smtplib, then the API."""
    database_url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "MISSIVE_DATABASE_URL": database_url}
    subprocess.run([*command(), "demo"], env=env, check=True, capture_output=True)
    smtp_port = free_port()
    served = serve("--smtp-listen", f"127.0.0.1:{smtp_port}", database_url=database_url)

    raw = mail("Rocket skates broke", sender="wile@coyote.test", message_id="<rs@coyote.test>")
    with smtplib.SMTP("127.0.0.1", smtp_port, local_hostname="client.test") as client:
        assert client.sendmail("wile@coyote.test", ["support@acme.test"], raw) == {}
    found = httpx.get(
        f"{served.base}/v1/messages?email_message_id=rs@coyote.test",
        headers=bearer(DEMO_OWNER_TOKEN),
    )
    assert [m["subject"] for m in found.json()["messages"]] == ["Rocket skates broke"]


@pytest.mark.slow(3)
def test_serve_refuses_a_malformed_smtp_listen(tmp_path: Path) -> None:
    env = {**os.environ, "MISSIVE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    done = subprocess.run(
        [*command(), "serve", "--smtp-listen", "nonsense"], env=env, capture_output=True, text=True
    )

    assert done.returncode == 1
    assert "Error: --smtp-listen: expected host:port, got 'nonsense'" in done.stderr
