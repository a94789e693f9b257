"""The inbox UI in a real Chromium against the real server: sign-in, a post made through the API
showing in the conversation, close/reopen, label, assign, a comment reaching a real webhook
receiver signed, and a draft sent through the API listed on the outbox page."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from missive_server.db.models import SharedLabel
from missive_server.delivery.signing import verify
from missive_server.services.conversations.messages import MessageInput
from tests.api.drafts_support import T0, make_world
from tests.api.drafts_support import World as DraftsWorld
from tests.delivery.webhook_receiver import WebhookReceiver, receiver
from tests.delivery.webhook_support import SECRET, make_hook
from tests.factories import Factory

pytestmark = pytest.mark.slow(3)

__all__ = ["receiver"]  # fixture

#: Where ``test_screenshots`` writes its PNGs (``docs/screenshots`` regenerates the README's).
SCREENSHOTS = os.environ.get("MISSIVE_SCREENSHOTS")
POST = {
    "username": "Shopify",
    "notification": {"title": "Order paid", "body": "Order #1042 was paid"},
    "markdown": "**Order #1042** was paid — _3 items_, ships tomorrow.",
    "attachments": [
        {
            "color": "#2f6fed",
            "title": "Order #1042",
            "text": "Paid by card ending 4242",
            "fields": [
                {"title": "Total", "value": "$129.00", "short": True},
                {"title": "Customer", "value": "Sam Carter", "short": True},
            ],
            "footer": "Shopify",
        }
    ],
}


INBOX = [
    ("Invoice 2291 question", "Maria Gomez", "Could you resend the invoice with our VAT number?"),
    ("Wholesale pricing", "Dev Patel", "We would like to order 200 units for our stores."),
    ("Password reset not arriving", "Lena Fischer", "I asked three times, nothing came."),
    ("Thanks for the quick fix!", "Tom Becker", "Everything works again, great support."),
]


@dataclass
class World:
    base: DraftsWorld
    label: SharedLabel


@pytest.fixture
def world(factory: Factory) -> World:
    base = make_world(factory)
    label = factory.shared_label(base.org, "VIP", color="#e5484d")
    factory.session.commit()
    return World(base, label)


@pytest.fixture
def api(live: str, world: World) -> Any:
    with httpx.Client(
        base_url=live, headers={"Authorization": f"Bearer {world.base.token}"}, timeout=15
    ) as client:
        yield client


def sign_in(page: Any, token: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Or an API token").fill(token)
    page.get_by_role("button", name="Sign in with token", exact=True).click()
    page.wait_for_url(re.compile(r"/$"))


def open_conversation(page: Any, world: World) -> None:
    sign_in(page, world.base.token)
    page.goto(f"/c/{world.base.conversation.id}")


def test_sign_in_shows_the_inbox_and_a_bad_token_does_not(page: Any, world: World) -> None:
    page.goto("/")
    page.wait_for_url(re.compile(r"/sign-in$"))
    page.get_by_label("Or an API token").fill("missive_pat-wrong")
    page.get_by_role("button", name="Sign in with token", exact=True).click()
    assert "invalid" in page.get_by_role("alert").inner_text()
    sign_in(page, world.base.token)
    assert page.get_by_role("heading", level=1).inner_text() == "Inbox"
    assert page.get_by_role("link", name=re.compile("Help")).count() == 1


def test_a_post_made_through_the_api_shows_in_the_open_conversation(
    page: Any, world: World, api: httpx.Client
) -> None:
    open_conversation(page, world)
    assert page.get_by_text("Order #1042 was paid").count() == 0
    response = api.post(
        "/v1/posts", json={"posts": {"conversation": world.base.conversation.id, **POST}}
    )
    assert response.status_code == 201, response.text
    # The open page reloads itself on the change (live updates); a reload of our own would
    # race it ("net::ERR_ABORTED"), so wait for the post to show.
    post = page.locator(".entry.post")
    post.wait_for(timeout=15_000)
    assert "Shopify" in post.locator(".head").inner_text()
    assert post.locator(".md strong").first.inner_text() == "Order #1042"
    fields = post.locator("dl.fields")
    assert fields.locator("dt").all_inner_texts() == ["Total", "Customer"]
    assert fields.locator("dd").all_inner_texts() == ["$129.00", "Sam Carter"]


def test_close_reopen_label_and_assign_through_the_ui(
    page: Any, world: World, session: Session, api: httpx.Client
) -> None:
    open_conversation(page, world)
    cid = world.base.conversation.id
    page.get_by_role("button", name="Close", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Closed."
    assert _me(api, cid)["closed"] is True
    page.get_by_role("button", name="Reopen", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Reopened."
    assert _me(api, cid)["closed"] is False

    page.get_by_label("Label").select_option(label="VIP")
    page.get_by_role("button", name="Add label").click()
    assert page.get_by_role("status").inner_text() == "Label added."
    assert [lab["name"] for lab in _conversation(api, cid)["shared_labels"]] == ["VIP"]
    page.get_by_role("button", name="Remove label VIP").click()
    assert page.get_by_role("status").inner_text() == "Label removed."
    assert _conversation(api, cid)["shared_labels"] == []

    page.get_by_label("Assignee").select_option(label="Bob")
    page.get_by_role("button", name="Assign", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Assigned."
    assignees = [a["id"] for a in _conversation(api, cid)["assignees"]]
    assert assignees == [world.base.bob.id]
    page.get_by_role("button", name="Unassign Bob").click()
    assert page.get_by_role("status").inner_text() == "Unassigned."
    assert _conversation(api, cid)["assignees"] == []


def _conversation(api: httpx.Client, cid: str) -> dict[str, Any]:
    response = api.get(f"/v1/conversations/{cid}")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()["conversations"][0]
    return found


def _me(api: httpx.Client, cid: str) -> dict[str, Any]:
    users = _conversation(api, cid)["users"]
    mine: dict[str, Any] = next(u for u in users if u["email"] == "alice@acme.test")
    return mine


def test_a_comment_typed_in_the_ui_reaches_a_webhook_receiver_signed(
    page: Any, world: World, app: FastAPI, session: Session, receiver: WebhookReceiver
) -> None:
    make_hook(session, user=world.base.alice, org=world.base.org, url=receiver.url(),
              type="new_comment")  # fmt: skip
    session.commit()
    open_conversation(page, world)
    page.get_by_label("Comment").fill("Refund approved, @Bob please ship")
    page.get_by_role("button", name="Comment", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Comment added."
    assert page.locator(".entry.comment").inner_text().count("Refund approved") == 1
    assert app.state.worker.run_once() == 1
    [request] = receiver.requests
    assert verify(SECRET, request.body, request.headers["x-hook-signature"])
    body = orjson.loads(request.body)
    assert body["comment"]["body"] == "Refund approved, @Bob please ship"
    assert body["conversation"]["id"] == world.base.conversation.id

    page.goto("/deliveries")
    row = page.locator("table.log tbody tr")
    assert row.count() == 1
    assert "sent" in row.locator(".status").inner_text()
    assert "new_comment" in row.inner_text()
    assert "200" in row.inner_text()
    row.get_by_role("button", name="Redeliver").click()
    assert page.get_by_role("status").inner_text() == "Redelivery queued."
    assert app.state.worker.run_once() == 1
    assert len(receiver.requests) == 2
    assert receiver.requests[1].body == request.body


def test_a_draft_sent_through_the_api_is_on_the_outbox_page(
    page: Any, world: World, api: httpx.Client, app: FastAPI
) -> None:
    draft = {
        "subject": "Your refund",
        "body": "<div>It is on its way.</div>",
        "from_field": {"address": "support@acme.test"},
        "to_fields": [{"address": "paul@example.com", "name": "Paul"}],
        "conversation": world.base.conversation.id,
        "send": True,
    }
    response = api.post("/v1/drafts", json={"drafts": draft})
    assert response.status_code == 201, response.text
    app.state.worker.run_once()
    sign_in(page, world.base.token)
    page.get_by_role("link", name="Outbox").click()
    row = page.locator("table.log tbody tr", has_text="Your refund")
    assert row.count() == 1
    assert "Paul" in row.locator(".recipients").inner_text()
    assert row.locator(".status").inner_text() in ("sent · captured", "pending")
    row.get_by_text("View").click()
    raw = row.locator("pre.raw").inner_text()
    assert "Subject: Your refund" in raw
    assert "paul@example.com" in raw


def test_screenshots(
    page: Any, world: World, api: httpx.Client, app: FastAPI, session: Session,
    receiver: WebhookReceiver, tmp_path: Path, factory: Factory,
) -> None:  # fmt: skip
    """The main pages at 1400x900; ``MISSIVE_SCREENSHOTS=docs/screenshots`` keeps them."""
    target = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    make_hook(session, user=world.base.alice, org=world.base.org, url=receiver.url(),
              type="new_comment")  # fmt: skip
    for n, (subject, sender, body) in enumerate(INBOX):
        mail = MessageInput(
            subject=subject, body=f"<p>{body}</p>", delivered_at=T0 - 600 * (n + 2),
            from_field={"name": sender, "address": f"{sender.split()[0].lower()}@example.com"},
            to_fields=[{"address": "support@acme.test"}],
        )  # fmt: skip
        factory.conversation(world.base.org, users=[world.base.alice], messages=[mail],
                             at=T0 - 600 * (n + 2), subject=subject)  # fmt: skip
    session.commit()
    cid = world.base.conversation.id
    assert api.post("/v1/posts", json={"posts": {"conversation": cid, **POST}}).status_code == 201
    page.goto("/sign-in")
    page.screenshot(path=target / "sign-in.png")
    open_conversation(page, world)
    page.get_by_label("Label").select_option(label="VIP")
    page.get_by_role("button", name="Add label").click()
    # Each form answers with a redirect to ?notice=...: wait for it, or the next goto races it.
    page.wait_for_url(re.compile(r"notice=Label"))
    page.get_by_label("Comment").fill("Refund approved — shipping the replacement today.")
    page.get_by_role("button", name="Comment", exact=True).click()
    page.wait_for_url(re.compile(r"notice=Comment"))
    # Off the live page before the API changes the conversation: its live update would reload
    # it and interrupt the next goto.
    page.goto("about:blank")
    draft = {
        "subject": "Re: Help", "body": "<div>Your replacement ships today.</div>",
        "from_field": {"address": "support@acme.test"}, "conversation": cid, "send": True,
        "to_fields": [{"address": "sam@example.com", "name": "Sam"}],
    }  # fmt: skip
    assert api.post("/v1/drafts", json={"drafts": draft}).status_code == 201
    app.state.worker.run_once()
    pages = {"inbox": "/", "conversation": f"/c/{cid}", "outbox": "/outbox",
             "deliveries": "/deliveries"}  # fmt: skip
    for name, path in pages.items():
        page.goto(path)
        page.screenshot(path=target / f"{name}.png")
    for name in [*pages, "sign-in"]:
        assert (target / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
