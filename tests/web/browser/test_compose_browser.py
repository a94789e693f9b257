"""Replying from the conversation page in a real Chromium: "Reply" opens the composer filled with
the customer, "Send" goes through create_draft and the worker hands the mail to a real SMTP
relay, threaded under the customer's Message-ID. Screenshots at 1280 and 390 px."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from missive_server.settings import Settings
from tests.api.drafts_support import FIRST_ID, World, make_world
from tests.delivery.mail_support import Relay, running
from tests.factories import Factory
from tests.web.browser.test_inbox_browser import sign_in

SCREENSHOTS = os.environ.get("MISSIVE_SCREENSHOTS")


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running(Relay()) as started:
        yield started


@pytest.fixture
def settings(settings: Settings, relay: Relay) -> Settings:
    return settings.model_copy(update={"smtp_url": relay.url})


@pytest.fixture
def world(factory: Factory) -> World:
    base = make_world(factory)
    factory.session.commit()
    return base


def test_reply_to_a_customer_reaches_the_relay_threaded(
    page: Any, world: World, app: FastAPI, relay: Relay
) -> None:
    sign_in(page, world.token)
    page.goto(f"/c/{world.conversation.id}")
    page.get_by_role("link", name="Reply", exact=True).click()
    assert page.get_by_label("To", exact=True).input_value() == "Sam <sam@example.com>"
    assert page.get_by_label("Subject", exact=True).input_value() == "Re: Help"
    page.get_by_label("Message", exact=True).fill("Hi Sam,\nyour order ships today.")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"notice=Sent\.$"))
    assert page.get_by_role("status").inner_text() == "Sent."
    app.state.worker.run_once()
    assert len(relay.received) == 1
    mail = message_from_bytes(relay.received[0].content, policy=default)
    assert mail["In-Reply-To"] == FIRST_ID
    assert mail["To"] == "Sam <sam@example.com>"
    page.reload()
    assert page.get_by_text("your order ships today.").is_visible()


def test_compose_screenshots(page: Any, world: World, tmp_path: Path) -> None:
    target = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    sign_in(page, world.token)
    for label, width in {"wide": 1280, "narrow": 390}.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"/c/{world.conversation.id}/compose?mode=reply")
        page.get_by_label("Message", exact=True).fill("Hi Sam,\n\nyour order ships today.\n\nAlice")
        page.screenshot(path=target / f"composer-{label}.png", full_page=label == "narrow")
        page.goto(f"/c/{world.conversation.id}")
        page.screenshot(path=target / f"conversation-reply-{label}.png")
    for png in target.glob("co*-*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"
