"""The conversation page's action forms over HTTP: CSRF, close/reopen, labels, assignees and a
comment, applied by the same services as the REST API (same state, same hook events)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Comment, ConversationLabel, ConversationUser
from tests.factories import Factory
from tests.web.support import post_sign_in

T0 = 1_700_000_000


@pytest.fixture
def world(factory: Factory) -> dict[str, str]:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    label = factory.shared_label(org, "VIP", color="#e5484d")
    conversation = factory.conversation(org, users=[alice], at=T0 - 100, subject="Refund")
    return {
        "token": factory.token(alice),
        "alice": alice.id,
        "bob": bob.id,
        "label": label.id,
        "conversation": conversation.id,
    }


def _signed_in(client: TestClient, token: str, conversation_id: str) -> str:
    post_sign_in(client, token=token)
    page = client.get(f"/c/{conversation_id}")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _act(client: TestClient, cid: str, csrf: str, action: str, value: str = "") -> str:
    data = {"csrf": csrf, "action": action, "value": value}
    response = client.post(f"/c/{cid}/act", data=data, follow_redirects=False)
    assert response.status_code == 303
    location: str = response.headers["location"]
    assert location.startswith(f"/c/{cid}?")
    return location


def _location(session: Session, cid: str, user_id: str) -> str:
    session.expire_all()
    row = session.get(ConversationUser, (cid, user_id))
    assert row is not None
    return row.location


def test_actions_need_the_csrf_token(
    client: TestClient, world: dict[str, str], session: Session
) -> None:
    cid = world["conversation"]
    _signed_in(client, world["token"], cid)
    response = client.post(f"/c/{cid}/act", data={"csrf": "forged", "action": "close"})
    assert response.status_code == 403
    assert _location(session, cid, world["alice"]) == "inbox"


def test_signed_out_actions_go_to_sign_in(client: TestClient, world: dict[str, str]) -> None:
    response = client.post(
        f"/c/{world['conversation']}/act", data={"action": "close"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"


def test_close_reopen_label_assign_comment(
    client: TestClient, world: dict[str, str], session: Session
) -> None:
    cid = world["conversation"]
    csrf = _signed_in(client, world["token"], cid)
    assert "Closed." in client.get(_act(client, cid, csrf, "close")).text
    assert _location(session, cid, world["alice"]) == "closed"
    assert ">Reopen<" in client.get(f"/c/{cid}").text
    _act(client, cid, csrf, "reopen")
    assert _location(session, cid, world["alice"]) == "inbox"

    _act(client, cid, csrf, "add_label", world["label"])
    labels = session.scalars(select(ConversationLabel.shared_label_id).where(
        ConversationLabel.conversation_id == cid)).all()  # fmt: skip
    assert labels == [world["label"]]
    page = client.get(f"/c/{cid}").text
    assert "Remove label VIP" in page
    _act(client, cid, csrf, "remove_label", world["label"])
    session.expire_all()
    assert not session.scalars(select(ConversationLabel).where(
        ConversationLabel.conversation_id == cid)).all()  # fmt: skip

    _act(client, cid, csrf, "assign", world["bob"])
    bob = session.get(ConversationUser, (cid, world["bob"]))
    assert bob is not None
    assert bob.assigned
    assert bob.location == "inbox"
    _act(client, cid, csrf, "unassign", world["bob"])
    session.expire_all()
    bob = session.get(ConversationUser, (cid, world["bob"]))
    assert bob is not None
    assert not bob.assigned

    page = client.get(_act(client, cid, csrf, "comment", "Looks <b>fine</b> to me")).text
    assert "Looks &lt;b&gt;fine&lt;/b&gt; to me" in page
    assert session.scalars(select(Comment.body).where(Comment.conversation_id == cid)).all() == [
        "Looks <b>fine</b> to me"
    ]


def test_bad_input_is_a_message_not_a_500(
    client: TestClient, world: dict[str, str], session: Session
) -> None:
    cid = world["conversation"]
    csrf = _signed_in(client, world["token"], cid)
    page = client.get(_act(client, cid, csrf, "add_label", "no-such-label")).text
    assert "Shared label with id &#39;no-such-label&#39; does not exist" in page
    page = client.get(_act(client, cid, csrf, "comment", "   ")).text
    assert "Write a comment first." in page
    page = client.get(_act(client, cid, csrf, "explode")).text
    assert "Unknown action." in page
    assert client.post("/c/nope/act", data={"csrf": csrf, "action": "close"}).status_code == 404
