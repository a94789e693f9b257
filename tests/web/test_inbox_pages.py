"""The inbox web UI over HTTP: sign-in, mailboxes, a conversation page, sanitising, 404s and a
flat query count per list page."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db.models import Conversation, Organization, SharedLabel, User
from missive_server.services.conversations.messages import MessageInput
from missive_server.settings import Settings
from missive_server.web import render
from missive_server.web.security import CONTENT_SECURITY_POLICY
from tests.conftest import count_queries
from tests.factories import EntryFactory, Factory, set_user_state
from tests.web.support import post_sign_in

#: What Chromium sends when it loads a page.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

T0 = 1_700_000_000
NASTY = (
    '<p onclick="steal()">Hello <b>there</b></p><script>alert(1)</script>'
    '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">click</a>'
    '<a href="https://example.com/ok">fine</a><iframe src="https://evil.test"></iframe>'
    "<style>body{display:none}</style>"
)


@dataclass
class World:
    org: Organization
    alice: User
    bob: User
    token: str
    label: SharedLabel
    inbox: Conversation
    closed: Conversation


@pytest.fixture
def world(factory: Factory) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    label = factory.shared_label(org, "VIP", color="#e5484d")
    inbox = factory.conversation(
        org, users=[alice, bob], labels=[label], at=T0 - 100, subject="Refund request"
    )
    set_user_state(factory, inbox, bob, assigned=True)
    set_user_state(factory, inbox, alice, flagged=True)
    closed = factory.conversation(
        org, users=[alice], at=T0 - 50, location="closed", subject="Old invoice"
    )
    return World(org, alice, bob, factory.token(alice), label, inbox, closed)


def sign_in(client: TestClient, token: str) -> None:
    response = post_sign_in(client, token=token)
    assert response.status_code == 303
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=lax" in response.headers["set-cookie"].lower()


def test_signed_out_pages_redirect_to_sign_in(client: TestClient, world: World) -> None:
    for path in ("/", "/m/all", f"/c/{world.inbox.id}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/sign-in"


def test_sign_in_with_good_and_bad_token(client: TestClient, world: World) -> None:
    bad = post_sign_in(client, token="missive_pat-nope")
    assert bad.status_code == 401
    assert "invalid" in bad.text
    # Only the signed-out form cookie is (re)set: no session.
    assert "missive_session" not in bad.headers.get("set-cookie", "")
    sign_in(client, world.token)
    assert world.token not in client.cookies["missive_session"]
    page = client.get("/")
    assert page.status_code == 200
    assert "Refund request" in page.text
    assert "Old invoice" not in page.text


def test_tampered_cookie_is_signed_out(client: TestClient, world: World) -> None:
    client.cookies.set("missive_session", "eyJ1IjoieCJ9.forged.sig")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_csrf_token(client: TestClient, world: World) -> None:
    sign_in(client, world.token)
    assert client.post("/sign-out", data={"csrf": "wrong"}).status_code == 403
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert csrf
    response = client.post("/sign-out", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert response.headers["location"] == "/sign-in"
    client.cookies.clear()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_emulator_picker_only_in_emulator_mode(
    settings: Settings, clock: FrozenClock, engine: Engine, client: TestClient, world: World
) -> None:
    assert "Emulator" not in client.get("/sign-in").text
    forged = post_sign_in(client, user_id=world.alice.id)
    assert forged.status_code == 401
    emulated = create_app(
        settings.model_copy(update={"emulator": True}), clock=clock, engine=engine
    )
    with TestClient(emulated) as other:
        page = other.get("/sign-in")
        assert "Emulator" in page.text
        assert "alice@acme.test" in page.text
        picked = post_sign_in(other, user_id=world.bob.id)
        assert picked.status_code == 303
        assert "Refund request" in other.get("/m/assigned").text


@pytest.mark.parametrize(
    ("mailbox", "shown", "hidden"),
    [
        ("inbox", "Refund request", "Old invoice"),
        ("closed", "Old invoice", "Refund request"),
        ("all", "Old invoice", "Nothing here"),
        ("starred", "Refund request", "Old invoice"),
        ("trash", "Nothing here", "Refund request"),
    ],
)
def test_mailboxes_list_their_conversations(
    client: TestClient, world: World, mailbox: str, shown: str, hidden: str
) -> None:
    sign_in(client, world.token)
    page = client.get(f"/m/{mailbox}")
    assert page.status_code == 200
    assert shown in page.text
    assert hidden not in page.text


def test_labels_and_assignees_rendered(client: TestClient, world: World) -> None:
    sign_in(client, world.token)
    page = client.get("/m/all").text
    assert "VIP" in page
    assert "#e5484d" in page
    assert 'title="Bob"' in page
    assert '<span class="sr">Bob</span>' in page
    # The inbox badge counts unread conversations (this one was never opened).
    assert re.search(r"Inbox</span><span class=\"n unread\" aria-label=\"1 unread of 1\">1<", page)
    assert re.search(r"Starred</span><span class=\"n\"[^>]*>1<", page)
    labelled = client.get(f"/m/label?label={world.label.id}").text
    assert "Refund request" in labelled
    assert "Old invoice" not in labelled


def test_conversation_page_sanitises_html(
    client: TestClient, world: World, factory: Factory, clock: FrozenClock
) -> None:
    entries = EntryFactory(factory.session, clock)
    conversation = factory.conversation(
        world.org,
        users=[world.alice],
        at=T0,
        messages=[
            MessageInput(
                subject="Nasty",
                body=NASTY,
                delivered_at=T0,
                from_field={"name": "Mallory", "address": "m@evil.test"},
            )
        ],
    )
    entries.comment(conversation, world.bob, "Looks <b>phishy</b>\nsecond line", at=T0 + 1)
    sign_in(client, world.token)
    page = client.get(f"/c/{conversation.id}").text
    body = page.split('class="timeline"', 1)[1]
    assert "<b>there</b>" in body
    for bad in ("<script", "alert(1)", "onerror", "onclick", "javascript:", "<iframe", "<style"):
        assert bad not in body
    assert 'href="https://example.com/ok" rel="noopener noreferrer nofollow"' in body
    assert "Looks &lt;b&gt;phishy&lt;/b&gt;<br>second line" in body


def test_post_with_markdown_and_attachment_fields(
    client: TestClient, world: World, factory: Factory, clock: FrozenClock
) -> None:
    EntryFactory(factory.session, clock).post(
        world.inbox,
        username="Deploy bot",
        markdown="**Shipped** <script>x()</script> [notes](https://example.com/n)",
        attachments=[
            {
                "color": "#2eb67d",
                "title": "Release 1.2",
                "text": "All _green_",
                "fields": [
                    {"title": "Env", "value": "prod", "short": True},
                    {"title": "Region", "value": "eu", "short": True},
                    {"title": "Notes", "value": "long text", "short": False},
                ],
                "footer": "CI",
                "timestamp": T0,
            }
        ],
        at=T0,
    )
    sign_in(client, world.token)
    page = client.get(f"/c/{world.inbox.id}").text
    assert "Deploy bot" in page
    assert "<strong>Shipped</strong>" in page
    assert "<script>x()" not in page
    assert "&lt;script&gt;x()" in page
    assert "--bar: #2eb67d" in page
    assert "Release 1.2" in page
    assert "<em>green</em>" in page
    assert page.count('class="field short"') == 2
    assert page.count('class="field"') == 1
    assert "CI" in page
    assert "2023-11-14 22:13 UTC" in page


def test_foreign_conversation_is_a_404_page(
    client: TestClient, world: World, factory: Factory
) -> None:
    other = factory.organization("Other")
    stranger = factory.user("eve@other.test", organizations={other: "user"})
    foreign = factory.conversation(other, users=[stranger], subject="Secret plans")
    sign_in(client, world.token)
    for path in (f"/c/{foreign.id}", "/c/nope", "/m/nowhere", "/m/team?team=x", "/m/label?label=x"):
        page = client.get(path)
        assert page.status_code == 404
        assert "Secret plans" not in page.text


def test_list_page_query_count_is_flat(
    client: TestClient, world: World, factory: Factory, engine: Engine
) -> None:
    sign_in(client, world.token)

    def queries() -> int:
        with count_queries(engine) as seen:
            assert client.get("/m/all").status_code == 200
        return len(seen)

    # Both pages are full (25 rows): a full page costs one more query than a short one, for
    # the rows sharing the boundary timestamp (db.paging), whatever the size of the mailbox.
    for i in range(30):
        factory.conversation(world.org, users=[world.alice], labels=[world.label], at=T0 + i)
    few = queries()
    assert few <= 13
    for i in range(60):
        factory.conversation(world.org, users=[world.alice, world.bob], labels=[world.label],
                             at=T0 + 100 + i)  # fmt: skip
    assert queries() == few


def test_older_link_pages_with_until(client: TestClient, world: World, factory: Factory) -> None:
    for i in range(30):
        factory.conversation(world.org, users=[world.alice], at=T0 + i, subject=f"Bulk {i:02d}")
    sign_in(client, world.token)
    first = client.get("/m/all").text
    older = re.search(r'href="(/m/all\?until=\d+)"', first)
    assert older
    assert "Bulk 29" in first
    assert "Refund request" not in first
    second = client.get(older.group(1)).text
    assert "Refund request" in second
    assert "Bulk 29" not in second


def test_an_unknown_address_is_a_404_page_for_a_browser_and_json_for_the_api(
    client: TestClient,
) -> None:
    page = client.get("/no-such-page", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<title>Not found · missive-server</title>" in page.text
    assert '<a href="/">Go to your inbox</a>' in page.text
    for method, path, headers in [
        ("GET", "/no-such-page", {}),
        ("POST", "/no-such-page", BROWSER),
        ("GET", "/v1/no-such-resource", BROWSER),
        ("GET", "/_emulator/no-such-thing", BROWSER),
    ]:
        answer = client.request(method, path, headers=headers)
        assert (answer.status_code, answer.json()) == (404, {"error": {"message": "Not found"}})


def test_web_ui_can_be_turned_off(settings: Settings, clock: FrozenClock, engine: Engine) -> None:
    off = create_app(settings.model_copy(update={"web_ui": False}), clock=clock, engine=engine)
    with TestClient(off) as other:
        assert other.get("/sign-in").status_code == 404
        assert other.get("/sign-in", headers=BROWSER).json() == {"error": {"message": "Not found"}}
        assert other.get("/_static/app.css").status_code == 404


def test_static_css_is_cached(client: TestClient) -> None:
    response = client.get("/_static/app.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert "system-ui" in response.text


def test_inline_cid_images_point_at_their_files() -> None:
    body = '<p>Logo:</p><img data-missive-attachment-id="a1" alt="logo"><img src="cid:gone@x">'
    html = render.sanitize_email(body, {"a1": "/_files/a1/tok/logo.png"})
    assert '<img src="/_files/a1/tok/logo.png" alt="logo">' in html
    assert "cid:" not in html


def test_timeline_interleaves_entries_with_a_flat_query_count(
    client: TestClient, world: World, factory: Factory, clock: FrozenClock, engine: Engine
) -> None:
    entries = EntryFactory(factory.session, clock)
    entries.comment(world.inbox, world.bob, "First comment", at=T0 + 10)
    entries.task(world.org, "Call the client", conversation=world.inbox, assignees=[world.bob],
                 due_at=T0 + 86400, creator=world.alice, at=T0 + 20)  # fmt: skip
    entries.draft(world.inbox, world.alice, at=T0 + 30, body="<div>My reply draft</div>")
    entries.draft(world.inbox, world.bob, at=T0 + 40, body="<div>Bob's private draft</div>")
    sign_in(client, world.token)

    def load() -> tuple[str, int]:
        with count_queries(engine) as seen:
            page = client.get(f"/c/{world.inbox.id}")
        assert page.status_code == 200
        return page.text, len(seen)

    page, few = load()
    order = [page.index(s) for s in ("Hi", "First comment", "Call the client", "My reply draft")]
    assert order == sorted(order)
    assert "Bob&#39;s private draft" not in page
    assert "Bob's private draft" not in page
    assert "Assigned to Bob" in page
    assert "Draft</span>" in page
    for i in range(20):
        entries.comment(world.inbox, world.bob, f"More {i}", at=T0 + 100 + i)
        entries.post(world.inbox, username="Bot", text=f"Post {i}", at=T0 + 200 + i)
    assert load()[1] == few
