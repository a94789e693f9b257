"""``POST /v1/posts`` with every request shape Missive's public webhook relay sends.

Missive runs a relay (the ``missive/missive-webhooks`` repository) that turns GitHub, Canny,
Heroku, Rollbar and Stripe webhooks into posts against the real API, so whatever it sends is
accepted in production. What it sends, in our words:

- ``{"posts": {...}}`` with ``username``, ``username_icon``, ``text``/``markdown``/``attachments``
  (absent when the integration left them out; a single block for most events) and
  ``notification: {"title": <conversation subject>, "body": <one-line summary>}``, either key
  absent when the integration had none;
- either ``references`` (each wrapped as ``<provider/ref@missive-integrations>``) with
  ``conversation_subject``, ``conversation_color``, ``conversation_icon`` and
  ``update_existing_conversation_subject`` (``true`` only for issue and pull-request events),
  plus the installation's options (``organization``, ``add_shared_labels``, ``add_users``);
- or, for a follow-up post into a conversation a commit message linked to, ``conversation``
  with no subject (so a body-only notification) and the installation options minus
  ``organization``, ``add_shared_labels`` and ``add_users``.

Sources that deliver form-encoded bodies (GitHub's form mode, Heroku's deploy hook) are decoded
by the relay; what reaches the API is the same JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Conversation, Organization, SharedLabel, User
from missive_server.services.conversations.messages import MessageInput
from missive_server.web.session import COOKIE
from tests.conftest import bearer
from tests.factories import Factory

T0 = 1_700_000_000
ICON = "https://raw.githubusercontent.com/missive/missive-webhooks/master/assets/github.png"
ISSUE_REF = "<github/1296269/7@missive-integrations>"
BRANCH_REF = "<github/1296269/fix-crash@missive-integrations>"
ISSUE_SUBJECT = "#7 Crash on start [widgets]"


@dataclass
class World:
    org: Organization
    alice: User
    bob: User
    token: str
    label: SharedLabel
    #: A conversation that already holds the issue's reference (an earlier event's thread).
    thread: Conversation


@pytest.fixture
def world(factory: Factory) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "admin"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    label = factory.shared_label(org, "GitHub")
    earlier = MessageInput(
        subject=ISSUE_SUBJECT,
        body="<p>Opened</p>",
        delivered_at=T0,
        from_field={"name": "GitHub", "address": "noreply@github.com"},
        to_fields=[{"address": "dev@acme.test"}],
        email_message_id=ISSUE_REF,
    )
    thread = factory.conversation(
        org, users=[alice], at=T0, messages=[earlier], subject=ISSUE_SUBJECT
    )
    return World(org, alice, bob, factory.token(alice), label, thread)


def installation(world: World) -> dict[str, Any]:
    """The options an integration installed from Missive's settings carries on every post."""
    return {
        "organization": world.org.id,
        "add_shared_labels": [world.label.id],
        "add_users": [world.bob.id],
    }


def relayed(client: TestClient, world: World, posts: dict[str, Any]) -> dict[str, str]:
    response = client.post("/v1/posts", json={"posts": posts}, headers=bearer(world.token))
    assert response.status_code == 201, response.json()
    ref: dict[str, str] = response.json()["posts"]
    return ref


def conversation(client: TestClient, world: World, cid: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{cid}", headers=bearer(world.token))
    assert response.status_code == 200, response.json()
    found: dict[str, Any] = response.json()["conversations"][0]
    return found


def newest_post(client: TestClient, world: World, cid: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{cid}/posts", headers=bearer(world.token))
    assert response.status_code == 200, response.json()
    listed: list[dict[str, Any]] = response.json()["posts"]
    return listed[0]


def label_ids(found: dict[str, Any]) -> list[str]:
    return [label["id"] for label in found["shared_labels"]]


def user_ids(found: dict[str, Any]) -> list[str]:
    return sorted(user["id"] for user in found["users"])


def test_an_opened_issue_starts_a_labeled_conversation(client: TestClient, world: World) -> None:
    block = {
        "title": "Crash on start",
        "title_link": "https://github.com/acme/widgets/issues/8",
        "pretext": "<https://github.com/acme/widgets/issues/8|Issue> opened by octocat",
        "markdown": "Steps:\n\n1. launch\n2. crash",
        "color": "#de5c00",
    }
    posts = installation(world) | {
        "references": ["<github/1296269/8@missive-integrations>"],
        "conversation_subject": "#8 Crash on start [widgets]",
        "conversation_icon": ICON,
        "update_existing_conversation_subject": True,
        "username": "GitHub",
        "username_icon": ICON,
        "attachments": [block],
        "notification": {"title": "#8 Crash on start [widgets]", "body": "Issue opened by octocat"},
    }

    ref = relayed(client, world, posts)

    assert ref["conversation"] != world.thread.id
    found = conversation(client, world, ref["conversation"])
    assert found["subject"] == "#8 Crash on start [widgets]"
    assert found["organization"]["id"] == world.org.id
    assert label_ids(found) == [world.label.id]
    assert user_ids(found) == sorted([world.alice.id, world.bob.id])
    post = newest_post(client, world, ref["conversation"])
    assert post["id"] == ref["id"]
    assert (post["username"], post["username_icon"]) == ("GitHub", ICON)
    assert post["notification"] == {
        "title": "#8 Crash on start [widgets]",
        "body": "Issue opened by octocat",
    }
    assert post["attachments"] == [block]


@pytest.mark.parametrize(
    ("flag", "subject"),
    [
        ({}, ISSUE_SUBJECT),
        ({"update_existing_conversation_subject": False}, ISSUE_SUBJECT),
        ({"update_existing_conversation_subject": None}, ISSUE_SUBJECT),
        ({"update_existing_conversation_subject": True}, "#7 Crash on start, renamed [widgets]"),
    ],
    ids=["absent", "false", "null", "true"],
)
def test_only_an_explicit_true_renames_an_existing_conversation(
    client: TestClient, world: World, flag: dict[str, Any], subject: str
) -> None:
    posts = (
        installation(world)
        | {
            "references": [ISSUE_REF],
            "conversation_subject": "#7 Crash on start, renamed [widgets]",
            "username": "GitHub",
            "attachments": [{"pretext": "New comment by octocat", "markdown": "Same here"}],
            "notification": {"title": "#7 Crash on start, renamed [widgets]", "body": "x"},
        }
        | flag
    )

    ref = relayed(client, world, posts)

    assert ref["conversation"] == world.thread.id
    assert conversation(client, world, world.thread.id)["subject"] == subject


def test_a_new_conversation_takes_the_subject_whatever_the_flag(
    client: TestClient, world: World
) -> None:
    posts = installation(world) | {
        "references": ["<rollbar/272505123@missive-integrations>"],
        "conversation_subject": "TypeError: x is undefined",
        "update_existing_conversation_subject": False,
        "attachments": [{"text": "New item: TypeError", "color": "#0093ce"}],
        "notification": {"title": "TypeError: x is undefined", "body": "New item: TypeError"},
    }

    ref = relayed(client, world, posts)

    assert conversation(client, world, ref["conversation"])["subject"] == (
        "TypeError: x is undefined"
    )


def test_a_title_only_notification(client: TestClient, world: World) -> None:
    """Events without a summary line (a collaborator added, a repository made public)."""
    posts = installation(world) | {
        "references": ["<github/1296269/master@missive-integrations>"],
        "conversation_subject": "[widgets]",
        "update_existing_conversation_subject": False,
        "username": "GitHub",
        "attachments": [
            {"text": "octocat added <https://github.com/hubot|hubot> as a collaborator"}
        ],
        "notification": {"title": "[widgets]"},
    }

    ref = relayed(client, world, posts)

    post = newest_post(client, world, ref["conversation"])
    assert post["notification"] == {"title": "[widgets]", "body": None}
    assert post["attachments"] == [
        {"text": "octocat added <https://github.com/hubot|hubot> as a collaborator"}
    ]
    assert conversation(client, world, ref["conversation"])["subject"] == "[widgets]"


def test_a_body_only_follow_up_into_a_conversation_by_id(
    client: TestClient, factory: Factory, world: World
) -> None:
    """A commit message linked a conversation: the relay posts there by id, with no subject
    and without the installation's organization, labels and users."""
    linked = factory.conversation(world.org, users=[world.alice], at=T0, subject="Refund request")
    block = {
        "text": "octocat referenced this conversation in <https://github.com/c/1|`6dcb09b`>",
        "color": "#0093ce",
    }
    posts = {
        "conversation": linked.id,
        "username": "GitHub",
        "username_icon": ICON,
        "attachments": [block],
        "notification": {"body": "octocat referenced this conversation in 6dcb09b"},
    }

    ref = relayed(client, world, posts)

    assert ref["conversation"] == linked.id
    found = conversation(client, world, linked.id)
    assert (found["subject"], label_ids(found)) == ("Refund request", [])
    assert user_ids(found) == [world.alice.id]
    post = newest_post(client, world, linked.id)
    assert post["notification"] == {
        "title": None,
        "body": "octocat referenced this conversation in 6dcb09b",
    }
    assert post["attachments"] == [block]


@pytest.mark.parametrize(
    "block",
    [
        {"pretext": "octocat pushed 2 new commits to widgets/master"},
        {"markdown": "* alice: Fix the build\n* bob: Bump version"},
        # An issue opened with an empty description: GitHub sends ``body: null``.
        {
            "title": "Crash",
            "title_link": "https://github.com/i/8",
            "pretext": "p",
            "markdown": None,
        },
        # A Canny post without details and a screenshot.
        {"pretext": "Ann created a post", "text": "", "image_url": "https://canny.io/i.png"},
        # A Rollbar occurrence: a person without an email, a numeric version, a 3-digit color.
        {
            "text": "TypeError (Error)",
            "color": "#c00",
            "fields": [
                {"title": "User", "value": None, "short": True},
                {"title": "Version", "value": 42, "short": True},
            ],
        },
        {"title": "Invoice PDF", "title_link": "https://pay.stripe.com/invoice/1/pdf"},
    ],
    ids=["pretext", "markdown", "null-markdown", "empty-text", "fields", "title-only"],
)
def test_partial_attachment_blocks(client: TestClient, world: World, block: dict[str, Any]) -> None:
    posts = installation(world) | {
        "references": ["<github/1296269/master@missive-integrations>"],
        "conversation_subject": "[widgets]",
        "update_existing_conversation_subject": False,
        "attachments": [block],
        "notification": {"title": "[widgets]", "body": "summary"},
    }

    ref = relayed(client, world, posts)

    stored = {key: value for key, value in block.items() if value is not None}
    if "fields" in stored:
        stored["fields"] = [
            {"title": "User", "short": True},
            {"title": "Version", "value": "42", "short": True},
        ]
    assert newest_post(client, world, ref["conversation"])["attachments"] == [stored]


def test_text_only_post_with_a_missing_customer_reference(client: TestClient, world: World) -> None:
    """Stripe charges without a customer: the relay stringifies the missing id as ``null``."""
    posts = installation(world) | {
        "references": [
            "<stripe/null@missive-integrations>",
            "<stripe/ch_1@missive-integrations>",
        ],
        "conversation_subject": "Charge succeeded",
        "update_existing_conversation_subject": False,
        "text": "A charge of $12.00 was successful",
        "notification": {"title": "Charge succeeded", "body": "A charge of $12.00 was successful"},
    }

    ref = relayed(client, world, posts)

    post = newest_post(client, world, ref["conversation"])
    assert (post["text"], post["attachments"]) == ("A charge of $12.00 was successful", [])
    assert conversation(client, world, ref["conversation"])["subject"] == "Charge succeeded"


def test_a_status_color_recolors_the_existing_conversation(
    client: TestClient, world: World
) -> None:
    """Canny sends the post's status color with every event; the subject stays put."""
    posts = installation(world) | {
        "references": [ISSUE_REF],
        "conversation_subject": "Dark mode",
        "conversation_color": "#1fa0ff",
        "update_existing_conversation_subject": False,
        "attachments": [{"text": "Dark mode has been marked as *planned*", "color": "#1fa0ff"}],
        "notification": {"title": "Dark mode", "body": "Dark mode has been marked as planned"},
    }

    relayed(client, world, posts)
    relayed(client, world, posts)

    found = conversation(client, world, world.thread.id)
    assert (found["subject"], found["color"]) == (ISSUE_SUBJECT, "#1fa0ff")
    assert label_ids(found) == [world.label.id]


def test_a_deploy_hook_post_with_markdown_log(client: TestClient, world: World) -> None:
    """Heroku's deploy hook is form-encoded; the relay turns it into this JSON."""
    block = {
        "pretext": "alice@acme.test deployed version *v42* of <https://acme.herokuapp.com|acme>",
        "markdown": "  * Alice: Fix login\n  * Bob: Faster search",
        "color": "#430098",
    }
    posts = installation(world) | {
        "references": ["<heroku/acme@missive-integrations>"],
        "conversation_subject": "acme",
        "update_existing_conversation_subject": False,
        "username": "Heroku",
        "attachments": [block],
        "notification": {"title": "acme", "body": "alice@acme.test deployed version v42 of acme"},
    }

    ref = relayed(client, world, posts)

    assert newest_post(client, world, ref["conversation"])["attachments"] == [block]


def test_conversation_and_references_together_go_to_the_conversation(
    client: TestClient, factory: Factory, world: World
) -> None:
    other = factory.conversation(world.org, users=[world.alice], at=T0, subject="Other")
    posts = {
        "conversation": other.id,
        "references": [ISSUE_REF],
        "attachments": [{"text": "linked"}],
        "notification": {"body": "linked"},
    }

    ref = relayed(client, world, posts)

    assert ref["conversation"] == other.id
    assert newest_post(client, world, other.id)["attachments"] == [{"text": "linked"}]
    # The id wins: the conversation holding the reference gets nothing.
    response = client.get(f"/v1/conversations/{world.thread.id}/posts", headers=bearer(world.token))
    assert response.json()["posts"] == []


def test_a_refused_relay_post_writes_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    """A notification with neither key: 400 and the thread is untouched."""
    posts = installation(world) | {
        "references": [ISSUE_REF],
        "conversation_subject": "Renamed",
        "update_existing_conversation_subject": True,
        "attachments": [{"text": "x"}],
        "notification": {},
    }

    response = client.post("/v1/posts", json={"posts": posts}, headers=bearer(world.token))

    assert response.status_code == 400
    assert response.json() == {
        "error": {"message": "'posts.notification' must have a 'title' or a 'body'"}
    }
    found = conversation(client, world, world.thread.id)
    assert (found["subject"], label_ids(found)) == (ISSUE_SUBJECT, [])


def test_the_inbox_page_renders_labeled_links(client: TestClient, world: World) -> None:
    """The relay links issues and commits as ``<url|label>``; the web UI shows real links, and
    a labeled link with any other scheme stays text."""
    block = {
        "pretext": "<https://github.com/acme/widgets/issues/8|Issue> opened by octocat",
        "text": "see <https://github.com/c/1?w=1|`6dcb09b`> and <javascript:alert(1)|this>",
    }
    posts = installation(world) | {
        "references": ["<github/1296269/8@missive-integrations>"],
        "conversation_subject": "#8 Crash [widgets]",
        "attachments": [block],
        "notification": {"title": "#8 Crash [widgets]"},
    }
    ref = relayed(client, world, posts)

    # Signed in as Alice the way the web app's own session does (password sign-in is tested in
    # tests/web; this test is about what the page renders).
    client.cookies.set(COOKIE, client.app.state.web_signer.dump(world.alice.id))  # type: ignore[attr-defined]
    page = client.get(f"/c/{ref['conversation']}").text

    assert (
        '<a href="https://github.com/acme/widgets/issues/8" rel="noopener noreferrer">Issue</a>'
        " opened by octocat" in page
    )
    assert (
        '<a href="https://github.com/c/1?w=1" rel="noopener noreferrer"><code>6dcb09b</code></a>'
        in page
    )
    assert "&lt;javascript:alert(1)|this&gt;" in page
    assert 'href="javascript' not in page
