"""GET /v1/messages/:ids and GET /v1/messages?email_message_id= (spec 2.7.2, 2.7.3)."""

from __future__ import annotations

import struct
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Attachment, Conversation, Message, Organization, User
from missive_server.schemas.messages import MessageEnvelope, MessagesEnvelope
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.messages import MessageInput
from tests.conftest import bearer
from tests.factories import EntryFactory, Factory, email

T = 1_700_000_000
UNKNOWN = "3fa4bcf5-e57e-47a4-9422-de2cce5f802e"


@pytest.fixture
def org(factory: Factory) -> Organization:
    return factory.organization("Acme")


@pytest.fixture
def member(factory: Factory, org: Organization) -> tuple[User, str]:
    return factory.member(org, email="frodo@acme.test")


def only_message(session: Session, conversation: Conversation) -> Message:
    return session.scalars(select(Message).where(Message.conversation_id == conversation.id)).one()


def get(client: TestClient, token: str, path: str) -> Any:
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def assert_404(client: TestClient, token: str, path: str, message_id: str) -> None:
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 404
    assert response.json() == {
        "error": {"message": f"Message with id '{message_id}' does not exist"}
    }


def test_one_id_is_an_object_in_full_form(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    team = factory.team(org, "Hobbits")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 668, 996) + bytes(8)
    data = email(
        T - 60,
        "A Message",
        email_message_id="<0f1ab2d8@missiveapp.com>",
        attachments=[NewAttachment("inline-image.png", png)],
    )
    data.body = '<div>A message from Sam</div><img data-missive-attachment-id="x">'
    conversation = factory.conversation(org, users=[user], team=team, messages=[data])
    message = only_message(session, conversation)
    image = session.scalars(select(Attachment)).one()

    body = get(client, token, f"/v1/messages/{message.id}")

    assert body == {
        "messages": {
            "id": message.id,
            "subject": "A Message",
            "preview": "A message from Sam",
            "type": "email",
            "delivered_at": T - 60,
            "updated_at": T,
            "created_at": T,
            "email_message_id": "<0f1ab2d8@missiveapp.com>",
            "in_reply_to": [],
            "references": [],
            "from_field": {"name": "Sam", "address": "sam@example.com"},
            "to_fields": [{"name": "Phil", "address": "phil@acme.test"}],
            "cc_fields": [],
            "bcc_fields": [],
            "reply_to_fields": [],
            "attachments": [
                {
                    "id": image.id,
                    "filename": "inline-image.png",
                    "extension": "png",
                    "url": f"http://testserver/_files/{image.id}/{image.download_token}/inline-image.png",
                    "media_type": "image",
                    "sub_type": "png",
                    "size": len(png),
                    "width": 668,
                    "height": 996,
                }
            ],
            "body": '<div>A message from Sam</div><img data-missive-attachment-id="x">',
            "conversation": {
                "id": conversation.id,
                "created_at": T,
                "subject": None,
                "latest_message_subject": "A Message",
                "organization": {"id": org.id, "name": "Acme"},
                "color": None,
                "assignees": [],
                "users": [
                    {
                        "id": user.id,
                        "name": user.name,
                        "email": "frodo@acme.test",
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
                "attachments_count": 1,
                "messages_count": 1,
                "authors": [{"name": "Sam", "address": "sam@example.com"}],
                "drafts_count": 0,
                "send_later_messages_count": 0,
                "tasks_count": 0,
                "completed_tasks_count": 0,
                "web_url": f"http://testserver/#inbox/conversations/{conversation.id}",
                "app_url": f"missive://testserver/#inbox/conversations/{conversation.id}",
                "assignee_names": "",
                "assignee_emails": "",
                "shared_label_names": "",
                "last_activity_at": T,
                "team": {"id": team.id, "name": "Hobbits", "organization": org.id},
                "shared_labels": [],
            },
        }
    }
    assert "draft" not in body["messages"]
    MessageEnvelope.model_validate(body)  # the OpenAPI model matches the wire


def test_several_ids_are_an_array_in_the_order_asked(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    first = factory.conversation(org, users=[user], messages=[email(T - 2, "a"), email(T - 1, "b")])
    second = factory.conversation(org, users=[user], messages=[email(T - 3, "c")])
    ids = {
        m.subject: m.id
        for m in session.scalars(
            select(Message).where(Message.conversation_id.in_([first.id, second.id]))
        )
    }

    body = get(client, token, f"/v1/messages/{ids['c']},{ids['a']},{ids['b']}")

    assert [m["subject"] for m in body["messages"]] == ["c", "a", "b"]
    assert [m["conversation"]["id"] for m in body["messages"]] == [second.id, first.id, first.id]
    conversation = get(client, token, f"/v1/conversations/{first.id}")["conversations"][0]
    assert body["messages"][1]["conversation"] == conversation
    assert all("draft" not in m and "body" in m for m in body["messages"])
    MessageEnvelope.model_validate(body)
    # A single id followed by a comma is the batch form: an array of one.
    assert isinstance(get(client, token, f"/v1/messages/{ids['a']},")["messages"], list)


def test_any_unknown_id_in_a_batch_is_404_naming_it(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    known = only_message(session, factory.conversation(org, users=[user])).id

    assert_404(client, token, f"/v1/messages/{known},{UNKNOWN}", UNKNOWN)
    assert_404(client, token, f"/v1/messages/{UNKNOWN}", UNKNOWN)
    assert_404(client, token, "/v1/messages/not-an-id", "not-an-id")


def test_messages_of_other_organizations_and_unshared_conversations_are_404(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    other = factory.organization("Other")
    stranger, _ = factory.member(other)
    foreign = only_message(session, factory.conversation(other, users=[stranger])).id
    unshared = only_message(session, factory.conversation(org)).id
    mine = only_message(session, factory.conversation(org, users=[user])).id

    assert_404(client, token, f"/v1/messages/{foreign}", foreign)
    assert_404(client, token, f"/v1/messages/{unshared}", unshared)
    assert_404(client, token, f"/v1/messages/{mine},{foreign}", foreign)


def test_drafts_are_not_messages_until_sent(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    conversation = factory.conversation(org, users=[user])
    draft = EntryFactory(session, factory.clock).draft(conversation, user)

    assert_404(client, token, f"/v1/messages/{draft.id}", draft.id)

    draft.draft, draft.delivered_at = False, T
    session.commit()
    sent = get(client, token, f"/v1/messages/{draft.id}")["messages"]
    assert sent["id"] == draft.id
    assert sent["delivered_at"] == T


def test_non_email_messages_carry_channel_fields(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    participant = {"id": "12345", "name": "Philippe Lehoux", "username": "@plehoux"}
    custom = MessageInput(
        type="custom_text",
        body="Hello <b>world</b>!",
        delivered_at=T,
        from_field=participant,
        to_fields=[{"id": "54321", "name": "Missive", "username": "@missiveapp"}],
        external_id="ext-1",
    )
    message = only_message(session, factory.conversation(org, users=[user], messages=[custom]))
    message.delivery_status = "sent"
    session.commit()

    wire = get(client, token, f"/v1/messages/{message.id}")["messages"]

    assert {
        k: wire[k] for k in ("from_field", "body", "external_id", "account_author", "author")
    } == {
        "from_field": participant,
        "body": "Hello <b>world</b>!",
        "external_id": "ext-1",
        "account_author": participant,
        "author": None,
    }
    assert wire["account_recipients"] == [
        {"id": "54321", "name": "Missive", "username": "@missiveapp"}
    ]
    assert (wire["delivery_status"], wire["delivery_error"]) == ("sent", None)


def test_message_of_a_merged_conversation_embeds_the_survivor(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    survivor = factory.conversation(org, users=[user], subject="Survivor")
    merged = factory.conversation(org, users=[user])
    message = only_message(session, merged)
    session.get_one(Conversation, merged.id).merged_into_id = survivor.id
    session.commit()

    wire = get(client, token, f"/v1/messages/{message.id}")["messages"]

    assert wire["conversation"]["id"] == survivor.id
    assert wire["conversation"]["subject"] == "Survivor"


def test_missing_token_is_401(
    client: TestClient, factory: Factory, session: Session, org: Organization
) -> None:
    message = only_message(session, factory.conversation(org))
    expected = {"error": {"message": "Authentication token is invalid or has been revoked"}}

    for path in (f"/v1/messages/{message.id}", "/v1/messages?email_message_id=a@b"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json() == expected


# --- by email Message-ID -------------------------------------------------------------------


def test_find_by_email_message_id_with_or_without_chevrons(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    wanted = email(T, "wanted", email_message_id="<abc.123@mail.example.com>")
    replying = email(T + 1, "reply", in_reply_to=["<abc.123@mail.example.com>"])
    factory.conversation(org, users=[user], messages=[wanted, replying])
    factory.conversation(
        org, messages=[email(T, "unshared", email_message_id="<abc.123@mail.example.com>")]
    )

    for value in (
        "<abc.123@mail.example.com>",
        "abc.123@mail.example.com",
        " <abc.123@mail.example.com> ",
    ):
        body = get(client, token, f"/v1/messages?email_message_id={quote(value)}")
        assert [m["subject"] for m in body["messages"]] == ["wanted"]
        assert body["messages"][0]["conversation"]["latest_message_subject"] == "reply"
        assert "body" in body["messages"][0]
        MessagesEnvelope.model_validate(body)

    assert get(client, token, "/v1/messages?email_message_id=nope@example.com") == {"messages": []}


def test_find_by_email_message_id_returns_the_latest_ten(
    client: TestClient, factory: Factory, org: Organization, member: tuple[User, str]
) -> None:
    user, token = member
    duplicates = [email(T - i, f"dup{i}", email_message_id="<dup@example.com>") for i in range(12)]
    factory.conversation(org, users=[user], messages=duplicates[:6])
    factory.conversation(org, users=[user], messages=duplicates[6:])

    body = get(client, token, "/v1/messages?email_message_id=dup@example.com")

    assert [m["subject"] for m in body["messages"]] == [f"dup{i}" for i in range(10)]


@pytest.mark.parametrize("query", ["", "?email_message_id=", "?email_message_id=%3C%3E"])
def test_email_message_id_is_required(
    client: TestClient, member: tuple[User, str], query: str
) -> None:
    _, token = member

    response = client.get(f"/v1/messages{query}", headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == {"error": {"message": "'email_message_id' is required"}}


# --- query counts --------------------------------------------------------------------------


def test_batch_get_query_count_does_not_grow_with_the_batch(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
    statements: list[str],
) -> None:
    user, token = member
    label = factory.shared_label(org, "VIP")
    files = [NewAttachment("a.pdf", b"%PDF"), NewAttachment("b.pdf", b"%PDF")]
    ids = [
        only_message(
            session,
            factory.conversation(
                org, users=[user], labels=[label], messages=[email(T, attachments=files)]
            ),
        ).id
        for _ in range(6)
    ]

    def queries(batch: list[str]) -> int:
        statements.clear()
        assert len(get(client, token, f"/v1/messages/{','.join(batch)}")["messages"]) == len(batch)
        return len(statements)

    queries(ids[:2])  # the token, into the token cache: both counts below are of a cached token
    assert queries(ids[:2]) == queries(ids)
