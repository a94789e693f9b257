"""PATCH /v1/conversations/:ids (spec 2.5.3, actions of spec 1B)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Conversation, Organization, SharedLabel, Team, User
from missive_server.ids import new_id
from tests.conftest import bearer
from tests.factories import Factory, set_user_state

T0 = 1_700_000_000


@dataclass
class World:
    org: Organization
    alice: User
    bob: User
    token: str
    bob_token: str
    team: Team
    label: SharedLabel
    conversation: Conversation


@pytest.fixture
def world(factory: Factory) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    team = factory.team(org, "Support", active=[bob])
    label = factory.shared_label(org, "VIP", color="#f00")
    conversation = factory.conversation(org, users=[alice], at=T0)
    return World(
        org, alice, bob, factory.token(alice), factory.token(bob), team, label, conversation
    )


def patch(client: TestClient, token: str, ids: str, body: Any) -> Any:
    return client.patch(f"/v1/conversations/{ids}", json=body, headers=bearer(token))


def one(world: World, **changes: Any) -> dict[str, Any]:
    return {"conversations": [{"id": world.conversation.id, **changes}]}


def listed(client: TestClient, token: str, query: str) -> list[str]:
    response = client.get(f"/v1/conversations?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    return [c["id"] for c in response.json()["conversations"]]


def user_out(user: User, **state: bool) -> dict[str, Any]:
    flags = (
        "unassigned",
        "closed",
        "archived",
        "trashed",
        "junked",
        "assigned",
        "flagged",
        "snoozed",
    )
    return {"id": user.id, "name": user.name, "email": user.email} | {
        flag: state.get(flag, False) for flag in flags
    }


def test_patch_returns_the_updated_conversation(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    clock.advance(60)
    body = one(
        world,
        subject="Renamed",
        color="#123abc",
        organization=world.org.id,
        team=world.team.id,
        add_assignees=[world.bob.id],
        add_shared_labels=[world.label.id],
    )

    response = patch(client, world.token, world.conversation.id, body)

    assert response.status_code == 200
    cid, org = world.conversation.id, world.org.id
    bob = user_out(world.bob, assigned=True)
    assert response.json() == {
        "conversations": [
            {
                "id": cid,
                "created_at": T0,
                "subject": "Renamed",
                "latest_message_subject": "Hello",
                "organization": {"id": org, "name": "Acme"},
                "color": "#123abc",
                "assignees": [bob],
                "users": [user_out(world.alice), bob],
                "attachments_count": 0,
                "messages_count": 1,
                "authors": [{"name": "C", "address": "c@example.com"}],
                "drafts_count": 0,
                "send_later_messages_count": 0,
                "tasks_count": 0,
                "completed_tasks_count": 0,
                "web_url": f"http://testserver/#inbox/conversations/{cid}",
                "app_url": f"missive://testserver/#inbox/conversations/{cid}",
                "assignee_names": "Bob",
                "assignee_emails": "bob@acme.test",
                "shared_label_names": "VIP",
                "last_activity_at": T0,  # PATCH is silent
                "team": {"id": world.team.id, "name": "Support", "organization": org},
                "shared_labels": [
                    {
                        "id": world.label.id,
                        "name": "VIP",
                        "name_with_parent_names": "VIP",
                        "organization": org,
                        "color": "#f00",
                        "parent": None,
                        "share_with_organization": False,
                        "share_with_users": [],
                        "share_with_team": None,
                        "visibility": "organization",
                    }
                ],
            }
        ]
    }


def test_requires_a_token(client: TestClient, world: World) -> None:
    response = client.patch(f"/v1/conversations/{world.conversation.id}", json=one(world))
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "Authentication token is invalid or has been revoked"}
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"add_users": ["x"]}, "'organization' is required when using 'add_users'"),
        ({"add_assignees": ["x"]}, "'organization' is required when using 'add_assignees'"),
        ({"remove_assignees": ["x"]}, "'organization' is required when using 'remove_assignees'"),
        ({"add_shared_labels": ["x"]}, "'organization' is required when using 'add_shared_labels'"),
        ({"add_to_team_inbox": True}, "'team' is required when using 'add_to_team_inbox'"),
        (
            {"color": "red"},
            "'conversations[0].color' must be a HEX color (#RGB or #RRGGBB)"
            " or one of good, warning, danger",
        ),
        (
            {"conversation_color": "#12"},
            "'conversations[0].conversation_color' must be a HEX color (#RGB or #RRGGBB)"
            " or one of good, warning, danger",
        ),
        ({"close": "maybe"}, "'conversations[0].close' must be true or false"),
        ({"add_users": "x", "organization": "o"}, "'conversations[0].add_users' must be an array"),
    ],
)
def test_validation_errors(
    client: TestClient, world: World, changes: dict[str, Any], message: str
) -> None:
    response = patch(client, world.token, world.conversation.id, one(world, **changes))
    assert response.status_code == 400
    assert response.json() == {"error": {"message": message}}


def test_ids_must_match_the_path(client: TestClient, factory: Factory, world: World) -> None:
    second = factory.conversation(world.org, users=[world.alice])
    mismatch = "'conversations' must hold exactly one object per id in the path, each with its 'id'"
    cid = world.conversation.id
    bodies = [
        (cid, {"conversations": [{"id": second.id}]}),
        (f"{cid},{second.id}", {"conversations": [{"id": cid}]}),
        (f"{cid},{second.id}", {"conversations": [{"id": cid}, {"id": cid}]}),
        (f"{cid},{second.id}", {"conversations": [{"id": cid}, {}]}),
    ]
    for ids, body in bodies:
        response = patch(client, world.token, ids, body)
        assert response.status_code == 400
        assert response.json() == {"error": {"message": mismatch}}
    invalid: list[tuple[dict[str, Any], str]] = [
        ({}, "'conversations' is required"),
        ({"conversations": []}, "'conversations' must hold at least one object"),
    ]
    for invalid_body, message in invalid:
        response = patch(client, world.token, cid, invalid_body)
        assert response.status_code == 400
        assert response.json() == {"error": {"message": message}}


def test_unknown_and_foreign_ids_are_404(
    client: TestClient, factory: Factory, world: World
) -> None:
    other = factory.organization("Other")
    stranger = factory.user("s@other.test", organizations={other: "user"})
    foreign_label, foreign_team = factory.shared_label(other), factory.team(other)
    not_mine = factory.conversation(world.org, users=[world.bob])
    unknown = new_id()
    org = world.org.id
    cases: list[tuple[str | None, dict[str, Any], str]] = [
        (unknown, {"conversations": [{"id": unknown}]}, f"Conversation with id '{unknown}'"),
        (
            not_mine.id,
            {"conversations": [{"id": not_mine.id}]},
            f"Conversation with id '{not_mine.id}'",
        ),
        (None, {"organization": other.id}, f"Organization with id '{other.id}'"),
        (None, {"organization": org, "add_users": [stranger.id]}, f"User with id '{stranger.id}'"),
        (None, {"organization": org, "add_assignees": [unknown]}, f"User with id '{unknown}'"),
        (
            None,
            {"organization": org, "add_shared_labels": [foreign_label.id]},
            f"Shared label with id '{foreign_label.id}'",
        ),
        (None, {"remove_shared_labels": [unknown]}, f"Shared label with id '{unknown}'"),
        (None, {"team": foreign_team.id}, f"Team with id '{foreign_team.id}'"),
    ]
    for ids, body, message in cases:
        if ids is None:
            ids, body = world.conversation.id, one(world, **body)
        response = patch(client, world.token, ids, body)
        assert response.status_code == 404, body
        assert response.json() == {"error": {"message": f"{message} does not exist"}}


def test_a_batch_is_all_or_nothing(client: TestClient, factory: Factory, world: World) -> None:
    second = factory.conversation(world.org, users=[world.alice])
    cid = world.conversation.id
    bad_user = {"id": second.id, "organization": world.org.id, "add_users": [new_id()]}
    body = {"conversations": [{"id": cid, "subject": "Changed", "close": True}, bad_user]}

    assert patch(client, world.token, f"{cid},{second.id}", body).status_code == 404
    unknown = new_id()
    body = {"conversations": [{"id": cid, "close": True}, {"id": unknown, "close": True}]}
    assert patch(client, world.token, f"{cid},{unknown}", body).status_code == 404

    got = client.get(f"/v1/conversations/{cid}", headers=bearer(world.token)).json()
    assert got["conversations"][0]["subject"] is None
    assert listed(client, world.token, "closed=true") == []


def test_batch_updates_every_conversation_in_path_order(
    client: TestClient, factory: Factory, world: World
) -> None:
    second = factory.conversation(world.org, users=[world.alice])
    cid = world.conversation.id
    body = {"conversations": [{"id": second.id, "subject": "Two"}, {"id": cid, "subject": "One"}]}

    response = patch(client, world.token, f"{cid},{second.id}", body)

    assert response.status_code == 200
    assert [(c["id"], c["subject"]) for c in response.json()["conversations"]] == [
        (cid, "One"),
        (second.id, "Two"),
    ]


def test_lone_object_alias_and_clearing(client: TestClient, world: World) -> None:
    cid = world.conversation.id
    response = patch(
        client,
        world.token,
        cid,
        {"conversations": {"subject": "Lone", "conversation_color": "good"}},
    )
    assert response.status_code == 200
    assert response.json()["conversations"][0]["subject"] == "Lone"
    assert response.json()["conversations"][0]["color"] == "good"

    cleared = patch(client, world.token, cid, one(world, subject=None, color=None)).json()
    assert (cleared["conversations"][0]["subject"], cleared["conversations"][0]["color"]) == (
        None,
        None,
    )


def test_close_and_reopen_show_in_mailboxes(client: TestClient, world: World) -> None:
    cid, token = world.conversation.id, world.token
    patch(client, token, cid, one(world, team=world.team.id))
    assert listed(client, token, f"team_inbox={world.team.id}") == [cid]

    assert patch(client, token, cid, one(world, close=True)).status_code == 200
    assert listed(client, token, "inbox=true") == []
    assert listed(client, token, "closed=true") == [cid]
    assert listed(client, token, f"team_closed={world.team.id}") == [cid]
    assert listed(client, token, f"team_inbox={world.team.id}") == []

    assert patch(client, token, cid, one(world, reopen=True)).status_code == 200
    assert listed(client, token, "inbox=true") == [cid]
    assert listed(client, token, f"team_inbox={world.team.id}") == [cid]


def test_add_to_inbox_and_team_inbox(client: TestClient, factory: Factory, world: World) -> None:
    cid, token = world.conversation.id, world.token
    set_user_state(factory, world.conversation, world.alice, location="trashed")
    patch(client, token, cid, one(world, team=world.team.id, close=True))
    assert listed(client, token, "trashed=true") == [cid]

    body = one(world, add_to_inbox=True, team=world.team.id, add_to_team_inbox=True)
    assert patch(client, token, cid, body).status_code == 200
    assert listed(client, token, "inbox=true") == [cid]
    assert listed(client, token, f"team_inbox={world.team.id}") == [cid]


def test_users_assignees_and_labels_show_in_mailboxes(client: TestClient, world: World) -> None:
    cid, org = world.conversation.id, world.org.id
    assert listed(client, world.bob_token, "all=true") == []

    patch(client, world.token, cid, one(world, organization=org, add_users=[world.bob.id]))
    assert listed(client, world.bob_token, "inbox=true") == [cid]

    patch(client, world.token, cid, one(world, organization=org, add_assignees=[world.bob.id]))
    assert listed(client, world.bob_token, "assigned=true") == [cid]
    patch(client, world.token, cid, one(world, organization=org, remove_assignees=[world.bob.id]))
    assert listed(client, world.bob_token, "assigned=true") == []
    users = patch(client, world.token, cid, one(world)).json()["conversations"][0]["users"]
    assert users[1] == user_out(world.bob, unassigned=True)

    patch(
        client, world.token, cid, one(world, organization=org, add_shared_labels=[world.label.id])
    )
    assert listed(client, world.token, f"shared_label={world.label.id}") == [cid]
    patch(client, world.token, cid, one(world, remove_shared_labels=[world.label.id]))
    assert listed(client, world.token, f"shared_label={world.label.id}") == []


def test_personal_conversation_joins_the_organization(
    client: TestClient, factory: Factory, world: World
) -> None:
    personal = factory.conversation(None, users=[world.alice])
    body = {"conversations": [{"id": personal.id, "organization": world.org.id}]}
    response = patch(client, world.token, personal.id, body)
    assert response.json()["conversations"][0]["organization"] == {
        "id": world.org.id,
        "name": "Acme",
    }
    query = f"all=true&organization={world.org.id}"
    assert personal.id in listed(client, world.token, query)
