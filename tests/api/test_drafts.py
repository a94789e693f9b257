"""POST /v1/drafts and DELETE /v1/drafts/:id (spec 2.6): drafts of every channel, sending now,
threading, quoting, attachments, conversation actions (spec 1B) and deleting."""

from __future__ import annotations

from typing import Any

import pytest
from dirty_equals import IsStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Attachment, Message, OutboxItem
from missive_server.schemas.drafts import DraftCreatedEnvelope
from missive_server.services.conversations.conversation_state import grant_access
from missive_server.settings import Settings
from tests.api.drafts_support import (
    FIRST_ID,
    PDF,
    PNG,
    ROOT_ID,
    SMS_NUMBER,
    T0,
    World,
    b64,
    created,
    email_draft,
    error,
    get_conversation,
    get_message,
    make_world,
    outbox_rows,
    post_draft,
    user_ref,
)
from tests.conftest import bearer
from tests.delivery.mail_support import Relay, app_with, parse, running
from tests.factories import Factory

UUID = IsStr(regex=r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
OUR_MESSAGE_ID = IsStr(regex=r"<[0-9a-f-]{36}@acme\.test>")


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def drafts_of(client: TestClient, token: str, cid: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/conversations/{cid}/drafts", headers=bearer(token))
    assert response.status_code == 200, response.json()
    found: list[dict[str, Any]] = response.json()["drafts"]
    return found


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- creating ---------------------------------------------------------------------------------


def test_an_email_draft_in_a_new_conversation(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    body = {"drafts": email_draft(cc_fields=[{"address": "carol@example.com"}])}

    response = post_draft(client, world.token, body)

    assert response.status_code == 201
    wire = response.json()
    draft = {
        "id": UUID,
        "subject": "Hello",
        "draft": True,
        "preview": "World!",
        "type": "email",
        "delivered_at": None,
        "updated_at": T0,
        "created_at": T0,
        "from_field": {"name": "Acme Support", "address": "support@acme.test"},
        "to_fields": [{"name": "Paul", "address": "paul@example.com"}],
        "cc_fields": [{"name": None, "address": "carol@example.com"}],
        "bcc_fields": [],
        "reply_to_fields": [],
        "attachments": [],
        "author": user_ref(world.alice),
    }
    assert wire == {"drafts": {**draft, "conversation": UUID}}
    DraftCreatedEnvelope.model_validate(wire)
    cid = wire["drafts"]["conversation"]
    assert cid != world.conversation.id
    assert drafts_of(client, world.token, cid) == [draft]
    conversation = get_conversation(client, world.token, cid)
    assert {k: conversation[k] for k in ("organization", "subject", "latest_message_subject")} == {
        "organization": {"id": world.org.id, "name": "Acme"},
        "subject": None,
        "latest_message_subject": "Hello",
    }
    assert (conversation["drafts_count"], conversation["messages_count"]) == (1, 0)
    assert conversation["last_activity_at"] == T0


def test_an_unwrapped_body_is_accepted(client: TestClient, world: World) -> None:
    response = post_draft(client, world.token, email_draft())

    assert response.status_code == 201
    assert response.json()["drafts"]["subject"] == "Hello"


def test_a_draft_appended_by_conversation_or_references(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    cid = world.conversation.id
    by_id = created(client, world.token, conversation=cid)
    clock.advance(60)
    by_reference = created(client, world.token, references=["first@example.com"], subject="Re")

    assert by_id["conversation"] == by_reference["conversation"] == cid
    assert [d["subject"] for d in drafts_of(client, world.token, cid)] == ["Re", "Hello"]
    conversation = get_conversation(client, world.token, cid)
    assert (conversation["drafts_count"], conversation["messages_count"]) == (2, 1)
    assert conversation["latest_message_subject"] == "Help"  # a draft is not a message
    assert conversation["last_activity_at"] == T0 + 60


def test_unmatched_references_start_a_new_conversation(client: TestClient, world: World) -> None:
    draft = created(client, world.token, references=["<nothing@example.com>"])

    assert draft["conversation"] != world.conversation.id


def test_conversation_actions_apply(client: TestClient, world: World, factory: Factory) -> None:
    label = factory.shared_label(world.org, "VIP")

    draft = created(
        client,
        world.token,
        conversation=world.conversation.id,
        organization=world.org.id,
        add_shared_labels=[label.id],
        add_assignees=[world.bob.id],
        conversation_subject="Late order",
        conversation_color="warning",
        close=True,
    )

    conversation = get_conversation(client, world.token, draft["conversation"])
    assert conversation["subject"] == "Late order"
    assert conversation["color"] == "warning"
    assert conversation["shared_label_names"] == "VIP"
    assert conversation["assignee_names"] == "Bob"
    assert [u["closed"] for u in conversation["users"]] == [True, True]


def test_reopen_is_not_a_draft_parameter(client: TestClient, world: World) -> None:
    created(client, world.token, conversation=world.conversation.id, close=True)

    created(client, world.token, conversation=world.conversation.id, reopen=True)

    users = get_conversation(client, world.token, world.conversation.id)["users"]
    assert [u["closed"] for u in users] == [True]


def test_a_team_account_puts_new_conversations_in_its_team(
    client: TestClient, world: World, session: Session
) -> None:
    world.support.team_id = world.team.id
    session.commit()

    draft = created(client, world.token)

    conversation = get_conversation(client, world.token, draft["conversation"])
    assert conversation["team"] == {
        "id": world.team.id,
        "name": "Support",
        "organization": world.org.id,
    }


@pytest.mark.parametrize(
    ("from_field", "expected"),
    [
        ({"address": "help@acme.test"}, {"name": "Help Desk", "address": "help@acme.test"}),
        ({"address": "HELP@Acme.test"}, {"name": "Help Desk", "address": "help@acme.test"}),
        (
            {"address": "billing@acme.test", "name": "Billing"},
            {"name": "Billing", "address": "billing@acme.test"},
        ),
        # No alias name: the account's; a personal account named by its address: the caller's.
        (
            {"address": "billing@acme.test"},
            {"name": "Acme Support", "address": "billing@acme.test"},
        ),
        ({"address": "alice@acme.test"}, {"name": "Alice Liddell", "address": "alice@acme.test"}),
    ],
)
def test_every_send_as_alias_is_a_sender(
    client: TestClient, world: World, from_field: dict[str, str], expected: dict[str, str]
) -> None:
    draft = created(client, world.token, from_field=from_field)

    assert draft["from_field"] == expected


def test_an_email_account_may_be_named_by_id(client: TestClient, world: World) -> None:
    draft = created(
        client, world.token, account=world.support.id, from_field={"address": "help@acme.test"}
    )

    assert draft["from_field"] == {"name": "Help Desk", "address": "help@acme.test"}


def test_a_personal_account_starts_a_personal_conversation(
    client: TestClient, world: World
) -> None:
    draft = created(client, world.token, from_field={"address": "alice@acme.test"})

    assert get_conversation(client, world.token, draft["conversation"])["organization"] is None


def test_attachments_are_stored(client: TestClient, world: World, session: Session) -> None:
    files = [
        {"base64_data": b64(PNG), "filename": "logo.png"},
        # Line-wrapped base64, as MIME tools write it.
        {"base64_data": b64(PDF)[:8] + "\n" + b64(PDF)[8:], "filename": "Invoice 12.PDF"},
    ]

    draft = created(client, world.token, attachments=files)

    assert [{k: a[k] for k in a if k not in ("id", "url")} for a in draft["attachments"]] == [
        {
            "filename": "Invoice 12.PDF",
            "extension": "pdf",
            "media_type": "application",
            "sub_type": "pdf",
            "size": len(PDF),
        },
        {
            "filename": "logo.png",
            "extension": "png",
            "media_type": "image",
            "sub_type": "png",
            "size": len(PNG),
            "width": 2,
            "height": 1,
        },
    ]
    url = draft["attachments"][1]["url"].removeprefix("http://testserver")
    assert client.get(url).content == PNG
    stored = session.scalars(select(Attachment.organization_id)).all()
    assert stored == [world.org.id, world.org.id]


def stored_body(session: Session, message_id: str) -> str | None:
    """Drafts have no full form on the wire (spec 1A): read the row."""
    session.expire_all()
    message = session.get(Message, message_id)
    assert message is not None
    return message.body


def test_quote_previous_message_appends_the_latest_message(
    client: TestClient, world: World, session: Session
) -> None:
    draft = created(
        client,
        world.token,
        conversation=world.conversation.id,
        body="<div>Sorry!</div>",
        quote_previous_message=True,
    )

    assert stored_body(session, draft["id"]) == (
        "<div>Sorry!</div><br><div>On Tue, Nov 14, 2023 at 20:13 UTC, "
        "Sam &lt;sam@example.com&gt; wrote:</div>"
        "<blockquote><div>My order <b>#12</b> is late</div></blockquote>"
    )


def test_quote_previous_message_in_a_new_conversation_quotes_nothing(
    client: TestClient, world: World
) -> None:
    draft = created(client, world.token, quote_previous_message=True, send=True)

    assert get_message(client, world.token, draft["id"])["body"] == "<div>World!</div>"


def test_signature_and_whatsapp_template_fields_are_accepted_and_ignored(
    client: TestClient, world: World
) -> None:
    draft = created(
        client,
        world.token,
        add_default_signature=True,
        external_response_id="HX123",
        external_response_variables={"1": "Philippe", "2": "This awesome project"},
    )

    assert draft["preview"] == "World!"


# --- sending now ------------------------------------------------------------------------------


def test_send_turns_the_draft_into_a_threaded_message(
    client: TestClient, world: World, session: Session, clock: FrozenClock
) -> None:
    clock.advance(30)
    body = email_draft(
        conversation=world.conversation.id,
        send=True,
        cc_fields=[{"address": "carol@example.com"}],
        bcc_fields=[{"address": "secret@example.com", "name": "S"}],
    )

    response = post_draft(client, world.token, {"drafts": body})

    assert response.status_code == 201
    sent = response.json()["drafts"]
    assert (sent["draft"], sent["delivered_at"], sent["conversation"]) == (
        False,
        T0 + 30,
        world.conversation.id,
    )
    message = get_message(client, world.token, sent["id"])
    conversation = message.pop("conversation")
    assert message == {
        "id": sent["id"],
        "subject": "Hello",
        "preview": "World!",
        "type": "email",
        "delivered_at": T0 + 30,
        "updated_at": T0 + 30,
        "created_at": T0 + 30,
        "email_message_id": OUR_MESSAGE_ID,
        "in_reply_to": [FIRST_ID],
        "references": [ROOT_ID, FIRST_ID],
        "body": "<div>World!</div>",
        "from_field": {"name": "Acme Support", "address": "support@acme.test"},
        "to_fields": [{"name": "Paul", "address": "paul@example.com"}],
        "cc_fields": [{"name": None, "address": "carol@example.com"}],
        "bcc_fields": [{"name": "S", "address": "secret@example.com"}],
        "reply_to_fields": [],
        "attachments": [],
        "delivery_status": "queued",
        "delivery_error": None,
    }
    assert {k: conversation[k] for k in ("messages_count", "drafts_count", "last_activity_at")} == {
        "messages_count": 2,
        "drafts_count": 0,
        "last_activity_at": T0 + 30,
    }
    assert conversation["authors"][-1] == {"name": "Acme Support", "address": "support@acme.test"}
    assert drafts_of(client, world.token, world.conversation.id) == []
    [row] = outbox_rows(session)
    assert (row.kind, row.status, row.message_id, row.conversation_id, row.next_attempt_at) == (
        "mail",
        "pending",
        sent["id"],
        world.conversation.id,
        T0 + 30,
    )
    assert row.payload == {
        "envelope_from": "support@acme.test",
        "recipients": ["paul@example.com", "carol@example.com", "secret@example.com"],
    }
    assert row.max_attempts == Settings().delivery_max_attempts


def test_a_sent_message_is_found_by_its_message_id_and_threads_replies(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    first = created(client, world.token, send=True)
    message_id = get_message(client, world.token, first["id"])["email_message_id"]
    clock.advance(60)

    reply = created(client, world.token, references=[message_id], send=True)

    assert reply["conversation"] == first["conversation"]
    found = client.get(
        "/v1/messages", params={"email_message_id": message_id}, headers=bearer(world.token)
    ).json()["messages"]
    assert [m["id"] for m in found] == [first["id"]]
    second = get_message(client, world.token, reply["id"])
    assert (second["in_reply_to"], second["references"]) == ([message_id], [message_id])


def test_a_first_message_keeps_the_references_it_was_given(
    client: TestClient, world: World
) -> None:
    sent = created(client, world.token, references=["elsewhere@example.com"], send=True)

    message = get_message(client, world.token, sent["id"])
    assert (message["in_reply_to"], message["references"]) == ([], ["<elsewhere@example.com>"])


def test_a_sent_draft_arrives_at_the_smtp_relay(
    settings: Settings, clock: FrozenClock, engine: Any, factory: Factory
) -> None:
    world = make_world(factory)
    relay = Relay()
    with running(relay):
        app = app_with(settings, clock, engine, smtp_url=relay.url)
        with TestClient(app) as client:
            body = email_draft(
                conversation=world.conversation.id,
                send=True,
                bcc_fields=[{"address": "secret@example.com"}],
                attachments=[{"base64_data": b64(PDF), "filename": "invoice.pdf"}],
            )
            sent = post_draft(client, world.token, body).json()["drafts"]
            assert app.state.worker.run_once() == 1
            message = get_message(client, world.token, sent["id"])

    [received] = relay.received
    assert received.mail_from == "support@acme.test"
    assert received.rcpt_tos == ["paul@example.com", "secret@example.com"]
    mime = parse(received.content)
    assert {k: mime[k] for k in ("From", "To", "Subject", "Message-ID", "In-Reply-To")} == {
        "From": "Acme Support <support@acme.test>",
        "To": "Paul <paul@example.com>",
        "Subject": "Hello",
        "Message-ID": message["email_message_id"],
        "In-Reply-To": FIRST_ID,
    }
    assert mime["References"] == f"{ROOT_ID} {FIRST_ID}"
    assert mime["Bcc"] is None
    assert b"secret@example.com" not in received.content
    assert [p.get_filename() for p in mime.iter_attachments()] == ["invoice.pdf"]
    assert message["delivery_status"] == "sent"


# --- other channels ---------------------------------------------------------------------------


def sent_channel(
    client: TestClient, world: World, session: Session, **fields: Any
) -> tuple[dict[str, Any], OutboxItem]:
    response = post_draft(client, world.token, {"drafts": {"body": "Hi <b>there</b>", **fields}})
    assert response.status_code == 201, response.json()
    draft: dict[str, Any] = response.json()["drafts"]
    [row] = outbox_rows(session, message_id=draft["id"])
    return draft, row


@pytest.mark.parametrize(
    ("from_field", "channel"),
    [
        ({"phone_number": SMS_NUMBER}, "sms"),
        ({"phone_number": SMS_NUMBER, "type": "twilio"}, "sms"),
        ({"phone_number": SMS_NUMBER, "type": "twilio_whatsapp"}, "whatsapp"),
    ],
)
def test_sms_and_whatsapp_drafts_are_sent_through_a_channel(
    client: TestClient,
    world: World,
    session: Session,
    from_field: dict[str, str],
    channel: str,
) -> None:
    to = [{"phone_number": "+13306795612"}]

    draft, row = sent_channel(
        client, world, session, from_field=from_field, to_fields=to, send=True, subject="x"
    )

    account = world.sms if channel == "sms" else world.whatsapp
    assert (draft["type"], draft["subject"], draft["draft"]) == (channel, None, False)
    assert draft["from_field"] == {"name": account.name, "phone_number": SMS_NUMBER}
    assert draft["to_fields"] == [{"name": None, "phone_number": "+13306795612"}]
    assert (row.kind, row.payload) == ("channel", {"channel": channel, "account_id": account.id})
    DraftCreatedEnvelope.model_validate({"drafts": draft})
    message = get_message(client, world.token, draft["id"])
    assert {k: message[k] for k in ("external_id", "account_author", "author")} == {
        "external_id": None,
        "account_author": draft["from_field"],
        "author": user_ref(world.alice),
    }
    authors = message["conversation"]["authors"]
    assert authors == [{"name": account.name, "phone_number": SMS_NUMBER}]


def test_an_sms_account_may_be_named_by_id(
    client: TestClient, world: World, session: Session
) -> None:
    draft, _ = sent_channel(
        client,
        world,
        session,
        account=world.sms.id,
        to_fields={"phone_number": "+13306795612"},
        send=True,
    )

    assert draft["from_field"] == {"name": "Acme SMS", "phone_number": SMS_NUMBER}


@pytest.mark.parametrize(
    ("name", "to_fields", "participant"),
    [
        ("messenger", [{"id": "1736313053102918"}], {"id": "1736313053102918"}),
        ("instagram", [{"id": 1736313053102918}], {"id": "1736313053102918"}),
        (
            "live_chat",
            {"id": "123", "username": "phil@acme.com", "name": "Phil [Unverified]"},
            {"id": "123", "username": "phil@acme.com", "name": "Phil [Unverified]"},
        ),
        ("custom", [{"id": "12345", "username": "@phil", "name": "Phil"}], None),
        ("custom_html", [{"username": "@phil"}], {"username": "@phil"}),
    ],
)
def test_account_channels(
    client: TestClient,
    world: World,
    session: Session,
    name: str,
    to_fields: Any,
    participant: dict[str, str] | None,
) -> None:
    account = getattr(world, name)

    draft, row = sent_channel(
        client, world, session, account=account.id, to_fields=to_fields, send=True
    )

    expected_type = {"custom": "custom_text", "custom_html": "custom_html"}.get(name, name)
    recipient = {"id": None, "name": None, "username": None} | (
        participant or {"id": "12345", "username": "@phil", "name": "Phil"}
    )
    assert (draft["type"], draft["to_fields"]) == (expected_type, [recipient])
    assert draft["from_field"] == {"id": None, "name": account.name, "username": account.name}
    assert (row.kind, row.payload) == (
        "channel",
        {"channel": account.type, "account_id": account.id},
    )


def test_a_custom_channel_sender_may_be_anything(client: TestClient, world: World) -> None:
    sender = {"id": "bot-1", "username": "@acme", "name": "Acme bot"}
    body = {"account": world.custom.id, "from_field": sender, "to_fields": [{"id": "1"}]}

    response = post_draft(client, world.token, {"drafts": body})

    assert response.status_code == 201, response.json()
    draft = response.json()["drafts"]
    assert (draft["from_field"], draft["draft"], draft["type"]) == (sender, True, "custom_text")


# --- deleting ---------------------------------------------------------------------------------


def test_delete_a_draft(client: TestClient, world: World, session: Session) -> None:
    draft = created(
        client,
        world.token,
        conversation=world.conversation.id,
        attachments=[{"base64_data": b64(PNG), "filename": "logo.png"}],
    )

    response = client.delete(f"/v1/drafts/{draft['id']}", headers=bearer(world.token))

    assert (response.status_code, response.json()) == (200, {})
    assert drafts_of(client, world.token, world.conversation.id) == []
    assert get_conversation(client, world.token, world.conversation.id)["drafts_count"] == 0
    assert count(session, Attachment) == 0
    again = client.delete(f"/v1/drafts/{draft['id']}", headers=bearer(world.token))
    assert (again.status_code, again.json()) == (
        404,
        error(f"Draft with id '{draft['id']}' does not exist"),
    )


def test_anyone_with_access_may_delete_a_draft(
    client: TestClient, world: World, session: Session
) -> None:
    draft = created(client, world.token, conversation=world.conversation.id)
    grant_access(session, world.conversation, [world.bob.id], now=T0)
    session.commit()

    response = client.delete(f"/v1/drafts/{draft['id']}", headers=bearer(world.bob_token))

    assert (response.status_code, response.json()) == (200, {})


@pytest.mark.parametrize("which", ["unknown", "sent", "no access", "foreign"])
def test_delete_unknown_sent_or_foreign_drafts_is_404(
    client: TestClient, world: World, factory: Factory, which: str
) -> None:
    if which == "unknown":
        draft_id = "8d9f9a04-3c8e-4a8c-9a57-4ad3c0a3e6d9"
    elif which == "sent":
        draft_id = created(client, world.token, send=True)["id"]
    elif which == "no access":
        draft_id = created(client, world.token)["id"]
        world.token = world.bob_token
    else:
        org = factory.organization("Globex")
        _, token = factory.member(org, role="owner")
        draft_id = created(client, world.token)["id"]
        world.token = token

    response = client.delete(f"/v1/drafts/{draft_id}", headers=bearer(world.token))

    assert response.status_code == 404
    assert response.json() == error(f"Draft with id '{draft_id}' does not exist")


def test_drafts_need_a_token(client: TestClient, world: World) -> None:
    unauthorized = error("Authentication token is invalid or has been revoked")
    for response in (
        client.post("/v1/drafts", json={"drafts": email_draft()}),
        client.post("/v1/drafts", json={"drafts": email_draft()}, headers=bearer("nope")),
        client.delete("/v1/drafts/x"),
    ):
        assert (response.status_code, response.json()) == (401, unauthorized)
