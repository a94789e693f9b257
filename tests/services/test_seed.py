"""The seed service directly: what each entry becomes, idempotency, and error messages."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import (
    Account,
    AccountUser,
    Attachment,
    Comment,
    Conversation,
    ConversationLabel,
    ConversationUser,
    Message,
    Post,
    SharedLabel,
    Task,
    TaskAssignee,
    TeamMember,
)
from missive_server.services.directory import tokens
from missive_server.services.directory.users import require_users_in_organization
from missive_server.services.seed._conversations import seeded_id
from missive_server.services.seed.demo import DEMO_TOKENS, demo_document
from missive_server.services.seed.seed import SeedError, SeedResult, parse_document, seed
from tests.conftest import bearer
from tests.factories import Factory

ORG = "Acme"


def base(**more: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "organizations": [{"name": ORG}],
        "users": [
            {"email": "alice@acme.test", "name": "Alice", "organizations": {ORG: "owner"}},
            {"email": "bob@acme.test", "name": "Bob", "organizations": {ORG: "user"}},
        ],
        "teams": [{"name": "Support", "organization": ORG, "active_members": ["alice@acme.test"]}],
    }
    document.update(more)
    return document


def run(session: Session, clock: FrozenClock, document: dict[str, Any]) -> SeedResult:
    result = seed(session, parse_document(document), now=clock.now())
    session.commit()
    return result


def error_of(session: Session, clock: FrozenClock, document: dict[str, Any]) -> str:
    with pytest.raises(SeedError) as raised:
        seed(session, parse_document(document), now=clock.now())
    session.rollback()
    return raised.value.message


def conversation(**fields: Any) -> dict[str, Any]:
    message = {
        "from_field": {"address": "c@example.com", "name": "C"},
        "subject": "Hello",
        "delivered_at": 1_600_000_000,
    }
    return {"organization": ORG, "users": ["alice@acme.test"], "messages": [message], **fields}


def test_users_get_memberships_a_personal_account_and_a_first_token(
    session: Session, clock: FrozenClock
) -> None:
    result = run(session, clock, base())
    alice_id = result.ids["users"]["alice@acme.test"]

    personal = session.scalar(select(Account).where(Account.owner_id == alice_id))
    assert personal is not None
    assert (personal.type, personal.address, personal.organization_id) == (
        "email",
        "alice@acme.test",
        None,
    )
    assert session.get(AccountUser, (personal.id, alice_id)) is not None
    assert set(result.tokens) == {"alice@acme.test", "bob@acme.test"}
    assert tokens.authenticate(session, result.tokens["alice@acme.test"]) is not None
    members = require_users_in_organization(session, result.ids["organizations"][ORG], [alice_id])
    assert members == [alice_id]

    again = run(session, clock, base())
    assert again.ids == result.ids
    assert again.tokens == {}


def test_fixed_token_and_role_changes_follow_the_document(
    session: Session, clock: FrozenClock
) -> None:
    run(session, clock, base())
    document = base()
    document["users"][1] = {
        **document["users"][1],
        "organizations": {ORG: "admin"},
        "token": "missive_pat-bob-fixed",
    }

    result = run(session, clock, document)

    principal = tokens.authenticate(session, "missive_pat-bob-fixed")
    assert principal is not None
    assert principal.roles == {result.ids["organizations"][ORG]: "admin"}
    assert result.tokens == {"bob@acme.test": "missive_pat-bob-fixed"}


def test_nested_labels_are_keyed_by_path(session: Session, clock: FrozenClock) -> None:
    labels = [
        {"name": "Customers", "organization": ORG},
        {
            "name": "VIP",
            "organization": ORG,
            "parent": "Customers",
            "share_with_users": ["bob@acme.test"],
        },
        {
            "name": "Partners",
            "organization": ORG,
            "visibility": "delegates",
            "share_with_team": "Support",
        },
        {"name": "VIP", "organization": ORG, "parent": "Partners"},
    ]

    result = run(session, clock, base(shared_labels=labels))

    assert set(result.ids["shared_labels"]) == {
        "Customers",
        "Customers/VIP",
        "Partners",
        "Partners/VIP",
    }
    child = session.get(SharedLabel, result.ids["shared_labels"]["Customers/VIP"])
    partners = session.get(SharedLabel, result.ids["shared_labels"]["Partners"])
    assert child is not None
    assert partners is not None
    assert child.parent_id == result.ids["shared_labels"]["Customers"]
    assert (partners.visibility, partners.share_with_team_id) == (
        "delegates",
        result.ids["teams"]["Support"],
    )
    ambiguous = base(shared_labels=labels, conversations=[conversation(shared_labels=["VIP"])])
    assert (
        "conversations[0] (Hello): shared_labels: shared label 'VIP' is ambiguous; "
        "use one of 'Customers/VIP', 'Partners/VIP'"
    ) in error_of(session, clock, ambiguous)


def test_conversation_state_messages_comments_and_posts(
    session: Session, clock: FrozenClock
) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
    entry = conversation(
        key="k1",
        team="Support",
        users=["alice@acme.test"],
        assignees=["bob@acme.test"],
        flagged=["alice@acme.test"],
        closed=True,
        shared_labels=["Billing"],
        comments=[{"author": "bob@acme.test", "body": "Mine", "created_at": 1_600_000_100}],
        posts=[
            {
                "username": "Bot",
                "text": "Synced",
                "attachments": [{"color": "good"}],
                "created_at": 1_600_000_200,
            }
        ],
    )
    entry["messages"][0]["attachments"] = [{"filename": "a.png", "base64_data": png}]
    document = base(shared_labels=[{"name": "Billing", "organization": ORG}], conversations=[entry])

    result = run(session, clock, document)

    found = session.get(Conversation, result.ids["conversations"]["k1"])
    assert found is not None
    assert found.id == seeded_id(result.ids["organizations"][ORG], "key", "k1")
    assert (found.team_state, found.messages_count, found.attachments_count) == ("closed", 1, 1)
    assert found.last_activity_at == 1_600_000_200
    # Closed once everything in it had happened, so demo analytics show resolution times.
    assert found.closed_at == 1_600_000_200
    states = {
        s.user_id: s
        for s in session.scalars(
            select(ConversationUser).where(ConversationUser.conversation_id == found.id)
        )
    }
    alice, bob = result.ids["users"]["alice@acme.test"], result.ids["users"]["bob@acme.test"]
    assert (states[alice].location, states[alice].flagged, states[alice].assigned) == (
        "closed",
        True,
        False,
    )
    assert (states[bob].assigned, states[bob].last_activity_at) == (True, 1_600_000_200)
    assert (
        session.scalar(select(ConversationLabel.shared_label_id))
        == result.ids["shared_labels"]["Billing"]
    )
    assert [c.body for c in session.scalars(select(Comment))] == ["Mine"]
    post = session.scalars(select(Post)).one()
    assert (post.username, post.attachments) == ("Bot", [{"color": "good"}])
    assert session.scalars(select(Attachment)).one().filename == "a.png"


def test_an_open_seeded_conversation_has_no_close_time(
    session: Session, clock: FrozenClock
) -> None:
    document = base(conversations=[conversation(key="open")])

    result = run(session, clock, document)

    found = session.get_one(Conversation, result.ids["conversations"]["open"])
    assert (found.team_state, found.closed_at) == ("none", None)


def test_custom_channel_messages_take_the_account_type(
    session: Session, clock: FrozenClock
) -> None:
    account = {
        "type": "custom",
        "name": "Chat",
        "organization": ORG,
        "message_type": "custom_html",
        "users": ["bob@acme.test"],
    }
    entry = {
        "key": "chat-1",
        "organization": ORG,
        "account": "Chat",
        "users": ["bob@acme.test"],
        "messages": [
            {"from_field": {"name": "Visitor"}, "body": "Hi"},
            {"author": "bob@acme.test", "body": "Hello!"},
        ],
    }

    result = run(session, clock, base(accounts=[account], conversations=[entry]))

    messages = session.scalars(select(Message).order_by(Message.author_id.is_not(None))).all()
    assert [m.type for m in messages] == ["custom_html", "custom_html"]
    assert messages[1].from_field == {"name": "Bob", "address": "bob@acme.test"}
    assert messages[0].account_id == result.ids["accounts"]["Chat"]
    assert session.scalar(select(TeamMember.role)) == "active"


def test_existing_conversation_is_found_by_its_first_message_id(
    session: Session, clock: FrozenClock, factory: Factory
) -> None:
    result = run(session, clock, base())
    entry = conversation()
    entry["messages"][0]["email_message_id"] = "<abc@example.com>"
    first = run(session, clock, base(conversations=[entry]))

    entry["messages"][0]["email_message_id"] = "abc@example.com"
    again = run(session, clock, base(conversations=[entry]))

    assert (
        again.ids["conversations"]
        == first.ids["conversations"]
        == {"abc@example.com": again.ids["conversations"]["abc@example.com"]}
    )
    assert len(session.scalars(select(Conversation)).all()) == 1
    assert result.ids["organizations"] == again.ids["organizations"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"teams": [{"name": "Support", "organization": "Nope"}]},
            "teams[0] (Support): organization: no organization 'Nope' in this file or the database",
        ),
        (
            {"conversations": [conversation(users=["eve@evil.test"])]},
            "conversations[0] (Hello): users: no user 'eve@evil.test' in this file or the database",
        ),
        (
            {"conversations": [conversation(team="Sales")]},
            "conversations[0] (Hello): team: no team 'Sales' in 'Acme'",
        ),
        (
            {"conversations": [conversation(account="x@acme.test")]},
            "conversations[0] (Hello): account: no account 'x@acme.test' in 'Acme'",
        ),
        (
            {"conversations": [conversation(users=[])]},
            "conversations[0] (Hello): users: at least one user must have access",
        ),
        (
            {"conversations": [conversation(), conversation()]},
            "conversations[1] (Hello): same identity as conversations[0] (Hello) ('Hello')",
        ),
        (
            {"conversations": [{"organization": ORG, "users": ["bob@acme.test"]}]},
            "conversations[0]: key: needed so the next run finds this conversation",
        ),
        (
            {"shared_labels": [{"name": "B", "organization": ORG, "parent": "A"}]},
            "shared_labels[0] (B): parent: no shared label 'A' in 'Acme'",
        ),
    ],
)
def test_wrong_references_name_the_entry(
    session: Session, clock: FrozenClock, change: dict[str, Any], expected: str
) -> None:
    assert expected in error_of(session, clock, base(**change))


def test_users_must_belong_to_the_organization(session: Session, clock: FrozenClock) -> None:
    document = base()
    document["users"].append({"email": "guest@else.test"})
    document["teams"][0]["observers"] = ["guest@else.test"]

    assert (
        error_of(session, clock, document)
        == "teams[0] (Support): observers: 'guest@else.test' is not a member of 'Acme'"
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"users": [{"email": "a@b.test", "role": "owner"}]},
            "users[0] (a@b.test): role: unknown field",
        ),
        (
            {"users": [{"email": "not-an-email"}]},
            "users[0] (not-an-email): email: must be an email address",
        ),
        (
            {"accounts": [{"type": "email", "adress": "x@y.test"}]},
            "accounts[0]: address: Field required",
        ),
        (
            {"accounts": [{"type": "fax", "name": "F"}]},
            "accounts[0] (F): Input tag 'fax' found using 'type' does not match",
        ),
        (
            {
                "conversations": [
                    {"messages": [{"attachments": [{"filename": "a", "base64_data": "%%"}]}]}
                ]
            },
            "conversations[0]: messages[0].attachments[0].base64_data: is not valid base64",
        ),
        (
            {"conversations": [{"posts": [{"username": "Bot"}]}]},
            "conversations[0]: posts[0]: a post needs 'text', 'markdown' or 'attachments'",
        ),
        (
            {"conversations": [{"posts": [{"text": "x", "notification": {"title": ""}}]}]},
            "conversations[0]: posts[0].notification: a notification needs a 'title' or a 'body'",
        ),
        ({"organisations": []}, "organisations: unknown field"),
    ],
)
def test_invalid_documents_name_the_path(document: dict[str, Any], expected: str) -> None:
    with pytest.raises(SeedError) as raised:
        parse_document(document)

    assert expected in raised.value.message


def test_same_names_in_two_organizations_are_prefixed(session: Session, clock: FrozenClock) -> None:
    document = {
        "organizations": [{"name": "A"}, {"name": "B"}],
        "teams": [
            {"name": "Support", "organization": "A"},
            {"name": "Support", "organization": "B"},
        ],
    }

    result = run(session, clock, document)

    assert set(result.ids["teams"]) == {"A: Support", "B: Support"}


def test_demo_document_seeds_and_reseeds_identically(session: Session, clock: FrozenClock) -> None:
    document = demo_document(clock.now())

    first = seed(session, document, now=clock.now())
    second = seed(session, document, now=clock.now())

    assert first.ids == second.ids
    assert len(first.ids["conversations"]) == 6
    assert first.tokens == DEMO_TOKENS


def test_tasks_are_seeded_once(session: Session, clock: FrozenClock) -> None:
    document = base(
        tasks=[
            {
                "organization": ORG,
                "title": "Update the macro",
                "team": "Support",
                "assignees": ["bob@acme.test", "bob@acme.test"],
                "creator": "alice@acme.test",
                "state": "in_progress",
                "due_at": 1_800_000_000,
            }
        ]
    )
    result = run(session, clock, document)
    task = session.get(Task, result.ids["tasks"]["Update the macro"])
    assert task is not None
    assert (task.state, task.started_at, task.closed_at, task.due_at, task.type) == (
        "in_progress",
        clock.now(),
        None,
        1_800_000_000,
        "task",
    )
    assert (task.team_id, task.creator_id) == (
        result.ids["teams"]["Support"],
        result.ids["users"]["alice@acme.test"],
    )
    assignees = session.scalars(select(TaskAssignee.user_id).where(TaskAssignee.task_id == task.id))
    assert list(assignees) == [result.ids["users"]["bob@acme.test"]]
    assert run(session, clock, document).ids == result.ids


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"title": "t"}, "tasks[0] (t): a standalone task needs a 'team' or 'assignees'"),
        (
            {"title": "t", "team": "Nope"},
            "tasks[0] (t): team: no team 'Nope' in 'Acme' in this file or the database",
        ),
        (
            {"title": "t", "assignees": ["carol@else.test"]},
            "tasks[0] (t): assignees: no user 'carol@else.test' in this file or the database",
        ),
    ],
)
def test_task_seed_errors(
    session: Session, clock: FrozenClock, task: dict[str, Any], message: str
) -> None:
    with pytest.raises(SeedError) as raised:
        run(session, clock, base(tasks=[{"organization": ORG, **task}]))
    assert str(raised.value) == message


def test_a_post_notification_may_have_a_title_or_a_body_only(
    session: Session, clock: FrozenClock, client: TestClient
) -> None:
    """As ``POST /v1/posts`` accepts them (docs/compatibility.md, Posts)."""
    posts = [
        {"text": "Deployed", "notification": {"title": "[widgets]"}},
        {"text": "Linked", "notification": {"body": "octocat referenced this"}, "created_at": 1},
    ]
    result = run(session, clock, base(conversations=[conversation(posts=posts)]))

    token = result.tokens["alice@acme.test"]
    [cid] = result.ids["conversations"].values()
    listed = client.get(f"/v1/conversations/{cid}/posts", headers=bearer(token)).json()["posts"]
    assert [p["notification"] for p in listed] == [
        {"title": "[widgets]", "body": None},
        {"title": None, "body": "octocat referenced this"},
    ]
