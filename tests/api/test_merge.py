"""POST /v1/conversations/:id/merge (spec 2.5.8)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import (
    Comment,
    Conversation,
    ConversationAddress,
    Message,
    MessageReference,
    Post,
    Task,
)
from missive_server.ids import new_id
from missive_server.services.conversations.messages import MessageInput
from tests.conftest import bearer
from tests.factories import Factory, set_user_state

T0 = 1_700_000_000


def merge(client: TestClient, token: str, source: str, body: Any) -> Any:
    return client.post(f"/v1/conversations/{source}/merge", json=body, headers=bearer(token))


def get(client: TestClient, token: str, conversation_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{conversation_id}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    conversation: dict[str, Any] = response.json()["conversations"][0]
    return conversation


def listed(client: TestClient, token: str, query: str) -> list[str]:
    return [
        c["id"]
        for c in client.get(f"/v1/conversations?{query}", headers=bearer(token)).json()[
            "conversations"
        ]
    ]


def _entries(session: Session, conversation: Conversation, author_id: str) -> None:
    """A comment, a post, a task and a draft in ``conversation``."""
    cid = conversation.id
    session.add_all(
        [
            Comment(id=new_id(), conversation_id=cid, author_id=author_id, body="c", created_at=T0),
            Post(id=new_id(), conversation_id=cid, text="p", created_at=T0),
            Task(id=new_id(), conversation_id=cid, title="t", created_at=T0, last_activity_at=T0),
            Message(
                id=new_id(),
                conversation_id=cid,
                author_id=author_id,
                draft=True,
                created_at=T0,
                updated_at=T0,
            ),
        ]
    )
    session.commit()


def _count(session: Session, model: Any, conversation_id: str) -> int:
    session.expire_all()
    return (
        session.scalar(
            select(func.count()).select_from(model).where(model.conversation_id == conversation_id)
        )
        or 0
    )


def test_merge_moves_everything(client: TestClient, factory: Factory, session: Session) -> None:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    token, bob_token = factory.token(alice), factory.token(bob)
    kept, moved, both = (factory.shared_label(org, n) for n in ("Kept", "Moved", "Both"))
    target = factory.conversation(org, users=[alice], labels=[kept, both], at=T0)
    source_message = MessageInput(
        subject="Source",
        email_message_id="<s@x.test>",
        from_field={"name": "S", "address": "s@source.test"},
        to_fields=[{"address": "support@acme.test"}],
        delivered_at=T0 + 50,
    )
    source = factory.conversation(
        org, users=[alice, bob], labels=[moved, both], at=T0 + 50, messages=[source_message]
    )
    set_user_state(factory, source, alice, location="closed")
    set_user_state(factory, source, bob, flagged=True)
    _entries(session, source, alice.id)

    response = merge(client, token, source.id, {"target": target.id, "subject": "Merged"})

    assert response.status_code == 200
    survivor = response.json()["conversations"][0]
    assert response.json() == {"conversations": [get(client, token, target.id)]}
    assert survivor["id"] == target.id
    assert survivor["subject"] == "Merged"
    assert survivor["latest_message_subject"] == "Source"
    assert (survivor["messages_count"], survivor["drafts_count"], survivor["tasks_count"]) == (
        2,
        1,
        1,
    )
    assert survivor["last_activity_at"] == T0 + 50
    assert survivor["authors"] == [
        {"name": "C", "address": "c@example.com"},
        {"name": "S", "address": "s@source.test"},
    ]
    assert sorted(label["name"] for label in survivor["shared_labels"]) == ["Both", "Kept", "Moved"]
    states = {u["email"]: (u["closed"], u["flagged"]) for u in survivor["users"]}
    assert states == {"alice@acme.test": (False, False), "bob@acme.test": (False, True)}

    for model in (Message, Comment, Post, Task, MessageReference, ConversationAddress):
        assert _count(session, model, source.id) == 0, model
    assert _count(session, Comment, target.id) == _count(session, Post, target.id) == 1
    addresses = session.scalars(
        select(ConversationAddress.address).where(ConversationAddress.conversation_id == target.id)
    )
    assert sorted(addresses) == ["c@example.com", "s@source.test", "support@acme.test"]
    assert (
        session.scalar(
            select(MessageReference.conversation_id).where(MessageReference.reference == "s@x.test")
        )
        == target.id
    )

    # The old id resolves to the survivor; mailboxes list only the survivor.
    assert get(client, token, source.id)["id"] == target.id
    assert listed(client, token, "all=true") == [target.id]
    assert listed(client, bob_token, "flagged=true") == [target.id]
    assert listed(client, token, "closed=true") == []


def test_subject_is_optional(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    alice, token = factory.member(org)
    target = factory.conversation(org, users=[alice], subject="Target")
    source = factory.conversation(org, users=[alice], subject="Source")
    survivor = merge(client, token, source.id, {"target": target.id}).json()["conversations"][0]
    assert survivor["subject"] == "Target"


def test_errors(client: TestClient, factory: Factory) -> None:
    org, other = factory.organization("Acme"), factory.organization("Other")
    alice = factory.user("alice@acme.test", organizations={org: "user", other: "user"})
    bob, _ = factory.member(org)
    token = factory.token(alice)
    source = factory.conversation(org, users=[alice])
    target = factory.conversation(org, users=[alice])
    not_mine = factory.conversation(org, users=[bob])
    foreign = factory.conversation(other, users=[alice])
    unknown = new_id()
    cases = [
        (source.id, {}, 400, "'target' is required"),
        (source.id, {"target": source.id}, 400, "A conversation cannot be merged into itself"),
        (
            source.id,
            {"target": foreign.id},
            400,
            "Conversations of different organizations cannot be merged",
        ),
        (source.id, {"target": unknown}, 404, f"Conversation with id '{unknown}' does not exist"),
        (
            source.id,
            {"target": not_mine.id},
            404,
            f"Conversation with id '{not_mine.id}' does not exist",
        ),
        (unknown, {"target": target.id}, 404, f"Conversation with id '{unknown}' does not exist"),
    ]
    for source_id, body, status, message in cases:
        response = merge(client, token, source_id, body)
        assert response.status_code == status, body
        assert response.json() == {"error": {"message": message}}

    response = client.post(f"/v1/conversations/{source.id}/merge", json={"target": target.id})
    assert response.status_code == 401
    # Merging again: the old id now resolves to the target itself.
    assert merge(client, token, source.id, {"target": target.id}).status_code == 200
    assert merge(client, token, source.id, {"target": target.id}).json() == {
        "error": {"message": "A conversation cannot be merged into itself"}
    }


def test_personal_and_organization_conversations(client: TestClient, factory: Factory) -> None:
    org = factory.organization("Acme")
    alice, token = factory.member(org)
    shared = factory.conversation(org, users=[alice])
    personal = factory.conversation(None, users=[alice])
    # An organization conversation merged into a personal one: the pair is swapped.
    survivor = merge(client, token, shared.id, {"target": personal.id}).json()["conversations"][0]
    assert survivor["id"] == shared.id
    assert survivor["organization"] == {"id": org.id, "name": "Acme"}
    assert survivor["messages_count"] == 2
    assert get(client, token, personal.id)["id"] == shared.id

    another = factory.conversation(None, users=[alice])
    survivor = merge(client, token, another.id, {"target": shared.id}).json()["conversations"][0]
    assert (survivor["id"], survivor["messages_count"]) == (shared.id, 3)


def test_chained_merges_resolve_to_the_last_survivor(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    alice, token = factory.member(org)
    a, b, c = (factory.conversation(org, users=[alice]) for _ in range(3))
    assert merge(client, token, a.id, {"target": b.id}).status_code == 200
    assert merge(client, token, b.id, {"target": c.id}).status_code == 200
    assert get(client, token, a.id)["id"] == c.id
    assert get(client, token, b.id)["id"] == c.id
    assert get(client, token, c.id)["messages_count"] == 3
