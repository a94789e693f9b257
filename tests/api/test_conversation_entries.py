"""GET /v1/conversations/:id/{messages,comments,drafts,posts} (spec 2.5.4-2.5.7)."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Attachment, Conversation, Organization, User
from missive_server.schemas.comments import CommentsEnvelope
from missive_server.schemas.drafts import DraftsEnvelope
from missive_server.schemas.messages import ConversationMessagesEnvelope
from missive_server.schemas.posts import PostsEnvelope
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.messages import MessageInput
from tests.conftest import bearer
from tests.factories import EntryFactory, Factory, email

T = 1_700_000_000
ENTRIES = ("messages", "comments", "drafts", "posts")


def png(width: int, height: int) -> bytes:
    return (
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", width, height) + b"\0" * 8
    )


@pytest.fixture
def entries(session: Session, factory: Factory) -> EntryFactory:
    return EntryFactory(session, factory.clock)


@pytest.fixture
def org(factory: Factory) -> Organization:
    return factory.organization("Acme")


@pytest.fixture
def member(factory: Factory, org: Organization) -> tuple[User, str]:
    return factory.member(org, email="frodo@acme.test")


def stored_attachments(session: Session, **where: str | None) -> list[Attachment]:
    stmt = select(Attachment).filter_by(**where).order_by(Attachment.filename)
    return list(session.scalars(stmt))


def attachment_wire(a: Attachment) -> dict[str, Any]:
    wire = {
        "id": a.id,
        "filename": a.filename,
        "extension": a.extension,
        "url": f"http://testserver/_files/{a.id}/{a.download_token}/{a.filename}",
        "media_type": a.media_type,
        "sub_type": a.sub_type,
        "size": a.size,
    }
    if a.media_type == "image":
        wire |= {"width": a.width, "height": a.height}
    return wire


def user_ref(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "avatar_url": user.avatar_url}


def get(client: TestClient, token: str, path: str) -> Any:
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


# --- messages ------------------------------------------------------------------------------


def test_message_list_form_exact_shape(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    files = [
        NewAttachment("inline-image.png", png(668, 996)),
        NewAttachment("doc.pdf", b"%PDF-1.4"),
    ]
    data = email(
        T - 60,
        "A Message",
        email_message_id="<0f1ab2d8@missiveapp.com>",
        in_reply_to=["<parent@example.com>"],
        references=["<parent@example.com>"],
        cc_fields=[{"name": None, "address": "cc@example.com"}],
        attachments=files,
    )
    conversation = factory.conversation(org, users=[user], messages=[data])
    message_id = session.scalar(select(Attachment.message_id))
    pdf, image = stored_attachments(session, message_id=message_id)

    body = get(client, token, f"/v1/conversations/{conversation.id}/messages")

    assert body == {
        "messages": [
            {
                "id": message_id,
                "subject": "A Message",
                "draft": False,
                "preview": "A Message",
                "type": "email",
                "delivered_at": T - 60,
                "updated_at": T,  # recorded now, delivered a minute ago
                "created_at": T,
                "email_message_id": "<0f1ab2d8@missiveapp.com>",
                "in_reply_to": ["<parent@example.com>"],
                "references": ["<parent@example.com>"],
                "from_field": {"name": "Sam", "address": "sam@example.com"},
                "to_fields": [{"name": "Phil", "address": "phil@acme.test"}],
                "cc_fields": [{"name": None, "address": "cc@example.com"}],
                "bcc_fields": [],
                "reply_to_fields": [],
                "attachments": [attachment_wire(pdf), attachment_wire(image)],
            }
        ]
    }
    assert body["messages"][0]["attachments"][1] | {"id": "", "url": ""} == {
        "id": "",
        "filename": "inline-image.png",
        "extension": "png",
        "url": "",
        "media_type": "image",
        "sub_type": "png",
        "size": len(png(668, 996)),
        "width": 668,
        "height": 996,
    }
    assert "width" not in body["messages"][0]["attachments"][0]
    ConversationMessagesEnvelope.model_validate(body)  # the OpenAPI model matches the wire


def test_non_email_messages_carry_channel_fields_and_delivery_status(
    client: TestClient,
    factory: Factory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    sms = MessageInput(
        type="sms",
        body="Hi there",
        delivered_at=T,
        from_field={"id": "+18336856203", "name": "Acme", "username": None},
        to_fields=[{"id": "+13306795612", "name": "+1 (330) 679-5612", "username": None}],
        references=["+13306795612+18336856203"],
        external_id="SM46442ca2",
        author_id=user.id,
    )
    conversation = factory.conversation(org, users=[user], messages=[sms])
    from missive_server.db.models import Message

    stored = session.scalars(select(Message)).one()
    stored.delivery_status, stored.delivery_error = "failed", "550 mailbox unavailable"
    session.commit()

    [message] = get(client, token, f"/v1/conversations/{conversation.id}/messages")["messages"]

    assert message == {
        "id": stored.id,
        "subject": None,
        "draft": False,
        "preview": "Hi there",
        "type": "sms",
        "delivered_at": T,
        "updated_at": T,
        "created_at": T,
        "email_message_id": None,
        "in_reply_to": [],
        "references": ["+13306795612+18336856203"],
        "from_field": {"id": "+18336856203", "name": "Acme", "username": None},
        "to_fields": [{"id": "+13306795612", "name": "+1 (330) 679-5612", "username": None}],
        "cc_fields": [],
        "bcc_fields": [],
        "reply_to_fields": [],
        "attachments": [],
        "external_id": "SM46442ca2",
        "account_author": {"id": "+18336856203", "name": "Acme", "username": None},
        "account_recipients": [
            {"id": "+13306795612", "name": "+1 (330) 679-5612", "username": None}
        ],
        "author": user_ref(user),
        "delivery_status": "failed",
        "delivery_error": "550 mailbox unavailable",
    }
    ConversationMessagesEnvelope.model_validate({"messages": [message]})


def test_messages_exclude_drafts_and_come_newest_first(
    client: TestClient,
    factory: Factory,
    entries: EntryFactory,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    conversation = factory.conversation(
        org,
        users=[user],
        messages=[email(T - 30, "old"), email(T - 10, "new"), email(T - 20, "mid")],
    )
    entries.draft(conversation, user, at=T)

    body = get(client, token, f"/v1/conversations/{conversation.id}/messages")

    assert [m["subject"] for m in body["messages"]] == ["new", "mid", "old"]


def test_message_pages_keep_ties_together(
    client: TestClient, factory: Factory, org: Organization, member: tuple[User, str]
) -> None:
    user, token = member
    distinct = [email(T - i, f"m{i}") for i in range(9)]  # T .. T-8
    tied = [email(T - 20, f"tie{i}") for i in range(3)]  # 10th item falls among these
    older = [email(T - 30, "older1"), email(T - 31, "older2")]
    conversation = factory.conversation(org, users=[user], messages=distinct + tied + older)
    path = f"/v1/conversations/{conversation.id}/messages"

    first = get(client, token, path)["messages"]
    rest = get(client, token, f"{path}?until={first[-1]['delivered_at']}")["messages"]

    assert len(first) == 12  # more than limit: the three tied messages stay together
    assert [m["subject"] for m in first[:9]] == [f"m{i}" for i in range(9)]
    assert {m["subject"] for m in first[9:]} == {"tie0", "tie1", "tie2"}
    # `until` is inclusive: the tied ones come again (spec 1.7), then the older ones.
    assert [m["id"] for m in rest[:3]] == [m["id"] for m in first[9:]]
    assert [m["subject"] for m in rest[3:]] == ["older1", "older2"]
    limited = get(client, token, f"{path}?limit=2")["messages"]
    assert [m["subject"] for m in limited] == ["m0", "m1"]
    assert len(get(client, token, f"{path}?limit=50")["messages"]) == 12  # max 10, plus ties


def test_last_page_is_short(
    client: TestClient, factory: Factory, org: Organization, member: tuple[User, str]
) -> None:
    user, token = member
    conversation = factory.conversation(
        org, users=[user], messages=[email(T - i) for i in range(5)]
    )

    page = get(client, token, f"/v1/conversations/{conversation.id}/messages?limit=3&until={T - 3}")

    assert [m["delivered_at"] for m in page["messages"]] == [T - 3, T - 4]


# --- all four lists: auth, validation, not found, merges -----------------------------------


@pytest.mark.parametrize("entry", ENTRIES)
def test_missing_token_is_401(
    client: TestClient, factory: Factory, org: Organization, entry: str
) -> None:
    conversation = factory.conversation(org)

    response = client.get(f"/v1/conversations/{conversation.id}/{entry}")

    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "Authentication token is invalid or has been revoked"}
    }


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=1", "min 'limit' value is 2"),
        ("limit=0", "min 'limit' value is 2"),
        ("limit=many", "'limit' must be an integer"),
        ("until=yesterday", "'until' must be an integer"),
    ],
)
def test_invalid_paging_is_400(
    client: TestClient,
    factory: Factory,
    org: Organization,
    member: tuple[User, str],
    entry: str,
    query: str,
    message: str,
) -> None:
    user, token = member
    conversation = factory.conversation(org, users=[user])

    response = client.get(
        f"/v1/conversations/{conversation.id}/{entry}?{query}", headers=bearer(token)
    )

    assert response.status_code == 400
    assert response.json() == {"error": {"message": message}}


@pytest.mark.parametrize("entry", ENTRIES)
def test_unknown_and_foreign_conversations_are_404(
    client: TestClient, factory: Factory, org: Organization, member: tuple[User, str], entry: str
) -> None:
    _, token = member
    other_org = factory.organization("Other")
    stranger, _ = factory.member(other_org)
    foreign = factory.conversation(other_org, users=[stranger])
    no_access = factory.conversation(org)  # same organization, but not shared with the caller
    unknown = "3fa4bcf5-e57e-47a4-9422-de2cce5f802e"

    for conversation_id in (unknown, foreign.id, no_access.id):
        response = client.get(f"/v1/conversations/{conversation_id}/{entry}", headers=bearer(token))
        assert response.status_code == 404
        assert response.json() == {
            "error": {"message": f"Conversation with id '{conversation_id}' does not exist"}
        }


@pytest.mark.parametrize("entry", ENTRIES)
def test_merged_conversation_id_resolves_to_the_survivor(
    client: TestClient,
    factory: Factory,
    entries: EntryFactory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
    entry: str,
) -> None:
    user, token = member
    survivor = factory.conversation(org, users=[user], messages=[email(T, "kept")])
    entries.comment(survivor, user)
    entries.draft(survivor, user)
    entries.post(survivor, user)
    merged = factory.conversation(org, users=[user])
    session.get_one(Conversation, merged.id).merged_into_id = survivor.id
    session.commit()

    via_merged = get(client, token, f"/v1/conversations/{merged.id}/{entry}")[entry]
    direct = get(client, token, f"/v1/conversations/{survivor.id}/{entry}")[entry]

    assert len(via_merged) == 1
    assert via_merged == direct


# --- comments ------------------------------------------------------------------------------


def test_comment_exact_shape(
    client: TestClient,
    factory: Factory,
    entries: EntryFactory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    phil = factory.user("phil@acme.test", "Phil Smith", organizations={org: "user"})
    team = factory.team(org, "Support")
    conversation = factory.conversation(org, users=[user, phil])
    task = entries.task(
        org,
        "Follow up with client",
        conversation=conversation,
        state="in_progress",
        due_at=1692371867,
        started_at=1691812800,
        team=team,
        assignees=[phil, user],
    )
    mentions = [{"id": phil.id, "index": 0, "length": 5}]
    entries.comment(
        conversation,
        user,
        "@Phil look",
        at=T - 5,
        mentions=mentions,
        attachment=NewAttachment("document.pdf", b"%PDF-1.4 ..."),
        task=task,
    )
    plain = entries.comment(conversation, None, "plain", at=T - 10)
    [pdf] = stored_attachments(session, message_id=None)

    body = get(client, token, f"/v1/conversations/{conversation.id}/comments")

    assert body["comments"][0] == {
        "id": body["comments"][0]["id"],
        "body": "@Phil look",
        "created_at": T - 5,
        "mentions": mentions,
        "author": user_ref(user),
        "attachment": attachment_wire(pdf),
        "task": {
            "description": "Follow up with client",
            "state": "in_progress",
            "due_at": 1692371867,
            "started_at": 1691812800,
            "closed_at": None,
            "assignees": [user_ref(user), user_ref(phil)],  # by name: Frodo, Phil Smith
            "team": {"id": team.id, "name": "Support", "organization": org.id},
        },
    }
    assert body["comments"][1] == {
        "id": plain.id,
        "body": "plain",
        "created_at": T - 10,
        "mentions": [],
        "author": None,
        "attachment": None,
        "task": None,
    }
    CommentsEnvelope.model_validate(body)


def test_comment_pages_keep_ties_together(
    client: TestClient,
    factory: Factory,
    entries: EntryFactory,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    conversation = factory.conversation(org, users=[user])
    for at in (T, T - 1, T - 2, T - 2, T - 3):
        entries.comment(conversation, user, f"at {at}", at=at)
    path = f"/v1/conversations/{conversation.id}/comments"

    first = get(client, token, f"{path}?limit=3")["comments"]
    rest = get(client, token, f"{path}?limit=3&until={first[-1]['created_at']}")["comments"]

    assert [c["created_at"] for c in first] == [T, T - 1, T - 2, T - 2]
    assert [c["created_at"] for c in rest] == [T - 2, T - 2, T - 3]
    assert len(get(client, token, f"{path}?limit=10")["comments"]) == 5


# --- drafts --------------------------------------------------------------------------------


def test_draft_exact_shape(
    client: TestClient,
    factory: Factory,
    entries: EntryFactory,
    session: Session,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    conversation = factory.conversation(org, users=[user], messages=[email(T - 100)])
    scheduled = entries.draft(conversation, user, at=T - 1, send_at=T + 3600)
    draft = entries.draft(
        conversation,
        user,
        at=T,
        subject="Draft Message",
        body="<div>A draft message</div>",
        attachments=[NewAttachment("notes.txt", b"hello")],
    )
    [txt] = stored_attachments(session, message_id=draft.id)

    body = get(client, token, f"/v1/conversations/{conversation.id}/drafts")

    expected = {
        "id": draft.id,
        "subject": "Draft Message",
        "draft": True,
        "preview": "A draft message",
        "type": "email",
        "delivered_at": None,
        "updated_at": T,
        "created_at": T,
        "from_field": {"name": user.name, "address": user.email},
        "to_fields": [{"name": "Phil", "address": "phil@example.com"}],
        "cc_fields": [],
        "bcc_fields": [],
        "reply_to_fields": [],
        "attachments": [attachment_wire(txt)],
        "author": user_ref(user),
    }
    assert body["drafts"][0] == expected
    assert body["drafts"][1]["id"] == scheduled.id
    assert body["drafts"][1]["send_at"] == T + 3600  # extension: scheduled drafts
    assert len(body["drafts"]) == 2  # the delivered message is not a draft
    DraftsEnvelope.model_validate(body)


def test_draft_pages_use_created_at(
    client: TestClient,
    factory: Factory,
    entries: EntryFactory,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    conversation = factory.conversation(org, users=[user])
    for at in (T, T - 1, T - 1, T - 2):
        entries.draft(conversation, user, at=at)
    path = f"/v1/conversations/{conversation.id}/drafts"

    first = get(client, token, f"{path}?limit=2")["drafts"]
    rest = get(client, token, f"{path}?until={first[-1]['created_at']}")["drafts"]
    tied = get(client, token, f"{path}?limit=2&until={T - 1}")["drafts"]

    assert [d["created_at"] for d in first] == [T, T - 1, T - 1]
    assert [d["created_at"] for d in rest] == [T - 1, T - 1, T - 2]
    # A full page that shares one timestamp is all there is at that second (spec 1.7).
    assert [d["id"] for d in tied] == [d["id"] for d in first[1:]]


# --- posts ---------------------------------------------------------------------------------


def test_post_exact_shape(
    client: TestClient,
    factory: Factory,
    entries: EntryFactory,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    conversation = factory.conversation(org, users=[user])
    blocks = [
        {
            "author_name": "Philippe Lehoux",
            "author_link": "mailto:philippe@missiveapp.com",
            "author_icon": "avatar:philippe@missiveapp.com",
            "color": "#2266ED",
            "text": "New customer signed up!",
            "timestamp": 1511540318,
        }
    ]
    post = entries.post(
        conversation,
        user,
        at=T,
        username="Missive",
        username_icon="https://s3.amazonaws.com/missive-assets/missive-avatar.png",
        attachments=blocks,
    )
    texted = entries.post(conversation, user, at=T - 1, text="Ticket resolved", markdown="**done**")

    body = get(client, token, f"/v1/conversations/{conversation.id}/posts")

    assert body == {
        "posts": [
            {
                "id": post.id,
                "created_at": T,
                "username": "Missive",
                "username_icon": "https://s3.amazonaws.com/missive-assets/missive-avatar.png",
                "notification": {"title": "A title", "body": "A body"},
                "attachments": blocks,
            },
            {
                "id": texted.id,
                "created_at": T - 1,
                "username": user.name,  # defaults to the token owner who posted
                "username_icon": None,
                "notification": {"title": "A title", "body": "A body"},
                "attachments": [],
                "text": "Ticket resolved",
                "markdown": "**done**",
            },
        ]
    }
    PostsEnvelope.model_validate(body)


def test_post_pages_keep_ties_together(
    client: TestClient,
    factory: Factory,
    entries: EntryFactory,
    org: Organization,
    member: tuple[User, str],
) -> None:
    user, token = member
    conversation = factory.conversation(org, users=[user])
    for at in (T, T - 1, T - 1, T - 1, T - 2):
        entries.post(conversation, user, at=at, text=str(at))
    path = f"/v1/conversations/{conversation.id}/posts"

    first = get(client, token, f"{path}?limit=2")["posts"]
    rest = get(client, token, f"{path}?until={T - 2}")["posts"]

    assert [p["created_at"] for p in first] == [T, T - 1, T - 1, T - 1]
    assert [p["created_at"] for p in rest] == [T - 2]


# --- query counts --------------------------------------------------------------------------


def test_message_list_query_count_does_not_grow_with_the_page(
    client: TestClient,
    factory: Factory,
    org: Organization,
    member: tuple[User, str],
    statements: list[str],
) -> None:
    user, token = member

    def with_files(at: int) -> MessageInput:
        files = [NewAttachment(f"{at}-{i}.png", png(2, 2)) for i in range(2)]
        return email(at, author_id=user.id, attachments=files)

    small = factory.conversation(org, users=[user], messages=[with_files(T - i) for i in range(2)])
    large = factory.conversation(org, users=[user], messages=[with_files(T - i) for i in range(10)])

    def queries(path: str, size: int) -> int:
        statements.clear()
        body = get(client, token, path)
        assert len(body["messages"]) == size
        assert all(len(m["attachments"]) == 2 for m in body["messages"])
        return len(statements)

    # Both pages are full (so both run the tie query); only the page size differs. The first
    # request puts the token into the token cache, so both counts are of a cached token.
    queries(f"/v1/conversations/{small.id}/messages?limit=2", 2)
    two = queries(f"/v1/conversations/{small.id}/messages?limit=2", 2)
    ten = queries(f"/v1/conversations/{large.id}/messages", 10)
    assert ten == two
    assert ten <= 7
