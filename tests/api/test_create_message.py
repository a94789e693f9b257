"""POST /v1/messages (spec 2.7.1): incoming messages of custom channels, their threading,
where their conversations go, the conversation actions of spec 1B, attachments and validation."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

import pytest
from dirty_equals import IsStr, IsUUID
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import (
    Account,
    AccountUser,
    Attachment,
    Conversation,
    Membership,
    Message,
    Organization,
    OutboxItem,
    SharedLabel,
    Team,
    User,
)
from missive_server.ids import new_id
from missive_server.schemas.channel_messages import MessageCreatedEnvelope
from missive_server.schemas.conversation_actions import COLOR_RULE
from missive_server.schemas.messages import ConversationMessagesEnvelope, MessageEnvelope
from missive_server.services import outbox
from missive_server.services.conversations import conversation_state
from missive_server.services.conversations.messages import MessageInput
from tests.conftest import bearer
from tests.factories import EntryFactory, Factory, set_user_state

T0 = 1_700_000_000
SENDER = {"id": "12345", "username": "@philippe", "name": "Philippe Lehoux"}
RECIPIENT = {"id": "54321", "username": "@missiveapp", "name": "Missive"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 3, 2) + bytes(8)
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@dataclass
class World:
    org: Organization
    alice: User
    bob: User
    carol: User
    token: str
    bob_token: str
    carol_token: str
    team: Team
    label: SharedLabel
    channel: Account
    team_channel: Account
    email_channel: Account
    sms: Account
    personal: Account
    foreign: Account
    outsider_token: str


def account(
    session: Session,
    org: Organization | None,
    *,
    type: str = "custom",
    message_type: str | None = "custom_text",
    team: Team | None = None,
    owner: User | None = None,
    users: list[User] | None = None,
    name: str = "Channel",
) -> Account:
    row = Account(
        id=new_id(),
        type=type,
        name=name,
        organization_id=org.id if org else None,
        owner_id=owner.id if owner else None,
        team_id=team.id if team else None,
        message_type=message_type if type == "custom" else None,
        phone_number="+18005550199" if type == "sms" else None,
        created_at=T0,
    )
    session.add(row)
    session.flush()
    session.add_all(AccountUser(account_id=row.id, user_id=u.id) for u in users or [])
    session.commit()
    return row


@pytest.fixture
def world(factory: Factory, session: Session) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    carol = factory.user("carol@acme.test", organizations={org: "user"})
    team = factory.team(org, "Support", active=[bob])
    label = factory.shared_label(org, "VIP")
    other = factory.organization("Other")
    outsider = factory.user("mallory@other.test", organizations={other: "user"})
    return World(
        org=org,
        alice=alice,
        bob=bob,
        carol=carol,
        token=factory.token(alice),
        bob_token=factory.token(bob),
        carol_token=factory.token(carol),
        team=team,
        label=label,
        channel=account(session, org, users=[carol]),
        team_channel=account(session, org, team=team, message_type="custom_html"),
        email_channel=account(session, org, message_type="email", users=[carol]),
        sms=account(session, org, type="sms"),
        personal=account(session, None, owner=alice),
        foreign=account(session, other),
        outsider_token=factory.token(outsider),
    )


def post(client: TestClient, token: str, body: Any) -> Any:
    return client.post("/v1/messages", json=body, headers=bearer(token))


def created(client: TestClient, token: str, **fields: Any) -> dict[str, str]:
    response = post(client, token, {"messages": {"from_field": SENDER, "body": "Hi", **fields}})
    assert response.status_code == 201, response.json()
    ref: dict[str, str] = response.json()["messages"]
    return ref


def get(client: TestClient, token: str, url: str) -> Any:
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.json()
    return response.json()


def conversation(client: TestClient, token: str, cid: str) -> dict[str, Any]:
    found: dict[str, Any] = get(client, token, f"/v1/conversations/{cid}")["conversations"][0]
    return found


def mailbox(client: TestClient, token: str, query: str) -> list[str]:
    return [c["id"] for c in get(client, token, f"/v1/conversations?{query}")["conversations"]]


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- bodies and wire shapes -------------------------------------------------------------------


def test_the_documented_example_is_recorded_and_readable(
    client: TestClient, world: World, session: Session
) -> None:
    response = post(
        client,
        world.token,
        {
            "messages": {
                "account": world.channel.id,
                "from_field": SENDER,
                "to_fields": [RECIPIENT],
                "body": "Hello <b>world</b>!",
                "external_id": "ext-1",
                "references": ["thread-1"],
            }
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body == {"messages": {"id": IsUUID(4), "conversation": IsUUID(4)}}
    MessageCreatedEnvelope.model_validate(body)
    mid, cid = body["messages"]["id"], body["messages"]["conversation"]
    listed = {
        "id": mid,
        "subject": None,
        "draft": False,
        "preview": "Hello world!",
        "type": "custom_text",
        "delivered_at": T0,
        "updated_at": T0,
        "created_at": T0,
        "email_message_id": None,
        "in_reply_to": [],
        "references": ["thread-1"],
        "from_field": SENDER,
        "to_fields": [RECIPIENT],
        "cc_fields": [],
        "bcc_fields": [],
        "reply_to_fields": [],
        "attachments": [],
        "external_id": "ext-1",
        "account_author": SENDER,
        "account_recipients": [RECIPIENT],
        "author": None,
    }
    messages = get(client, world.token, f"/v1/conversations/{cid}/messages")
    assert messages == {"messages": [listed]}
    ConversationMessagesEnvelope.model_validate(messages)
    full = get(client, world.token, f"/v1/messages/{mid}")
    expected = {k: v for k, v in listed.items() if k != "draft"}
    expected |= {
        "body": "Hello <b>world</b>!",
        "conversation": conversation(client, world.token, cid),
    }
    assert full == {"messages": expected}
    MessageEnvelope.model_validate(full)
    stored = session.get(Message, mid)
    assert stored is not None
    assert stored.account_id == world.channel.id


def test_the_conversation_summary_follows_the_message(client: TestClient, world: World) -> None:
    ref = created(client, world.token, account=world.channel.id)

    found = conversation(client, world.token, ref["conversation"])

    assert found["messages_count"] == 1
    assert found["authors"] == [{"name": "Philippe Lehoux", "address": None}]
    assert found["last_activity_at"] == T0
    assert found["organization"] == {"id": world.org.id, "name": "Acme"}
    assert found["team"] is None


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda m: {"messages": m}, id="envelope"),
        pytest.param(lambda m: m, id="unwrapped"),
        pytest.param(lambda m: {"messages": [m]}, id="envelope-array-of-one"),
        pytest.param(lambda m: [m], id="array-of-one"),
    ],
)
def test_every_body_form_is_accepted(client: TestClient, world: World, wrap: Any) -> None:
    message = {"account": world.channel.id, "from_field": SENDER, "body": "Hi"}

    response = post(client, world.token, wrap(message))

    assert response.status_code == 201, response.json()
    mid = response.json()["messages"]["id"]
    assert get(client, world.token, f"/v1/messages/{mid}")["messages"]["body"] == "Hi"


@pytest.mark.parametrize(
    "body",
    [{"messages": []}, {"messages": [{}, {}]}, [], [{"account": UNKNOWN}, {"account": UNKNOWN}]],
)
def test_an_array_must_hold_exactly_one_message(
    client: TestClient, world: World, body: Any
) -> None:
    response = post(client, world.token, body)

    assert response.status_code == 400
    assert response.json() == error(
        "'messages' must be one message (an object, or an array of one)"
    )


def test_html_and_email_channels_type_their_messages(client: TestClient, world: World) -> None:
    html = created(client, world.token, account=world.team_channel.id, body="<p>Hi</p>")
    mail = created(
        client,
        world.token,
        account=world.email_channel.id,
        subject="Order 42",
        body="<p>Shipped</p>",
        from_field={"address": " sam@example.com ", "name": "Sam"},
        to_fields={"address": "orders@acme.test"},
        cc_fields=[{"address": "cc@example.com"}],
        bcc_fields=[{"address": "bcc@example.com", "name": "B"}],
        external_id=42,
    )

    html_wire = get(client, world.token, f"/v1/messages/{html['id']}")["messages"]
    assert (html_wire["type"], html_wire["body"], html_wire["preview"]) == (
        "custom_html",
        "<p>Hi</p>",
        "Hi",
    )
    mail_wire = get(client, world.token, f"/v1/messages/{mail['id']}")["messages"]
    del mail_wire["conversation"]
    assert mail_wire == {
        "id": mail["id"],
        "subject": "Order 42",
        "preview": "Shipped",
        "type": "email",
        "delivered_at": T0,
        "updated_at": T0,
        "created_at": T0,
        # Generated (issue 16): every email has one; the account has no address here, so the
        # sender's domain is used.
        "email_message_id": IsStr(regex=r"<[0-9a-f-]{36}@example\.com>"),
        "in_reply_to": [],
        "references": [],
        "from_field": {"name": "Sam", "address": "sam@example.com"},
        "to_fields": [{"name": None, "address": "orders@acme.test"}],
        "cc_fields": [{"name": None, "address": "cc@example.com"}],
        "bcc_fields": [{"name": "B", "address": "bcc@example.com"}],
        "reply_to_fields": [],
        "attachments": [],
        "body": "<p>Shipped</p>",
    }
    found = conversation(client, world.token, mail["conversation"])
    assert found["latest_message_subject"] == "Order 42"


def test_participants_of_text_channels_keep_any_values(client: TestClient, world: World) -> None:
    ref = created(
        client,
        world.token,
        account=world.channel.id,
        from_field={"id": 7, "extra": "dropped"},
        to_fields={"username": "@missiveapp"},
    )

    wire = get(client, world.token, f"/v1/messages/{ref['id']}")["messages"]

    assert wire["from_field"] == {"id": "7", "name": None, "username": None}
    assert wire["to_fields"] == [{"id": None, "name": None, "username": "@missiveapp"}]


def test_delivered_at_is_kept_and_defaults_to_now(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    clock.advance(60)
    past = created(client, world.token, account=world.channel.id, delivered_at=T0 - 3600)
    now = created(client, world.token, account=world.channel.id)

    assert get(client, world.token, f"/v1/messages/{past['id']}")["messages"]["delivered_at"] == (
        T0 - 3600
    )
    assert get(client, world.token, f"/v1/messages/{now['id']}")["messages"]["delivered_at"] == (
        T0 + 60
    )


# --- threading --------------------------------------------------------------------------------


def test_threads_into_the_conversation_given(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    first = created(client, world.token, account=world.channel.id)
    clock.advance(30)

    second = created(
        client, world.token, account=world.channel.id, conversation=first["conversation"]
    )

    assert second["conversation"] == first["conversation"]
    found = conversation(client, world.token, first["conversation"])
    assert (found["messages_count"], found["last_activity_at"]) == (2, T0 + 30)
    listed = get(client, world.token, f"/v1/conversations/{first['conversation']}/messages")
    assert [m["id"] for m in listed["messages"]] == [second["id"], first["id"]]


@pytest.mark.parametrize(
    ("first_fields", "reference"),
    [
        pytest.param({"references": ["thread-9"]}, "thread-9", id="earlier-references"),
        pytest.param({"external_id": "SM4644"}, "SM4644", id="earlier-external-id"),
        pytest.param({"references": ["<a@b.example>"]}, "a@b.example", id="chevrons-optional"),
        pytest.param({"external_id": "ext"}, "<ext>", id="chevrons-on-the-new-one"),
    ],
)
def test_threads_by_references(
    client: TestClient, world: World, first_fields: dict[str, Any], reference: str
) -> None:
    first = created(client, world.token, account=world.channel.id, **first_fields)

    second = created(
        client, world.token, account=world.channel.id, references=["nothing", reference]
    )

    assert second["conversation"] == first["conversation"]


def test_references_matching_nothing_start_a_new_conversation(
    client: TestClient, world: World
) -> None:
    first = created(client, world.token, account=world.channel.id, external_id="a")

    second = created(client, world.token, account=world.channel.id, references=["b"])

    assert second["conversation"] != first["conversation"]


def test_references_only_match_conversations_of_the_channel_organization(
    client: TestClient, world: World, factory: Factory
) -> None:
    data = MessageInput(type="custom_text", body="x", external_id="shared-ref")
    personal = factory.conversation(None, users=[world.alice], messages=[data])

    ref = created(client, world.token, account=world.channel.id, references=["shared-ref"])

    assert ref["conversation"] != personal.id


def test_the_conversation_wins_over_references(client: TestClient, world: World) -> None:
    first = created(client, world.token, account=world.channel.id, external_id="one")
    other = created(client, world.token, account=world.channel.id)

    ref = created(
        client,
        world.token,
        account=world.channel.id,
        conversation=other["conversation"],
        references=["one"],
    )

    assert ref["conversation"] == other["conversation"] != first["conversation"]


def test_a_merged_conversation_leads_to_its_survivor(
    client: TestClient, world: World, session: Session
) -> None:
    gone = created(client, world.token, account=world.channel.id)
    survivor = created(client, world.token, account=world.channel.id)
    row = session.get(Conversation, gone["conversation"])
    assert row is not None
    row.merged_into_id = survivor["conversation"]
    session.commit()

    ref = created(client, world.token, account=world.channel.id, conversation=gone["conversation"])

    assert ref["conversation"] == survivor["conversation"]


# --- where a new conversation goes --------------------------------------------------------------


def test_a_channel_without_team_fills_its_users_inboxes(
    client: TestClient, world: World, factory: Factory
) -> None:
    ref = created(client, world.token, account=world.channel.id)
    cid = ref["conversation"]

    assert mailbox(client, world.token, "inbox=true") == [cid]
    assert mailbox(client, world.carol_token, "inbox=true") == [cid]
    assert mailbox(client, world.bob_token, "all=true") == []
    found = conversation(client, world.token, cid)
    assert {u["id"] for u in found["users"]} == {world.alice.id, world.carol.id}
    assert found["team"] is None


def test_a_personal_channel_reaches_its_owner_and_users(
    client: TestClient, world: World, factory: Factory, session: Session
) -> None:
    shared = account(session, None, owner=world.carol, users=[world.alice])

    ref = created(client, world.token, account=shared.id)

    cid = ref["conversation"]
    assert mailbox(client, world.carol_token, "inbox=true") == [cid]
    assert mailbox(client, world.token, "inbox=true") == [cid]
    assert conversation(client, world.token, cid)["organization"] is None


def test_a_team_channel_fills_the_team_inbox(client: TestClient, world: World) -> None:
    ref = created(client, world.token, account=world.team_channel.id)
    cid = ref["conversation"]

    assert mailbox(client, world.token, f"team_inbox={world.team.id}") == [cid]
    assert mailbox(client, world.token, "inbox=true") == []
    assert mailbox(client, world.token, "all=true") == [cid]
    assert mailbox(client, world.bob_token, "inbox=true") == []
    found = conversation(client, world.token, cid)
    assert found["team"] == {"id": world.team.id, "name": "Support", "organization": world.org.id}
    assert {u["id"] for u in found["users"]} == {world.alice.id, world.bob.id}


def test_asking_for_the_inbox_overrides_the_team_default(client: TestClient, world: World) -> None:
    ref = created(client, world.token, account=world.team_channel.id, add_to_inbox=True)

    assert mailbox(client, world.token, "inbox=true") == [ref["conversation"]]
    assert mailbox(client, world.bob_token, "inbox=true") == [ref["conversation"]]


def test_false_keeps_a_new_conversation_out_of_the_inboxes(
    client: TestClient, world: World
) -> None:
    solo = created(client, world.token, account=world.channel.id, add_to_inbox=False)
    team = created(client, world.token, account=world.team_channel.id, add_to_team_inbox=False)

    assert mailbox(client, world.token, "inbox=true") == []
    assert mailbox(client, world.carol_token, "inbox=true") == []
    assert mailbox(client, world.token, f"team_inbox={world.team.id}") == []
    assert set(mailbox(client, world.token, "all=true")) == {
        solo["conversation"],
        team["conversation"],
    }


def test_an_explicit_team_is_linked(client: TestClient, world: World) -> None:
    ref = created(
        client, world.token, account=world.channel.id, team=world.team.id, add_to_team_inbox=True
    )

    assert mailbox(client, world.token, f"team_inbox={world.team.id}") == [ref["conversation"]]


# --- replies ----------------------------------------------------------------------------------


def test_a_reply_reopens_the_conversation(
    client: TestClient, world: World, factory: Factory, session: Session
) -> None:
    first = created(client, world.token, account=world.channel.id, external_id="m1")
    row = session.get(Conversation, first["conversation"])
    assert row is not None
    set_user_state(factory, row, world.alice, location="closed")
    set_user_state(factory, row, world.carol, location="snoozed", snoozed_until=T0 + 999)

    created(client, world.token, account=world.channel.id, references=["m1"])

    assert mailbox(client, world.token, "inbox=true") == [first["conversation"]]
    assert mailbox(client, world.carol_token, "inbox=true") == [first["conversation"]]


def test_a_reply_reopens_the_team_inbox(client: TestClient, world: World, session: Session) -> None:
    first = created(client, world.token, account=world.team_channel.id, external_id="m1")
    row = session.get(Conversation, first["conversation"])
    assert row is not None
    row.team_state = "closed"
    session.commit()

    created(client, world.token, account=world.team_channel.id, references=["m1"])

    assert mailbox(client, world.token, f"team_inbox={world.team.id}") == [first["conversation"]]


def test_a_reply_with_false_stays_where_it_is(
    client: TestClient, world: World, factory: Factory, session: Session
) -> None:
    first = created(client, world.token, account=world.team_channel.id, external_id="m1")
    row = session.get(Conversation, first["conversation"])
    assert row is not None
    row.team_state = "closed"
    session.commit()
    set_user_state(factory, row, world.alice, location="closed")

    created(
        client,
        world.token,
        account=world.team_channel.id,
        references=["m1"],
        add_to_inbox=False,
        add_to_team_inbox=False,
    )

    assert mailbox(client, world.token, "closed=true") == [first["conversation"]]
    assert mailbox(client, world.token, f"team_closed={world.team.id}") == [first["conversation"]]


def test_a_reply_links_the_channel_team_to_a_conversation_without_one(
    client: TestClient, world: World, factory: Factory
) -> None:
    existing = factory.conversation(world.org, users=[world.alice])

    created(client, world.token, account=world.team_channel.id, conversation=existing.id)

    assert mailbox(client, world.token, f"team_inbox={world.team.id}") == [existing.id]


def test_close_wins(client: TestClient, world: World) -> None:
    new = created(client, world.token, account=world.channel.id, close=True, external_id="c")
    reply = created(client, world.token, account=world.channel.id, references=["c"], close=True)

    assert reply["conversation"] == new["conversation"]
    assert mailbox(client, world.token, "closed=true") == [new["conversation"]]
    assert mailbox(client, world.carol_token, "closed=true") == [new["conversation"]]
    assert mailbox(client, world.token, "inbox=true") == []


# --- auto follow-ups --------------------------------------------------------------------------


def scheduled_draft(
    session: Session, clock: FrozenClock, conversation_id: str, *, auto_followup: bool
) -> Message:
    row = session.get(Conversation, conversation_id)
    assert row is not None
    draft = EntryFactory(session, clock).draft(row, None, send_at=T0 + 3600)
    draft.auto_followup = auto_followup
    outbox.enqueue(
        session,
        kind="send_draft",
        now=T0,
        policy=outbox.RetryPolicy(),
        due_at=T0 + 3600,
        message_id=draft.id,
        conversation_id=conversation_id,
    )
    conversation_state.refresh_summary(session, row)
    session.commit()
    return draft


def test_an_incoming_message_discards_pending_auto_followups(
    client: TestClient, world: World, session: Session, clock: FrozenClock
) -> None:
    first = created(client, world.token, account=world.channel.id, external_id="m1")
    cid = first["conversation"]
    followup = scheduled_draft(session, clock, cid, auto_followup=True).id
    kept = scheduled_draft(session, clock, cid, auto_followup=False).id
    assert conversation(client, world.token, cid)["send_later_messages_count"] == 2

    created(client, world.token, account=world.channel.id, references=["m1"])

    drafts = get(client, world.token, f"/v1/conversations/{cid}/drafts")["drafts"]
    assert [d["id"] for d in drafts] == [kept]
    assert conversation(client, world.token, cid)["send_later_messages_count"] == 1
    session.expire_all()
    assert session.get(Message, followup) is None
    statuses = dict(session.execute(select(OutboxItem.message_id, OutboxItem.status)).all())
    assert statuses == {None: "cancelled", kept: "pending"}


def test_a_new_conversation_leaves_other_auto_followups_alone(
    client: TestClient, world: World, session: Session, clock: FrozenClock
) -> None:
    first = created(client, world.token, account=world.channel.id)
    followup = scheduled_draft(session, clock, first["conversation"], auto_followup=True)

    created(client, world.token, account=world.channel.id)

    session.expire_all()
    assert session.get(Message, followup.id) is not None


# --- conversation actions (spec 1B) -----------------------------------------------------------


def test_actions_apply_with_the_channel_organization_by_default(
    client: TestClient, world: World
) -> None:
    ref = created(
        client,
        world.token,
        account=world.channel.id,
        add_users=[world.bob.id],
        add_assignees=[world.carol.id],
        add_shared_labels=[world.label.id],
        conversation_subject="Ticket 7",
        conversation_color="#ff0000",
    )

    found = conversation(client, world.token, ref["conversation"])
    assert found["subject"] == "Ticket 7"
    assert found["color"] == "#ff0000"
    assert [a["id"] for a in found["assignees"]] == [world.carol.id]
    assert [label["id"] for label in found["shared_labels"]] == [world.label.id]
    assert mailbox(client, world.bob_token, "inbox=true") == [ref["conversation"]]


def test_remove_actions_on_a_reply(client: TestClient, world: World) -> None:
    first = created(
        client,
        world.token,
        account=world.channel.id,
        add_assignees=[world.carol.id],
        add_shared_labels=[world.label.id],
    )

    created(
        client,
        world.token,
        account=world.channel.id,
        conversation=first["conversation"],
        remove_assignees=[world.carol.id],
        remove_shared_labels=[world.label.id],
    )

    found = conversation(client, world.token, first["conversation"])
    assert (found["assignees"], found["shared_labels"]) == ([], [])


def test_a_personal_channel_needs_an_organization_for_org_actions(
    client: TestClient, world: World
) -> None:
    response = post(
        client,
        world.token,
        {"messages": {"account": world.personal.id, "add_users": [world.bob.id]}},
    )

    assert response.status_code == 400
    assert response.json() == error("'organization' is required when using 'add_users'")


def test_force_team_moves_a_conversation_of_another_team(
    client: TestClient, world: World, factory: Factory
) -> None:
    other = factory.team(world.org, "Sales")
    first = created(client, world.token, account=world.team_channel.id)

    created(
        client,
        world.token,
        account=world.team_channel.id,
        conversation=first["conversation"],
        team=other.id,
        force_team=True,
    )

    assert conversation(client, world.token, first["conversation"])["team"]["id"] == other.id


def test_reopen_is_not_a_message_parameter(client: TestClient, world: World) -> None:
    ref = created(client, world.token, account=world.channel.id, close=True, reopen=True)

    assert mailbox(client, world.token, "closed=true") == [ref["conversation"]]


# --- attachments ------------------------------------------------------------------------------


def test_attachments_are_stored_listed_and_downloadable(
    client: TestClient, world: World, session: Session
) -> None:
    ref = created(
        client,
        world.token,
        account=world.channel.id,
        attachments=[
            {"base64_data": b64(PNG), "filename": "logo.png"},
            {"base64_data": b64(b"hello")[:4] + "\n" + b64(b"hello")[4:], "filename": "notes.txt"},
        ],
    )

    files = {a.filename: a for a in session.scalars(select(Attachment))}
    logo, text = files["logo.png"], files["notes.txt"]
    wire = get(client, world.token, f"/v1/messages/{ref['id']}")["messages"]["attachments"]
    assert wire == [
        {
            "id": logo.id,
            "filename": "logo.png",
            "extension": "png",
            "url": f"http://testserver/_files/{logo.id}/{logo.download_token}/logo.png",
            "media_type": "image",
            "sub_type": "png",
            "size": len(PNG),
            "width": 3,
            "height": 2,
        },
        {
            "id": text.id,
            "filename": "notes.txt",
            "extension": "txt",
            "url": f"http://testserver/_files/{text.id}/{text.download_token}/notes.txt",
            "media_type": "text",
            "sub_type": "plain",
            "size": 5,
        },
    ]
    listed = get(client, world.token, f"/v1/conversations/{ref['conversation']}/messages")
    assert listed["messages"][0]["attachments"] == wire
    assert client.get(wire[0]["url"].removeprefix("http://testserver")).content == PNG
    assert client.get(wire[1]["url"].removeprefix("http://testserver")).content == b"hello"
    assert conversation(client, world.token, ref["conversation"])["attachments_count"] == 2


def test_twenty_five_attachments_are_the_limit(client: TestClient, world: World) -> None:
    item = {"base64_data": b64(b"x"), "filename": "x.txt"}

    ok = created(client, world.token, account=world.channel.id, attachments=[item] * 25)
    refused = post(
        client, world.token, {"messages": {"account": world.channel.id, "attachments": [item] * 26}}
    )

    assert ok["id"]
    assert refused.status_code == 400
    assert refused.json() == error("'messages.attachments' must hold at most 25 files")


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"account": None}, "'messages.account' must be a string"),
        ({"account": 5}, "'messages.account' must be a string"),
        ({"body": 5}, "'messages.body' must be a string"),
        ({"from_field": "sam"}, "'messages.from_field' must be an object"),
        ({"to_fields": ["sam"]}, "'messages.to_fields[0]' must be an object"),
        ({"to_fields": "sam"}, "'messages.to_fields' must be an array"),
        ({"delivered_at": "1700000000"}, "'messages.delivered_at' must be an integer"),
        ({"delivered_at": True}, "'messages.delivered_at' must be an integer"),
        ({"delivered_at": -1}, "'messages.delivered_at' must be a Unix timestamp (seconds)"),
        (
            {"delivered_at": 1_700_000_000_000},
            "'messages.delivered_at' must be a Unix timestamp (seconds)",
        ),
        ({"external_id": "x" * 256}, "'messages.external_id' must be at most 255 characters"),
        ({"external_id": ["x"]}, "'messages.external_id' must be a string"),
        ({"references": "ref"}, "'messages.references' must be an array"),
        ({"references": ["x" * 999]}, "'messages.references[0]' must be at most 998 characters"),
        ({"conversation": 5}, "'messages.conversation' must be a string"),
        ({"close": "maybe"}, "'messages.close' must be true or false"),
        ({"add_users": "u"}, "'messages.add_users' must be an array"),
        ({"conversation_color": "blue"}, f"'messages.conversation_color' {COLOR_RULE}"),
        ({"attachments": {"filename": "a"}}, "'messages.attachments' must be an array"),
        (
            {"attachments": [{"filename": "a.txt"}]},
            "'messages.attachments[0].base64_data' is required",
        ),
        (
            {"attachments": [{"base64_data": "eA=="}]},
            "'messages.attachments[0].filename' is required",
        ),
        (
            {
                "attachments": [
                    {"base64_data": "eA==", "filename": "a"},
                    {"base64_data": "not base64!", "filename": "b"},
                ]
            },
            "'messages.attachments[1].base64_data' must be valid base64",
        ),
        (
            {"attachments": [{"base64_data": 5, "filename": "a"}]},
            "'messages.attachments[0].base64_data' must be a string",
        ),
        (
            {"attachments": [{"base64_data": "eA==", "filename": " "}]},
            "'messages.attachments[0].filename' must not be empty",
        ),
        (
            {"attachments": [{"base64_data": "eA==", "filename": "a" * 256}]},
            "'messages.attachments[0].filename' must be at most 255 characters",
        ),
        (
            {"attachments": [{"base64_data": "eA==", "filename": "a." + "x" * 33}]},
            "'messages.attachments[0].filename' must have an extension of at most 32 characters",
        ),
    ],
)
def test_request_validation(
    client: TestClient, world: World, fields: dict[str, Any], message: str
) -> None:
    response = post(client, world.token, {"messages": {"account": world.channel.id, **fields}})

    assert response.status_code == 400
    assert response.json() == error(message)


def test_account_is_required(client: TestClient, world: World) -> None:
    response = post(client, world.token, {"messages": {"body": "Hi"}})

    assert response.status_code == 400
    assert response.json() == error("'messages.account' is required")


@pytest.mark.parametrize(
    ("channel", "fields", "message"),
    [
        (
            "channel",
            {"subject": "Hi"},
            "'subject' can only be used with email-type custom channels",
        ),
        (
            "channel",
            {"cc_fields": [SENDER]},
            "'cc_fields' can only be used with email-type custom channels",
        ),
        (
            "team_channel",
            {"bcc_fields": [SENDER]},
            "'bcc_fields' can only be used with email-type custom channels",
        ),
        ("channel", {"from_field": {"id": ["x"]}}, "'from_field.id' must be a string"),
        (
            "channel",
            {"to_fields": [RECIPIENT, {"name": 5}]},
            "'to_fields[1].name' must be a string",
        ),
        ("email_channel", {"from_field": SENDER}, "'from_field.address' is required"),
        (
            "email_channel",
            {"from_field": {"address": "nobody"}},
            "'from_field.address' must be a valid email address",
        ),
        (
            "email_channel",
            {"to_fields": [{"address": "a@b.c"}, {"address": "x y@b.c"}]},
            "'to_fields[1].address' must be a valid email address",
        ),
        (
            "email_channel",
            {"cc_fields": [{"address": "a@b.c", "name": 5}]},
            "'cc_fields[0].name' must be a string",
        ),
        ("email_channel", {"bcc_fields": [{"name": "B"}]}, "'bcc_fields[0].address' is required"),
    ],
)
def test_participants_follow_the_channel_message_type(
    client: TestClient, world: World, channel: str, fields: dict[str, Any], message: str
) -> None:
    target: Account = getattr(world, channel)

    response = post(client, world.token, {"messages": {"account": target.id, **fields}})

    assert response.status_code == 400
    assert response.json() == error(message)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"add_to_team_inbox": True}, 400, "'team' is required when using 'add_to_team_inbox'"),
        ({"team": UNKNOWN}, 404, f"Team with id '{UNKNOWN}' does not exist"),
        ({"add_shared_labels": [UNKNOWN]}, 404, f"Shared label with id '{UNKNOWN}' does not exist"),
        ({"organization": UNKNOWN}, 404, f"Organization with id '{UNKNOWN}' does not exist"),
        ({"add_users": [UNKNOWN]}, 404, f"User with id '{UNKNOWN}' does not exist"),
    ],
)
def test_action_errors(
    client: TestClient, world: World, fields: dict[str, Any], status: int, message: str
) -> None:
    response = post(client, world.token, {"messages": {"account": world.channel.id, **fields}})

    assert response.status_code == status
    assert response.json() == error(message)


def test_a_body_over_10_mb_is_413(client: TestClient, world: World) -> None:
    big = {"base64_data": "A" * (10 * 1024 * 1024), "filename": "big.bin"}

    response = post(
        client, world.token, {"messages": {"account": world.channel.id, "attachments": [big]}}
    )

    assert response.status_code == 413
    assert response.json() == error("Request body is larger than the 10 MB limit")


def test_nothing_is_written_when_an_action_fails(
    client: TestClient, world: World, session: Session
) -> None:
    response = post(
        client,
        world.token,
        {"messages": {"account": world.channel.id, "add_shared_labels": [UNKNOWN]}},
    )

    assert response.status_code == 404
    assert session.scalars(select(Message)).all() == []
    assert session.scalars(select(Conversation)).all() == []


# --- auth, unknown and foreign ids ------------------------------------------------------------


def test_auth_is_required(client: TestClient, world: World) -> None:
    for headers in ({}, bearer("missive_pat-nope")):
        response = client.post(
            "/v1/messages", json={"messages": {"account": world.channel.id}}, headers=headers
        )
        assert response.status_code == 401
        assert response.json() == error("Authentication token is invalid or has been revoked")
    assert client.post("/v1/messages", json={"messages": []}).status_code == 401


@pytest.mark.parametrize("which", ["unknown", "foreign", "someone-elses-personal"])
def test_unknown_and_inaccessible_accounts_do_not_exist(
    client: TestClient, world: World, session: Session, which: str
) -> None:
    account_id = {
        "unknown": UNKNOWN,
        "foreign": world.foreign.id,
        "someone-elses-personal": account(session, None, owner=world.carol).id,
    }[which]

    response = post(client, world.token, {"messages": {"account": account_id}})

    assert response.status_code == 404
    assert response.json() == error(f"Account with id '{account_id}' does not exist")


def test_the_outsider_cannot_use_the_channel(client: TestClient, world: World) -> None:
    response = post(client, world.outsider_token, {"messages": {"account": world.channel.id}})

    assert response.status_code == 404
    assert response.json() == error(f"Account with id '{world.channel.id}' does not exist")


def test_other_account_types_are_refused(client: TestClient, world: World) -> None:
    response = post(client, world.token, {"messages": {"account": world.sms.id}})

    assert response.status_code == 400
    assert response.json() == error(
        f"Account with id '{world.sms.id}' is not a custom channel: only custom channels accept "
        "POST /v1/messages (send through other accounts with POST /v1/drafts)"
    )


@pytest.mark.parametrize("which", ["unknown", "foreign", "not-shared"])
def test_unknown_and_foreign_conversations_do_not_exist(
    client: TestClient, world: World, factory: Factory, which: str
) -> None:
    other = factory.organization("Elsewhere")
    conversation_id = {
        "unknown": UNKNOWN,
        "foreign": factory.conversation(other).id,
        "not-shared": factory.conversation(world.org, users=[world.bob]).id,
    }[which]

    response = post(
        client,
        world.token,
        {"messages": {"account": world.channel.id, "conversation": conversation_id}},
    )

    assert response.status_code == 404
    assert response.json() == error(f"Conversation with id '{conversation_id}' does not exist")


def test_a_conversation_of_another_organization_of_the_caller_is_not_found(
    client: TestClient, world: World, factory: Factory
) -> None:
    second = factory.organization("Second")
    factory.session.add(Membership(organization_id=second.id, user_id=world.alice.id, role="user"))
    factory.session.commit()
    theirs = factory.conversation(second, users=[world.alice])

    response = post(
        client, world.token, {"messages": {"account": world.channel.id, "conversation": theirs.id}}
    )

    assert response.status_code == 404
    assert response.json() == error(f"Conversation with id '{theirs.id}' does not exist")
