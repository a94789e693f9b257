"""Unread state per user in the web app: a conversation is unread (bold row, sidebar count)
until the user opens it, for that user only, and unread again after newer activity."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Conversation
from tests.conftest import bearer
from tests.factories import Factory
from tests.web.support import post_sign_in


@pytest.fixture
def conversation(factory: Factory, clock: FrozenClock) -> tuple[Conversation, str, str]:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    found = factory.conversation(org, users=[alice, bob], at=clock.now() - 60, subject="Refund")
    return found, factory.token(alice), factory.token(bob)


def unread_rows(client: TestClient) -> list[str]:
    page = client.get("/m/inbox").text
    return re.findall(r'<li class="row[^"]*unread[^"]*">\s*<a href="/c/([^"]+)"', page)


def unread_count(client: TestClient) -> str | None:
    found = re.search(r'<span class="n unread" aria-label="(\d+) unread', client.get("/").text)
    return found.group(1) if found else None


def test_opening_reads_for_that_user_only(
    app: object, conversation: tuple[Conversation, str, str], clock: FrozenClock
) -> None:
    found, alice_token, bob_token = conversation
    with TestClient(app) as alice, TestClient(app) as bob:  # type: ignore[arg-type]
        post_sign_in(alice, token=alice_token)
        post_sign_in(bob, token=bob_token)
        assert unread_rows(alice) == [found.id]
        assert unread_count(alice) == "1"
        assert alice.get(f"/c/{found.id}").status_code == 200
        assert unread_rows(alice) == []
        assert unread_count(alice) is None
        assert unread_rows(bob) == [found.id]  # Bob has not opened it
        clock.advance(30)
        body = {"posts": {"conversation": found.id, "text": "Paid",
                          "notification": {"title": "Stripe", "body": "Paid"}}}  # fmt: skip
        assert bob.post("/v1/posts", json=body, headers=bearer(bob_token)).status_code == 201
        assert unread_rows(alice) == [found.id]  # newer activity: unread again
