"""Search in a real Chromium: typed into the box atop the inbox, it finds the one conversation
among many that holds a word, and opens it. ``MISSIVE_SCREENSHOTS=docs/screenshots`` keeps the
results page as ``search.png`` (the README's)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from missive_server.db.models import Conversation, User
from missive_server.services.conversations.messages import MessageInput
from tests.factories import Factory
from tests.web.browser.test_inbox_browser import INBOX, sign_in

pytestmark = pytest.mark.slow(3)

T0 = 1_700_000_000
SCREENSHOTS = os.environ.get("MISSIVE_SCREENSHOTS")
NEEDLE = "Refund for the broken espresso grinder"


def mail(subject: str, sender: str, body: str, at: int) -> MessageInput:
    return MessageInput(
        subject=subject,
        body=f"<p>{body}</p>",
        delivered_at=at,
        from_field={"name": sender, "address": f"{sender.split()[0].lower()}@example.com"},
        to_fields=[{"name": "Acme Support", "address": "support@acme.test"}],
    )


def many(factory: Factory, count: int) -> tuple[User, Conversation]:
    """Alice and ``count`` conversations of hers; only the one returned says "grinder"."""
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", "Alice Martin", organizations={org: "owner"})
    needle = None
    for n in range(count):
        subject, sender, body = INBOX[n % len(INBOX)]
        if n == count // 2 + 1:
            subject, sender = NEEDLE, "Nora Lindqvist"
            body = "The grinder arrived with a cracked hopper; I would like a refund or a new one."
        made = factory.conversation(
            org, users=[alice], at=T0 - 60 * n, subject=subject,
            messages=[mail(subject, sender, body, T0 - 60 * n)],
        )  # fmt: skip
        needle = made if subject == NEEDLE else needle
    assert needle is not None
    return alice, needle


def test_search_finds_one_conversation_among_many(page: Any, factory: Factory) -> None:
    alice, needle = many(factory, 40)
    sign_in(page, factory.token(alice))
    box = page.get_by_role("searchbox", name="Search conversations")
    box.fill("GRIND")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=GRIND$"))
    rows = page.locator("ul.results > li")
    assert rows.count() == 1
    assert rows.first.locator(".subject").inner_text() == NEEDLE
    assert rows.first.locator("mark").inner_text() == "grinder"
    assert "Nora Lindqvist <nora@example.com>" in rows.first.locator(".participants").inner_text()
    assert page.get_by_role("searchbox", name="Search conversations").input_value() == "GRIND"
    rows.first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/c/{needle.id}$"))
    assert page.get_by_role("heading", level=1).inner_text() == NEEDLE

    box = page.get_by_role("searchbox", name="Search conversations")
    box.fill("refund")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=refund$"))
    assert page.locator("ul.results > li").count() == 1
    box = page.get_by_role("searchbox", name="Search conversations")
    box.fill("invoice")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=invoice$"))
    # Every fourth conversation is about invoice 2291: ten of the forty.
    assert page.locator("ul.results > li").count() == 10


def test_search_screenshots(page: Any, factory: Factory, tmp_path: Path) -> None:
    target = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    alice, _ = many(factory, 12)
    sign_in(page, factory.token(alice))
    page.goto("/search?q=invoice")
    assert page.locator("ul.results > li").count() == 3
    page.screenshot(path=target / "search.png")
    assert (target / "search.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
