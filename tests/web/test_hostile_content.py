"""Stored content an attacker or an old bug wrote (issue 16, items 4 and 6): the conversation
page renders it without running script or failing, and every page carries security headers."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from missive_server.web import render
from missive_server.web.security import CONTENT_SECURITY_POLICY
from tests.conftest import bearer
from tests.factories import EntryFactory, Factory
from tests.web.test_inbox_pages import sign_in

T0 = 1_700_000_000
EVIL = [
    "javascript:alert(1)",
    " JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "\x01javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.test/x",
    "https:alert(1)",
]


def test_urls_in_posts_link_only_to_http_https_and_mailto(
    client: TestClient, factory: Factory
) -> None:
    org = factory.organization()
    alice, token = factory.member(org)
    conversation = factory.conversation(org, users=[alice], at=T0)
    blocks = [
        {
            "author_name": f"A{i}",
            "author_link": url,
            "author_icon": url,
            "title": f"T{i}",
            "title_link": url,
            "image_url": url,
            "footer": "F",
            "footer_icon": url,
        }
        for i, url in enumerate(EVIL)
    ]
    good = {
        "author_name": "Good",
        "author_link": "https://tracker.test/a",
        "title": "Mail",
        "title_link": "mailto:ops@acme.test",
        "image_url": "https://img.test/i.png",
    }
    EntryFactory(factory.session, factory.clock).post(
        conversation, username_icon="javascript:alert(2)", attachments=[*blocks, good]
    )
    sign_in(client, token)

    page = client.get(f"/c/{conversation.id}")

    assert page.status_code == 200
    urls = re.findall(r'(?:href|src)="([^"]*)"', page.text)
    assert [u for u in urls if not _ours_or_safe(u)] == []
    assert "https://tracker.test/a" in urls
    assert "mailto:ops@acme.test" in urls
    assert "https://img.test/i.png" in urls
    for i in range(len(EVIL)):
        assert f"A{i}" in page.text  # the text is still shown, only not as a link


def _ours_or_safe(url: str) -> bool:
    if url.startswith("/"):
        return not url.startswith("//")  # protocol-relative: another origin
    return url.startswith(("#", "https://", "mailto:"))


@pytest.mark.parametrize(
    ("url", "link", "image"),
    [
        ("https://a.test/x", "https://a.test/x", "https://a.test/x"),
        ("HTTP://a.test/x", "HTTP://a.test/x", "HTTP://a.test/x"),
        ("mailto:a@b.test", "mailto:a@b.test", None),
        ("avatar:a@b.test", None, None),
        ("javascript:alert(1)", None, None),
        ("/relative", None, None),
        (12, None, None),
        (None, None, None),
    ],
)
def test_safe_urls(url: object, link: str | None, image: str | None) -> None:
    assert render.safe_link(url) == link
    assert render.safe_image(url) == image


def test_a_stored_value_no_date_has_renders_everywhere(
    client: TestClient, factory: Factory
) -> None:
    """Rows written before the input checks (or by hand): times past year 9999 and integers
    past 64 bits in a post block never make the page or the API fail."""
    org = factory.organization()
    alice, token = factory.member(org)
    conversation = factory.conversation(org, users=[alice], at=T0)
    entries = EntryFactory(factory.session, factory.clock)
    entries.post(conversation, attachments=[{"text": "far", "timestamp": 10**400}])
    entries.post(conversation, attachments=[{"text": "huge", "timestamp": 2**62}])
    entries.post(conversation, attachments=[{"text": "odd", "timestamp": "soon"}])
    sign_in(client, token)

    page = client.get(f"/c/{conversation.id}")
    posts = client.get(f"/v1/conversations/{conversation.id}/posts", headers=bearer(token))

    assert page.status_code == 200
    assert all(word in page.text for word in ("far", "huge", "odd"))
    assert posts.status_code == 200
    stamps = sorted(str(p["attachments"][0]["timestamp"]) for p in posts.json()["posts"])
    assert stamps == sorted([str(10**400), str(2**62), "soon"])


def test_times_past_any_calendar_render_blank() -> None:
    assert render.full_time(10**30) == ""
    assert render.short_time(10**30, T0) == ""
    assert render.full_time(T0) == "2023-11-14 22:13 UTC"


def test_every_page_carries_security_headers(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    alice, token = factory.member(org)
    conversation = factory.conversation(org, users=[alice], at=T0)
    pages = ["/sign-in", "/_static/app.css"]
    signed_in = ["/", "/m/inbox", f"/c/{conversation.id}", "/outbox", "/deliveries", "/c/nope"]
    for path in pages:
        _assert_headers(client.get(path, follow_redirects=False))
    sign_in(client, token)
    for path in signed_in:
        _assert_headers(client.get(path, follow_redirects=False))
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    # Our own script file only: no inline script, no event-handler attributes, no eval.
    assert directives["script-src"] == "'self'"


def _assert_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_a_nul_in_a_form_field_is_400_and_writes_nothing(
    client: TestClient, factory: Factory
) -> None:
    org = factory.organization()
    alice, token = factory.member(org)
    conversation = factory.conversation(org, users=[alice], at=T0)
    sign_in(client, token)
    page = client.get(f"/c/{conversation.id}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None

    response = client.post(
        f"/c/{conversation.id}/act",
        data={"csrf": csrf.group(1), "action": "comment", "value": "a\x00b"},
        follow_redirects=False,
    )

    assert response.status_code == 400
    assert response.json() == {"error": {"message": "Form fields must not contain NUL characters"}}
    comments = client.get(f"/v1/conversations/{conversation.id}/comments", headers=bearer(token))
    assert comments.json()["comments"] == []
