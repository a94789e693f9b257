"""axe-core on every page of the web UI (issue 18): each page, in each state worth a look (a form
with its error, a notice, the one-time token box, an open raw message, the narrow layout), is
loaded in Chromium and checked by axe-core (bundled by axe-playwright-python, injected by
Playwright outside the page's CSP); no violation of impact "serious" or "critical" may remain.
One test per page, so a failure names its page and lists each violation's rule, impact, help
and the selectors of the failing nodes. Beside axe: the skip link and focus ring a keyboard user
meets first, and reflow (no sideways scrolling at 320 px, WCAG 1.4.10)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI

from missive_server.db.models import Conversation, SharedLabel
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.messages import MessageInput
from missive_server.web.routes import MAILBOXES
from tests.api.drafts_support import PDF, PNG, T0, make_world
from tests.api.drafts_support import World as DraftsWorld
from tests.delivery.webhook_receiver import receiver
from tests.delivery.webhook_support import make_hook
from tests.factories import EntryFactory, Factory, set_user_state
from tests.web.browser.test_inbox_browser import POST, sign_in

pytestmark = pytest.mark.slow(3)

__all__ = ["receiver"]  # fixture, asked for by the deliveries page only

AXE = Axe()
BLOCKING = {"serious", "critical"}
NARROW = {"width": 390, "height": 844}
#: A line wider than any message column: it must wrap, not widen the page or scroll.
LOG_LINE = "2026-12-06T17:00:00Z carrier=DHL status=DAMAGED_IN_TRANSIT " * 6


@dataclass
class Scene:
    """Alice's view of Acme: a conversation with every kind of entry (starred, labelled,
    assigned), and conversations closed, in the trash and in spam."""

    world: DraftsWorld
    label: SharedLabel
    conversation: Conversation


@dataclass
class Visit:
    page: Any
    scene: Scene
    app: FastAPI
    request: pytest.FixtureRequest

    def signed_in(self, path: str) -> None:
        sign_in(self.page, self.scene.world.token)
        self.page.goto(path)

    def heading(self, text: str | re.Pattern[str]) -> None:
        """The page opened is the one meant (not a redirect to sign-in or an error page)."""
        h1 = self.page.get_by_role("heading", level=1)
        assert h1.count() == 1, self.page.url
        named = self.page.get_by_role("heading", level=1, name=text, exact=True)
        assert named.count() == 1, f"{self.page.url}: {h1.inner_text()!r}"


@pytest.fixture
def scene(factory: Factory) -> Scene:
    world = make_world(factory)
    label = factory.shared_label(world.org, "VIP", color="#e5484d")
    factory.shared_label(world.org, "Billing", color="#f5d90a")
    alice, bob = world.alice, world.bob
    mail = MessageInput(
        subject="Order #1042 arrived damaged",
        body="<p>The box was <b>crushed</b>; photos attached.</p><blockquote>Earlier</blockquote>"
        f"<pre>{LOG_LINE}</pre>",
        delivered_at=T0 - 3600,
        from_field={"name": "Sam Carter", "address": "sam@example.com"},
        to_fields=[{"name": "Acme Support", "address": "support@acme.test"}],
        attachments=[NewAttachment("invoice.pdf", PDF), NewAttachment("box.png", PNG)],
    )
    conversation = factory.conversation(world.org, users=[alice, bob], labels=[label],
                                        messages=[mail], at=T0 - 3600)  # fmt: skip
    set_user_state(factory, conversation, alice, flagged=True)
    set_user_state(factory, conversation, bob, assigned=True)
    entries = EntryFactory(factory.session, factory.clock)
    entries.comment(conversation, bob, "Refund approved, shipping a new one.", at=T0 - 3000,
                    attachment=NewAttachment("label.png", PNG))  # fmt: skip
    entries.post(conversation, at=T0 - 2800, username="Shopify", notification=POST["notification"],
                 markdown=POST["markdown"], attachments=POST["attachments"])  # fmt: skip
    entries.task(world.org, "Ship the replacement", conversation=conversation, assignees=[bob],
                 due_at=T0 + 86400, at=T0 - 2600)  # fmt: skip
    entries.draft(conversation, alice, at=T0 - 2400, subject="Re: Order #1042 arrived damaged")
    for location, subject in [("closed", "Solved"), ("trashed", "Old"), ("junked", "Win a prize")]:
        factory.conversation(world.org, users=[alice], location=location, subject=subject,
                             at=T0 - 7000)  # fmt: skip
    factory.session.commit()
    return Scene(world, label, conversation)


def sign_in_page(v: Visit) -> None:
    v.page.goto("/sign-in")
    v.heading("Sign in")


def narrow(visit: Callable[[Visit], None]) -> Callable[[Visit], None]:
    """The same page in the phone layout."""

    def narrowed(v: Visit) -> None:
        v.page.set_viewport_size(NARROW)
        visit(v)

    return narrowed


def sign_in_error(v: Visit) -> None:
    sign_in_page(v)
    v.page.get_by_label("Email").fill("alice@acme.test")
    v.page.get_by_label("Password").fill("not the password")
    v.page.get_by_role("button", name="Sign in", exact=True).click()
    assert v.page.get_by_role("alert").inner_text() == "Wrong email or password."


def forgot_password(v: Visit) -> None:
    v.page.goto("/forgot-password")
    v.heading("Forgot password")


def forgot_password_sent(v: Visit) -> None:
    forgot_password(v)
    v.page.get_by_label("Your email").fill("alice@acme.test")
    v.page.get_by_role("button", name="Mail me a link").click()
    assert "on its way" in v.page.get_by_role("status").inner_text()


def reset_password(v: Visit) -> None:
    v.page.goto("/reset-password#not-a-real-secret")
    v.heading("New password")
    assert v.page.get_by_label(re.compile("Reset code")).input_value() == "not-a-real-secret"


def mailbox(path: str, title: str) -> Callable[[Visit], None]:
    def visit(v: Visit) -> None:
        v.signed_in(path)
        v.heading(title)

    return visit


def search_results(v: Visit) -> None:
    """A search that finds the scene's conversation: its result row is checked too."""
    v.signed_in("/search?q=help")
    v.heading("Search: help")
    assert v.page.locator("ul.results > li").count() >= 1


def empty(path: str, title: str, text: str) -> Callable[[Visit], None]:
    def visit(v: Visit) -> None:
        mailbox(path, title)(v)
        assert v.page.locator(".empty").inner_text() == text

    return visit


def team_inbox(v: Visit) -> None:
    mailbox(f"/m/team?team={v.scene.world.team.id}", "Support")(v)


def label_mailbox(v: Visit) -> None:
    mailbox(f"/m/label?label={v.scene.label.id}", "VIP")(v)


def conversation(v: Visit) -> None:
    v.signed_in(f"/c/{v.scene.conversation.id}")
    v.heading("Order #1042 arrived damaged")
    for kind in ("message", "comment", "post", "task", "draft"):
        assert v.page.locator(f".entry.{kind}").count() >= 1, kind
    assert v.page.get_by_role("link", name=re.compile("invoice.pdf")).count() == 1


def conversation_notice(v: Visit) -> None:
    conversation(v)
    v.page.get_by_role("button", name="Close", exact=True).click()
    assert v.page.get_by_role("status").inner_text() == "Closed."


def conversation_error(v: Visit) -> None:
    v.signed_in(f"/c/{v.scene.conversation.id}?error=Something+went+wrong.")
    assert v.page.get_by_role("alert").inner_text() == "Something went wrong."


def conversation_live_notice(v: Visit) -> None:
    """The notice app.js adds when a change arrives while the user is typing."""
    sign_in(v.page, v.scene.world.token)
    with v.page.expect_response(re.compile(r"/events$")):  # the stream is open
        v.page.goto(f"/c/{v.scene.conversation.id}")
    v.page.get_by_label("Comment").fill("Half-written")
    body = {"posts": {"conversation": v.scene.conversation.id, "text": "Shipped",
                      "notification": {"title": "Shop", "body": "Shipped"}}}  # fmt: skip
    live = v.page.url.split("/c/")[0]
    headers = {"Authorization": f"Bearer {v.scene.world.token}"}
    assert httpx.post(f"{live}/v1/posts", json=body, headers=headers).status_code == 201
    notice = v.page.locator("#live-notice")
    notice.wait_for()
    assert notice.get_by_role("button").inner_text() == "New activity: reload"


def compose(mode: str) -> Callable[[Visit], None]:
    def visit(v: Visit) -> None:
        v.signed_in(f"/c/{v.scene.conversation.id}/compose?mode={mode}")
        v.heading(re.compile(r": Order #1042 arrived damaged$"))
        assert v.page.get_by_label("Message", exact=True).count() == 1

    return visit


def compose_new(v: Visit) -> None:
    v.signed_in("/compose")
    v.heading("New email")


def compose_errors(v: Visit) -> None:
    compose_new(v)
    v.page.get_by_role("button", name="Send", exact=True).click()
    assert v.page.get_by_role("alert").count() >= 1


def outbox(v: Visit) -> None:
    conversation(v)
    v.page.get_by_role("link", name="Reply", exact=True).click()
    v.page.get_by_label("Message", exact=True).fill("A replacement ships today.")
    v.page.get_by_role("button", name="Send", exact=True).click()
    v.page.wait_for_url(re.compile(r"/c/[^/]+\?notice="))
    v.app.state.worker.run_once()
    v.page.goto("/outbox")
    v.heading("Outbox")
    v.page.get_by_text("View", exact=True).first.click()  # the raw message, open
    assert "Subject: Re: Order #1042" in v.page.locator("pre.raw").first.inner_text()


def deliveries(v: Visit) -> None:
    hooks = v.request.getfixturevalue("receiver")
    session = v.request.getfixturevalue("session")
    make_hook(session, user=v.scene.world.alice, org=v.scene.world.org, url=hooks.url(),
              type="new_comment")  # fmt: skip
    session.commit()
    conversation(v)
    v.page.get_by_label("Comment").fill("Refund approved")
    v.page.get_by_role("button", name="Comment", exact=True).click()
    v.page.wait_for_url(re.compile(r"notice=Comment"))
    assert v.app.state.worker.run_once() == 1
    v.page.goto("/deliveries")
    v.heading("Webhook deliveries")
    v.page.get_by_role("button", name="Redeliver").click()
    assert v.page.get_by_role("status").inner_text() == "Redelivery queued."
    v.page.get_by_text("View", exact=True).first.click()
    assert "Refund approved" in v.page.locator("pre.raw").first.inner_text()


def settings_new_token_form(v: Visit) -> None:
    v.signed_in("/settings/api/new")
    v.heading("Settings")


def settings_token_created(v: Visit) -> None:
    settings_new_token_form(v)
    v.page.get_by_label("Name").fill("CRM sync")
    v.page.get_by_role("button", name="Create token").click()
    assert v.page.locator("#new-token").inner_text().startswith("missive_pat-")


def settings_token_revoked(v: Visit) -> None:
    settings_token_created(v)
    v.page.get_by_role("button", name=re.compile(r"^Revoke CRM sync")).click()
    assert v.page.get_by_role("status").inner_text() == "Token revoked."


def not_found(path: str) -> Callable[[Visit], None]:
    def visit(v: Visit) -> None:
        v.signed_in(path)
        v.heading("Not found")

    return visit


def not_found_address(v: Visit) -> None:
    answer = v.page.goto("/no-such-page")
    assert answer.status == 404
    v.heading("Not found")


PAGES: dict[str, Callable[[Visit], None]] = {
    "sign-in": sign_in_page,
    "sign-in-narrow": narrow(sign_in_page),
    "sign-in-error": sign_in_error,
    "forgot-password": forgot_password,
    "forgot-password-sent": forgot_password_sent,
    "reset-password": reset_password,
    "inbox": mailbox("/", "Inbox"),
    "inbox-narrow": narrow(mailbox("/", "Inbox")),
    # Every sidebar mailbox, so one added to routes.MAILBOXES is checked too.
    **{f"mailbox-{slug}": mailbox(f"/m/{slug}", title) for slug, title, _ in MAILBOXES},
    "team-inbox": team_inbox,
    "label": label_mailbox,
    "conversation": conversation,
    "conversation-narrow": narrow(conversation),
    "compose-reply-narrow": narrow(compose("reply")),
    "settings-api-token-created-narrow": narrow(settings_token_created),
    "conversation-notice": conversation_notice,
    "conversation-error": conversation_error,
    "conversation-live-notice": conversation_live_notice,
    "compose-reply": compose("reply"),
    "compose-reply-all": compose("reply_all"),
    "compose-forward": compose("forward"),
    "compose-new": compose_new,
    "compose-errors": compose_errors,
    "outbox-empty": empty("/outbox", "Outbox", "Nothing sent yet."),
    "outbox": outbox,
    "deliveries-empty": empty("/deliveries", "Webhook deliveries", "No webhook deliveries yet."),
    "deliveries": deliveries,
    "search": mailbox("/search", "Search"),
    "search-results": search_results,
    "settings-api": mailbox("/settings/api", "Settings"),
    "settings-api-new": settings_new_token_form,
    "settings-api-token-created": settings_token_created,
    "settings-api-token-revoked": settings_token_revoked,
    "settings-resource-ids": mailbox("/settings/resource-ids", "Settings"),
    "not-found-conversation": not_found("/c/00000000-0000-4000-8000-000000000000"),
    "not-found-mailbox": not_found("/m/nowhere"),
    "not-found-address": not_found_address,
}


def violations_report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]")
        for node in v["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}")
            lines.append(f"      {' '.join(node.get('failureSummary', '').split())}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_or_critical_axe_violation(
    name: str, page: Any, scene: Scene, app: FastAPI, request: pytest.FixtureRequest
) -> None:
    PAGES[name](Visit(page, scene, app, request))
    results = AXE.run(page).response
    assert results["testEngine"]["name"] == "axe-core"
    assert results["url"] == page.url
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING]
    assert blocking == [], f"{name} ({page.url}):\n{violations_report(blocking)}"


def test_the_first_tab_reaches_a_visible_skip_link_that_moves_focus_to_the_content(
    page: Any, scene: Scene
) -> None:
    """Keyboard basics axe cannot see: a skip link first in the tab order, shown when focused,
    landing on the main content, and a focus ring on what comes next."""
    sign_in(page, scene.world.token)
    page.goto(f"/c/{scene.conversation.id}")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("element => element === document.activeElement")
    box = skip.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    ring = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.closest('main') !== null, s.outlineStyle,"
        " s.outlineWidth, s.outlineColor]; })()"
    )
    assert ring == [True, "solid", "3px", "rgb(31, 90, 212)"]


@pytest.mark.parametrize("width", [1400, 320])
def test_a_mail_with_long_lines_wraps_in_the_conversation_page(
    page: Any, scene: Scene, width: int
) -> None:
    """Reflow (WCAG 1.4.10), wide and down to 320 px: the page never scrolls sideways, whatever
    a mail's lines; the message body wraps them rather than scroll (a box axe would want
    focusable)."""
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, scene.world.token)
    page.goto(f"/c/{scene.conversation.id}")
    body = page.locator(".entry.message .body").first
    assert LOG_LINE.strip()[:40] in body.locator("pre").inner_text()
    scrolled, shown = body.evaluate("b => [b.scrollWidth, b.clientWidth]")
    assert scrolled == shown
    assert page_width(page) == width


@pytest.mark.parametrize("path", ["/sign-in", "/", "/c/{id}", "/compose", "/settings/api/new"])
def test_pages_reflow_at_320_px(page: Any, scene: Scene, path: str) -> None:
    """No sideways scrolling at 320 CSS px (WCAG 1.4.10), the tables of the log pages excepted
    (data tables may scroll both ways)."""
    page.set_viewport_size({"width": 320, "height": 640})
    sign_in(page, scene.world.token)
    page.goto(path.format(id=scene.conversation.id))
    assert page.get_by_role("heading", level=1).count() == 1
    assert page_width(page) == 320


def page_width(page: Any) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width
