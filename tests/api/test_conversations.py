"""GET /v1/conversations (mailboxes, spec 2.5.1) and GET /v1/conversations/:id (spec 2.5.2)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Conversation, Message, Organization, SharedLabel, Team, User
from missive_server.ids import new_id
from missive_server.services.conversations.messages import MessageInput
from tests.conftest import bearer
from tests.factories import Factory, set_user_state

T0 = 1_700_000_000


@dataclass
class Mailboxes:
    org: Organization
    other: Organization
    alice: User
    token: str
    team: Team
    label: SharedLabel
    by_name: dict[str, Conversation]

    def names(self, ids: list[str]) -> list[str]:
        lookup = {c.id: name for name, c in self.by_name.items()}
        return [lookup[i] for i in ids]


#: name -> (location, extra state); listed newest first.
SCENARIO: dict[str, tuple[str, dict[str, object]]] = {
    "inbox": ("inbox", {}),
    "closed": ("closed", {}),
    "snoozed": ("snoozed", {}),
    "trashed": ("trashed", {}),
    "junked": ("junked", {}),
    "flagged": ("closed", {"flagged": True}),
    "assigned": ("inbox", {"assigned": True, "assigned_at": T0}),
    "draft": ("none", {}),
    "label": ("none", {}),
    "team_inbox": ("none", {}),
    "team_closed": ("none", {}),
    "other_org": ("inbox", {}),
}


def _add_draft(session: Session, conversation: Conversation, author: User) -> None:
    session.add(
        Message(
            id=new_id(),
            conversation_id=conversation.id,
            author_id=author.id,
            draft=True,
            subject="Draft",
            created_at=T0,
            updated_at=T0,
        )
    )
    session.commit()


@pytest.fixture
def boxes(factory: Factory, session: Session) -> Mailboxes:
    org, other = factory.organization("Acme"), factory.organization("Other")
    alice = factory.user("alice@acme.test", organizations={org: "user", other: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    team, label = factory.team(org, active=[alice]), factory.shared_label(org)
    made: dict[str, Conversation] = {}
    for age, (name, (location, state)) in enumerate(SCENARIO.items()):
        at = T0 - 100 * age
        messages = None
        if name == "other_org":
            messages = [
                MessageInput(subject="Z", from_field={"address": "z@Zeta.test"}, delivered_at=at)
            ]
        made[name] = factory.conversation(
            other if name == "other_org" else org,
            users=[alice],
            at=at,
            location=location,
            team=team if name.startswith("team_") else None,
            labels=[label] if name == "label" else None,
            messages=messages,
        )
        if state:
            set_user_state(factory, made[name], alice, **state)
    made["team_closed"].team_state = "closed"
    session.commit()
    _add_draft(session, made["draft"], alice)
    factory.conversation(org, users=[bob], at=T0 + 10)  # never visible to alice
    return Mailboxes(org, other, alice, factory.token(alice), team, label, made)


def _ids(client: TestClient, token: str, query: str) -> list[str]:
    response = client.get(f"/v1/conversations?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    return [c["id"] for c in response.json()["conversations"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("inbox=true", ["inbox", "assigned", "other_org"]),
        ("closed=true", ["closed", "flagged"]),
        ("snoozed=true", ["snoozed"]),
        ("trashed=true", ["trashed"]),
        ("junked=true", ["junked"]),
        ("flagged=true", ["flagged"]),
        ("assigned=true", ["assigned"]),
        ("drafts=true", ["draft"]),
        (
            "all=true",
            [
                *("inbox", "closed", "snoozed", "flagged", "assigned", "draft", "label"),
                *("team_inbox", "team_closed", "other_org"),
            ],
        ),
        ("inbox=true&assigned=true", ["assigned"]),
        ("all=true&email=Z@zeta.test", ["other_org"]),
        ("all=true&domain=zeta.test", ["other_org"]),
    ],
)
def test_mailbox_filters(
    client: TestClient, boxes: Mailboxes, query: str, expected: list[str]
) -> None:
    assert boxes.names(_ids(client, boxes.token, query)) == expected


def test_view_filters(client: TestClient, boxes: Mailboxes) -> None:
    team, label = boxes.team.id, boxes.label.id
    assert boxes.names(_ids(client, boxes.token, f"shared_label={label}")) == ["label"]
    assert boxes.names(_ids(client, boxes.token, f"team_inbox={team}")) == ["team_inbox"]
    assert boxes.names(_ids(client, boxes.token, f"team_closed={team}")) == ["team_closed"]
    assert boxes.names(_ids(client, boxes.token, f"team_all={team}")) == [
        "team_inbox",
        "team_closed",
    ]


def test_organization_filter(client: TestClient, boxes: Mailboxes) -> None:
    assert boxes.names(_ids(client, boxes.token, f"inbox=true&organization={boxes.other.id}")) == [
        "other_org"
    ]
    assert boxes.names(_ids(client, boxes.token, f"inbox=true&organization={boxes.org.id}")) == [
        "inbox",
        "assigned",
    ]
    # No effect together with a shared label or team view (spec 2.5.1).
    query = f"team_all={boxes.team.id}&organization={boxes.other.id}"
    assert boxes.names(_ids(client, boxes.token, query)) == ["team_inbox", "team_closed"]


def test_unknown_and_foreign_view_ids_are_404(
    client: TestClient, factory: Factory, boxes: Mailboxes
) -> None:
    stranger_org = factory.organization("Stranger")
    foreign_team, foreign_label = factory.team(stranger_org), factory.shared_label(stranger_org)
    cases = {
        f"inbox=true&organization={stranger_org.id}": f"Organization with id '{stranger_org.id}'",
        f"team_inbox={foreign_team.id}": f"Team with id '{foreign_team.id}'",
        f"shared_label={foreign_label.id}": f"Shared label with id '{foreign_label.id}'",
        "team_all=nope": "Team with id 'nope'",
    }
    for query, message in cases.items():
        response = client.get(f"/v1/conversations?{query}", headers=bearer(boxes.token))
        assert response.status_code == 404
        assert response.json() == {"error": {"message": f"{message} does not exist"}}


def test_a_mailbox_is_required(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    for query in ("", "?organization=x", "?limit=10"):
        response = client.get(f"/v1/conversations{query}", headers=bearer(token))
        assert response.status_code == 400
        assert response.json() == {
            "error": {"message": "You need to paginate at least one mailbox"}
        }


def test_limit_below_two(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    for limit in (1, 0):
        response = client.get(f"/v1/conversations?inbox=true&limit={limit}", headers=bearer(token))
        assert response.status_code == 400
        assert response.json() == {"error": {"message": "min 'limit' value is 2"}}


def test_list_requires_a_token(client: TestClient) -> None:
    response = client.get("/v1/conversations?inbox=true")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "Authentication token is invalid or has been revoked"}
    }


def test_ties_at_the_page_boundary_stay_together(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    token = factory.token(alice)
    newest = factory.conversation(org, users=[alice], at=T0 + 10)
    tied = [factory.conversation(org, users=[alice], at=T0) for _ in range(3)]
    oldest = factory.conversation(org, users=[alice], at=T0 - 10)
    tied_ids = sorted((c.id for c in tied), reverse=True)

    first = _ids(client, token, "inbox=true&limit=2")
    assert first == [newest.id, *tied_ids]  # 4 items for limit=2: ties are not split

    assert _ids(client, token, f"inbox=true&limit=2&until={T0}") == tied_ids
    assert _ids(client, token, f"inbox=true&limit=2&until={T0 - 1}") == [oldest.id]
    assert _ids(client, token, f"inbox=true&limit=2&until={T0 - 11}") == []


def test_limit_caps_at_fifty(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    token = factory.token(alice)
    for i in range(52):
        factory.conversation(org, users=[alice], at=T0 + i)
    assert len(_ids(client, token, "inbox=true&limit=500")) == 50
    assert len(_ids(client, token, "inbox=true")) == 25


def test_guests_get_stubs(client: TestClient, factory: Factory) -> None:
    org, other = factory.organization("Acme"), factory.organization("Other")
    carol = factory.user("carol@acme.test", organizations={org: "user"})
    token = factory.token(carol)
    conversation = factory.conversation(other, users=[carol], at=T0 - 5)
    stub = {"id": conversation.id, "last_activity_at": T0 - 5}

    listed = client.get("/v1/conversations?inbox=true", headers=bearer(token)).json()
    assert listed == {"conversations": [stub]}
    one = client.get(f"/v1/conversations/{conversation.id}", headers=bearer(token)).json()
    assert one == {"conversations": [stub]}


def test_get_one_wire_shape(client: TestClient, factory: Factory) -> None:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", "Alice A", organizations={org: "user"})
    token = factory.token(alice)
    conversation = factory.conversation(org, users=[alice], subject="Sub")

    response = client.get(f"/v1/conversations/{conversation.id}", headers=bearer(token))

    assert response.status_code == 200
    url = f"//testserver/#inbox/conversations/{conversation.id}"
    assert response.json() == {
        "conversations": [
            {
                "id": conversation.id,
                "created_at": T0,
                "subject": "Sub",
                "latest_message_subject": "Hello",
                "organization": {"id": org.id, "name": "Acme"},
                "color": None,
                "assignees": [],
                "users": [
                    {
                        "id": alice.id,
                        "name": "Alice A",
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
                "authors": [{"name": "C", "address": "c@example.com"}],
                "drafts_count": 0,
                "send_later_messages_count": 0,
                "tasks_count": 0,
                "completed_tasks_count": 0,
                "web_url": "http:" + url,
                "app_url": "missive:" + url,
                "assignee_names": "",
                "assignee_emails": "",
                "shared_label_names": "",
                "last_activity_at": T0,
                "team": None,
                "shared_labels": [],
            }
        ]
    }


def test_get_one_unknown_foreign_and_unauthenticated(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    _, token = factory.member(org)
    bob, _ = factory.member(org)
    not_shared = factory.conversation(org, users=[bob])
    for conversation_id in (not_shared.id, new_id()):
        response = client.get(f"/v1/conversations/{conversation_id}", headers=bearer(token))
        assert response.status_code == 404
        assert response.json() == {
            "error": {"message": f"Conversation with id '{conversation_id}' does not exist"}
        }
    assert client.get(f"/v1/conversations/{not_shared.id}").status_code == 401
