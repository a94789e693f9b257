"""POST /v1/posts and DELETE /v1/posts/:id (spec 2.10), with the actions of spec 1B."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Conversation, Organization, Post, SharedLabel, Team, User
from missive_server.ids import new_id
from missive_server.services.conversations.messages import MessageInput
from tests.conftest import bearer
from tests.factories import Factory, set_user_state

T0 = 1_700_000_000
NOTE = {"title": "A title", "body": "A body"}
REF = "<ref-1@mail.example.com>"
FLAGS = ("unassigned", "closed", "archived", "trashed", "junked", "assigned", "flagged", "snoozed")


@dataclass
class World:
    org: Organization
    alice: User
    admin: User
    bob: User
    token: str
    admin_token: str
    team: Team
    label: SharedLabel
    conversation: Conversation


@pytest.fixture
def world(factory: Factory) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    admin = factory.user("admin@acme.test", organizations={org: "admin"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    team = factory.team(org, "Support", active=[bob])
    label = factory.shared_label(org, "VIP", color="#f00")
    mail = MessageInput(
        subject="Hello",
        body="<p>Hi</p>",
        delivered_at=T0,
        from_field={"name": "C", "address": "c@example.com"},
        to_fields=[{"address": "support@acme.test"}],
        email_message_id=REF,
    )
    conversation = factory.conversation(org, users=[alice, admin], at=T0, messages=[mail])
    return World(
        org,
        alice,
        admin,
        bob,
        factory.token(alice),
        factory.token(admin),
        team,
        label,
        conversation,
    )


def post(client: TestClient, token: str, body: Any) -> Any:
    return client.post("/v1/posts", json=body, headers=bearer(token))


def created(client: TestClient, token: str, **fields: Any) -> dict[str, str]:
    response = post(client, token, {"posts": {"notification": NOTE, "text": "Hi", **fields}})
    assert response.status_code == 201, response.json()
    ref: dict[str, str] = response.json()["posts"]
    return ref


def conversation(client: TestClient, token: str, cid: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{cid}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    found: dict[str, Any] = response.json()["conversations"][0]
    return found


def listed_posts(client: TestClient, token: str, cid: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/conversations/{cid}/posts", headers=bearer(token))
    assert response.status_code == 200, response.json()
    found: list[dict[str, Any]] = response.json()["posts"]
    return found


def user_out(user: User, **state: bool) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email} | {
        flag: state.get(flag, False) for flag in FLAGS
    }


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


# --- creating ---------------------------------------------------------------------------------

FULL_BLOCK = {
    "color": "#2266ED",
    "pretext": "Before",
    "author_name": "Philippe Lehoux",
    "author_link": "mailto:philippe@missiveapp.com",
    "author_icon": "avatar:philippe@missiveapp.com",
    "title": "New signup",
    "title_link": "https://example.com/signups/1",
    "image_url": "https://example.com/chart.png",
    "text": "New customer signed up!",
    "markdown": "**New** customer",
    "timestamp": 1511540318,
    "footer": "CRM",
    "footer_icon": "https://example.com/crm.png",
    "fields": [
        {"title": "Plan", "value": "Pro", "short": True},
        {"title": "Seats", "value": 12, "short": True},
        {"title": "Note"},
    ],
}


def test_create_returns_ids_and_the_post_is_listed(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    clock.advance(60)
    body = {
        "posts": {
            "conversation": world.conversation.id,
            "notification": NOTE,
            "username": "Missive",
            "username_icon": "https://s3.amazonaws.com/missive-assets/missive-avatar.png",
            "text": "Plain",
            "markdown": "*Marked*",
            "attachments": [FULL_BLOCK, {"color": "good"}],
        }
    }

    response = post(client, world.token, body)

    assert response.status_code == 201
    post_id = response.json()["posts"]["id"]
    assert response.json() == {"posts": {"id": post_id, "conversation": world.conversation.id}}
    block = FULL_BLOCK | {
        "fields": [
            {"title": "Plan", "value": "Pro", "short": True},
            {"title": "Seats", "value": "12", "short": True},
            {"title": "Note"},
        ]
    }
    assert listed_posts(client, world.token, world.conversation.id) == [
        {
            "id": post_id,
            "created_at": T0 + 60,
            "username": "Missive",
            "username_icon": "https://s3.amazonaws.com/missive-assets/missive-avatar.png",
            "notification": NOTE,
            "attachments": [block, {"color": "good"}],
            "text": "Plain",
            "markdown": "*Marked*",
        }
    ]


def test_unwrapped_body_and_defaults(client: TestClient, world: World, session: Session) -> None:
    world.alice.avatar_url = "https://example.com/alice.png"
    session.commit()
    body = {"conversation": world.conversation.id, "notification": NOTE, "markdown": "**x**"}

    response = post(client, world.token, body)

    assert response.status_code == 201
    post_id = response.json()["posts"]["id"]
    assert listed_posts(client, world.token, world.conversation.id) == [
        {
            "id": post_id,
            "created_at": T0,
            "username": "Alice",  # the token owner by default (spec 2.10.1)
            "username_icon": "https://example.com/alice.png",
            "notification": NOTE,
            "attachments": [],
            "markdown": "**x**",
        }
    ]


def test_post_moves_last_activity(client: TestClient, world: World, clock: FrozenClock) -> None:
    clock.advance(300)
    created(client, world.token, conversation=world.conversation.id)

    assert conversation(client, world.token, world.conversation.id)["last_activity_at"] == T0 + 300
    listed = client.get("/v1/conversations?inbox=true", headers=bearer(world.token)).json()
    assert [(c["id"], c["last_activity_at"]) for c in listed["conversations"]] == [
        (world.conversation.id, T0 + 300)
    ]


def test_without_conversation_a_new_one_is_created(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    clock.advance(30)
    ref = created(client, world.token, organization=world.org.id)

    cid = ref["conversation"]
    assert cid != world.conversation.id
    assert conversation(client, world.token, cid) == {
        "id": cid,
        "created_at": T0 + 30,
        "subject": None,
        "latest_message_subject": None,
        "organization": {"id": world.org.id, "name": "Acme"},
        "color": None,
        "assignees": [],
        "users": [user_out(world.alice)],
        "attachments_count": 0,
        "messages_count": 0,
        "authors": [],
        "drafts_count": 0,
        "send_later_messages_count": 0,
        "tasks_count": 0,
        "completed_tasks_count": 0,
        "web_url": f"http://testserver/#inbox/conversations/{cid}",
        "app_url": f"missive://testserver/#inbox/conversations/{cid}",
        "assignee_names": "",
        "assignee_emails": "",
        "shared_label_names": "",
        "last_activity_at": T0 + 30,
        "team": None,
        "shared_labels": [],
    }
    assert [p["id"] for p in listed_posts(client, world.token, cid)] == [ref["id"]]


def test_personal_conversation_without_organization(client: TestClient, world: World) -> None:
    cid = created(client, world.token)["conversation"]

    found = conversation(client, world.token, cid)
    assert (found["organization"], found["users"]) == (None, [user_out(world.alice)])


@pytest.mark.parametrize("reference", [REF, REF.strip("<>"), f"  {REF} "])
def test_references_find_the_conversation(client: TestClient, world: World, reference: str) -> None:
    ref = created(client, world.token, references=["<unknown@x>", reference])
    assert ref["conversation"] == world.conversation.id


def test_unmatched_references_create_a_conversation(client: TestClient, world: World) -> None:
    ref = created(client, world.token, references=["<nothing@here>"])
    assert ref["conversation"] != world.conversation.id


def test_references_of_an_invisible_conversation_do_not_match(
    client: TestClient, factory: Factory, world: World
) -> None:
    bob_token = factory.token(world.bob)
    assert created(client, bob_token, references=[REF])["conversation"] != world.conversation.id


def test_strings_are_truncated_silently(client: TestClient, world: World) -> None:
    long = "x" * 9000
    body = {
        "conversation": world.conversation.id,
        "notification": {"title": "t" * 300, "body": "b" * 3000},
        "text": long,
        "markdown": long,
        "username": "u" * 300,
        "attachments": [{"text": long, "title": "t" * 300, "fields": [{"value": "v" * 3000}]}],
    }
    assert post(client, world.token, {"posts": body}).status_code == 201

    (listed,) = listed_posts(client, world.token, world.conversation.id)
    assert listed["notification"] == {"title": "t" * 255, "body": "b" * 2000}
    assert (listed["text"], listed["markdown"]) == ("x" * 8000, "x" * 8000)
    assert listed["username"] == "u" * 255
    assert listed["attachments"] == [
        {"title": "t" * 255, "text": "x" * 8000, "fields": [{"value": "v" * 2000}]}
    ]


# --- conversation actions (spec 1B) --------------------------------------------------------------


def test_labels_assignees_users_team_subject_and_color(
    client: TestClient, factory: Factory, world: World, session: Session
) -> None:
    old = factory.shared_label(world.org, "Old")
    created(
        client,
        world.admin_token,
        conversation=world.conversation.id,
        organization=world.org.id,
        add_shared_labels=[world.label.id],
        add_assignees=[world.alice.id],
        add_users=[world.bob.id],
        team=world.team.id,
        conversation_subject="Renamed",
        update_existing_conversation_subject=True,
        conversation_color="warning",
        conversation_icon="https://example.com/icon.png",
    )
    found = conversation(client, world.token, world.conversation.id)
    assert found["assignees"] == [user_out(world.alice, assigned=True)]
    assert found["users"] == [
        user_out(world.admin),
        user_out(world.alice, assigned=True),
        user_out(world.bob),
    ]
    assert found["team"] == {"id": world.team.id, "name": "Support", "organization": world.org.id}
    assert [label["id"] for label in found["shared_labels"]] == [world.label.id]
    assert (found["subject"], found["color"]) == ("Renamed", "warning")
    # Not part of Missive's conversation object; kept for the conversation list icon.
    session.expire_all()
    stored = session.get(Conversation, world.conversation.id)
    assert stored is not None
    assert stored.icon_url == "https://example.com/icon.png"
    assert session.scalars(select(Post.conversation_icon)).all() == ["https://example.com/icon.png"]

    created(
        client,
        world.token,
        conversation=world.conversation.id,
        organization=world.org.id,
        remove_assignees=[world.alice.id],
        remove_shared_labels=[world.label.id, old.id],
    )
    found = conversation(client, world.token, world.conversation.id)
    assert (found["assignees"], found["shared_labels"]) == ([], [])
    assert found["users"][1] == user_out(world.alice, unassigned=True)


def test_close_closes_for_everyone_and_the_team(client: TestClient, world: World) -> None:
    cid = world.conversation.id
    created(client, world.token, conversation=cid, team=world.team.id, close=True)

    found = conversation(client, world.token, cid)
    assert [u["closed"] for u in found["users"]] == [True, True, True]  # admin, alice, bob
    team_closed = f"/v1/conversations?team_closed={world.team.id}"
    listed = client.get(team_closed, headers=bearer(world.token)).json()["conversations"]
    assert [c["id"] for c in listed] == [cid]


def test_a_post_reopens_a_closed_conversation(
    client: TestClient, factory: Factory, world: World
) -> None:
    cid = world.conversation.id
    created(client, world.token, conversation=cid, team=world.team.id, close=True)
    set_user_state(factory, world.conversation, world.admin, location="trashed")

    created(client, world.token, conversation=cid)

    found = conversation(client, world.token, cid)
    assert [(u["name"], u["closed"], u["trashed"]) for u in found["users"]] == [
        ("Admin", False, True),  # Trash stays put
        ("Alice", False, False),
        ("Bob", False, False),
    ]
    team_inbox = f"/v1/conversations?team_inbox={world.team.id}"
    listed = client.get(team_inbox, headers=bearer(world.token)).json()["conversations"]
    assert [c["id"] for c in listed] == [cid]


@pytest.mark.parametrize(
    "flags", [{"reopen": True}, {"close": True, "reopen": False}, {"close": True, "reopen": True}]
)
def test_reopen_true_keeps_it_closed_and_close_wins(
    client: TestClient, factory: Factory, world: World, flags: dict[str, bool]
) -> None:
    set_user_state(factory, world.conversation, world.alice, location="closed")

    created(client, world.token, conversation=world.conversation.id, **flags)

    users = conversation(client, world.token, world.conversation.id)["users"]
    closed = {u["id"]: u["closed"] for u in users}
    assert closed[world.alice.id] is True
    assert closed[world.admin.id] is flags.get("close", False)


def test_add_to_inbox_and_team_inbox(client: TestClient, factory: Factory, world: World) -> None:
    set_user_state(factory, world.conversation, world.alice, location="snoozed")
    set_user_state(factory, world.conversation, world.admin, location="closed")
    cid = world.conversation.id

    created(
        client,
        world.token,
        conversation=cid,
        team=world.team.id,
        add_to_inbox=True,
        add_to_team_inbox=True,
        reopen=True,
    )

    users = conversation(client, world.token, cid)["users"]
    assert users[:2] == [user_out(world.admin), user_out(world.alice)]
    inbox = client.get("/v1/conversations?inbox=true", headers=bearer(world.token)).json()
    assert [c["id"] for c in inbox["conversations"]] == [cid]
    team_inbox = f"/v1/conversations?team_inbox={world.team.id}"
    listed = client.get(team_inbox, headers=bearer(world.token)).json()["conversations"]
    assert [c["id"] for c in listed] == [cid]


# --- validation ------------------------------------------------------------------------------

BLOCK_COLOR = "must be a HEX color (#RGB or #RRGGBB) or one of good, warning, danger"
CONTENT = "'posts' must have at least one of 'text', 'markdown' or 'attachments'"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"notification": None}, "'posts.notification' must be an object"),
        ({"notification": "hi"}, "'posts.notification' must be an object"),
        ({"notification": {}}, "'posts.notification' must have a 'title' or a 'body'"),
        (
            {"notification": {"title": None, "body": ""}},
            "'posts.notification' must have a 'title' or a 'body'",
        ),
        (
            {"update_existing_conversation_subject": "maybe"},
            "'posts.update_existing_conversation_subject' must be true or false",
        ),
        (
            {"notification": {"title": 1, "body": "b"}},
            "'posts.notification.title' must be a string",
        ),
        ({"text": None}, CONTENT),
        ({"text": "  ", "markdown": ""}, CONTENT),
        ({"text": None, "attachments": []}, CONTENT),
        ({"text": 5}, "'posts.text' must be a string"),
        ({"markdown": ["x"]}, "'posts.markdown' must be a string"),
        ({"attachments": {"text": "x"}}, "'posts.attachments' must be an array"),
        ({"attachments": ["x"]}, "'posts.attachments[0]' must be an object"),
        ({"attachments": [{}, {"color": "red"}]}, f"'posts.attachments[1].color' {BLOCK_COLOR}"),
        ({"attachments": [{"color": "#12"}]}, f"'posts.attachments[0].color' {BLOCK_COLOR}"),
        ({"attachments": [{"title": 3}]}, "'posts.attachments[0].title' must be a string"),
        (
            {"attachments": [{"timestamp": "1511540318"}]},
            "'posts.attachments[0].timestamp' must be an integer",
        ),
        (
            {"attachments": [{"timestamp": True}]},
            "'posts.attachments[0].timestamp' must be an integer",
        ),
        (
            {"attachments": [{"timestamp": 1.5}]},
            "'posts.attachments[0].timestamp' must be an integer",
        ),
        (
            {"attachments": [{"timestamp": -1}]},
            "'posts.attachments[0].timestamp' must be a Unix timestamp (seconds)",
        ),
        ({"attachments": [{"fields": {}}]}, "'posts.attachments[0].fields' must be an array"),
        (
            {"attachments": [{"fields": [{"short": "sometimes"}]}]},
            "'posts.attachments[0].fields[0].short' must be true or false",
        ),
        (
            {"attachments": [{"fields": [{"value": ["a"]}]}]},
            "'posts.attachments[0].fields[0].value' must be a string",
        ),
        ({"username": 1}, "'posts.username' must be a string"),
        ({"conversation_icon": {}}, "'posts.conversation_icon' must be a string"),
        ({"conversation_color": "blue"}, f"'posts.conversation_color' {BLOCK_COLOR}"),
        ({"conversation": 12}, "'posts.conversation' must be a string"),
        ({"references": "<a@b>"}, "'posts.references' must be an array"),
        ({"close": "maybe"}, "'posts.close' must be true or false"),
        ({"reopen": "maybe"}, "'posts.reopen' must be true or false"),
        ({"add_users": ["x"]}, "'organization' is required when using 'add_users'"),
        ({"add_assignees": ["x"]}, "'organization' is required when using 'add_assignees'"),
        ({"remove_assignees": ["x"]}, "'organization' is required when using 'remove_assignees'"),
        ({"add_shared_labels": ["x"]}, "'organization' is required when using 'add_shared_labels'"),
        ({"add_to_team_inbox": True}, "'team' is required when using 'add_to_team_inbox'"),
    ],
)
def test_validation_errors(
    client: TestClient, world: World, session: Session, fields: dict[str, Any], message: str
) -> None:
    body = {"notification": NOTE, "text": "Hi", **fields}

    response = post(client, world.token, {"posts": body})

    assert response.status_code == 400
    assert response.json() == error(message)
    assert session.scalar(select(func.count()).select_from(Post)) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'posts.notification' is required"),
        ({"posts": {}}, "'posts.notification' is required"),
        ({"posts": [{"notification": NOTE, "text": "x"}]}, "'posts' must be an object"),
        ({"posts": None}, "'posts' must be an object"),
        ([], "Request body must be a JSON object"),
    ],
)
def test_body_shape_errors(client: TestClient, world: World, body: Any, message: str) -> None:
    response = post(client, world.token, body)
    assert response.status_code == 400
    assert response.json() == error(message)


def test_requires_a_token(client: TestClient, world: World) -> None:
    revoked = error("Authentication token is invalid or has been revoked")
    for headers in ({}, bearer("missive_pat-nope")):
        response = client.post("/v1/posts", json={"posts": {}}, headers=headers)
        assert (response.status_code, response.json()) == (401, revoked)
        response = client.delete(f"/v1/posts/{new_id()}", headers=headers)
        assert (response.status_code, response.json()) == (401, revoked)


def test_oversized_body_is_413(client: TestClient, world: World) -> None:
    body = {"posts": {"notification": NOTE, "text": "x" * (10 * 1024 * 1024)}}

    response = post(client, world.token, body)

    assert response.status_code == 413
    assert response.json() == error("Request body is larger than the 10 MB limit")


def test_unknown_and_foreign_ids_are_404(
    client: TestClient, factory: Factory, world: World, session: Session
) -> None:
    other = factory.organization("Other")
    stranger = factory.user("s@other.test", organizations={other: "user"})
    foreign_label, foreign_team = factory.shared_label(other), factory.team(other)
    foreign = factory.conversation(other, users=[stranger])
    not_mine = factory.conversation(world.org, users=[world.bob])
    unknown, org = new_id(), world.org.id
    cases: list[tuple[dict[str, Any], str]] = [
        ({"conversation": unknown}, f"Conversation with id '{unknown}'"),
        ({"conversation": foreign.id}, f"Conversation with id '{foreign.id}'"),
        ({"conversation": not_mine.id}, f"Conversation with id '{not_mine.id}'"),
        ({"organization": other.id}, f"Organization with id '{other.id}'"),
        ({"organization": org, "add_users": [stranger.id]}, f"User with id '{stranger.id}'"),
        ({"organization": org, "add_assignees": [unknown]}, f"User with id '{unknown}'"),
        (
            {"organization": org, "add_shared_labels": [foreign_label.id]},
            f"Shared label with id '{foreign_label.id}'",
        ),
        ({"remove_shared_labels": [unknown]}, f"Shared label with id '{unknown}'"),
        ({"team": foreign_team.id}, f"Team with id '{foreign_team.id}'"),
        ({"team": unknown}, f"Team with id '{unknown}'"),
    ]
    conversations_before = session.scalar(select(func.count()).select_from(Conversation))
    for fields, message in cases:
        response = post(
            client, world.token, {"posts": {"notification": NOTE, "text": "Hi"} | fields}
        )
        assert response.status_code == 404, fields
        assert response.json() == error(f"{message} does not exist")
    # Nothing was written: no post, no half-created conversation.
    assert session.scalar(select(func.count()).select_from(Post)) == 0
    assert session.scalar(select(func.count()).select_from(Conversation)) == conversations_before


# --- deleting ------------------------------------------------------------------------------


def test_delete_in_an_organization_needs_an_admin(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    cid = world.conversation.id
    clock.advance(60)
    post_id = created(client, world.token, conversation=cid)["id"]
    clock.advance(60)

    response = client.delete(f"/v1/posts/{post_id}", headers=bearer(world.token))
    assert response.status_code == 403
    assert response.json() == error(
        "Only owners and admins of the organization can delete posts in its conversations"
    )

    response = client.delete(f"/v1/posts/{post_id}", headers=bearer(world.admin_token))
    assert (response.status_code, response.json()) == (200, {})
    assert listed_posts(client, world.token, cid) == []
    assert conversation(client, world.token, cid)["last_activity_at"] == T0 + 60  # kept

    response = client.delete(f"/v1/posts/{post_id}", headers=bearer(world.admin_token))
    assert response.status_code == 404
    assert response.json() == error(f"Post with id '{post_id}' does not exist")


def test_delete_in_a_personal_conversation(client: TestClient, world: World) -> None:
    post_id = created(client, world.token)["id"]

    response = client.delete(f"/v1/posts/{post_id}", headers=bearer(world.token))

    assert (response.status_code, response.json()) == (200, {})


def test_delete_unknown_foreign_and_invisible_posts_is_404(
    client: TestClient, factory: Factory, world: World
) -> None:
    other = factory.organization("Other")
    _, stranger_token = factory.member(other, role="owner")
    foreign_post = created(client, stranger_token, organization=other.id)["id"]
    bob_token = factory.token(world.bob)
    invisible = created(client, world.admin_token, conversation=world.conversation.id)["id"]
    admin_of_other = factory.token(factory.user("x@other.test", organizations={other: "admin"}))

    for token, post_id in [
        (world.admin_token, new_id()),
        (world.admin_token, "not-a-uuid"),
        (world.admin_token, foreign_post),
        (bob_token, invisible),
        (admin_of_other, foreign_post),  # an admin of the organization, but no access to it
    ]:
        response = client.delete(f"/v1/posts/{post_id}", headers=bearer(token))
        assert response.status_code == 404
        assert response.json() == error(f"Post with id '{post_id}' does not exist")
