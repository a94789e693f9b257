"""Password sign-in and "forgot password" in a real Chromium: the mailed link (read from the
outbox, as a developer would in the emulator) fills the reset form from its fragment, and the new
password signs in; screenshots of the sign-in page at 1280 and 390 px."""

from __future__ import annotations

import os
import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.db.models import OutboxItem
from missive_server.services.directory import passwords
from tests.api.drafts_support import World, make_world
from tests.factories import Factory

SCREENSHOTS = os.environ.get("MISSIVE_SCREENSHOTS")
PASSWORD = "correct horse battery"


@pytest.fixture
def world(factory: Factory) -> World:
    base = make_world(factory)
    passwords.set_password(user=base.alice, password=PASSWORD)
    factory.session.commit()
    return base


def password_sign_in(page: Any, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_sign_in_with_email_and_password(page: Any, world: World) -> None:
    password_sign_in(page, "not the password")
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."
    password_sign_in(page, PASSWORD)
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("link", name="Settings").is_visible()


def test_forgot_password_link_resets_it(
    page: Any, world: World, app: FastAPI, session: Session, live: str
) -> None:
    page.goto("/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Your email").fill("alice@acme.test")
    page.get_by_role("button", name="Mail me a link").click()
    assert "on its way" in page.get_by_role("status").inner_text()
    app.state.worker.run_once()
    raw = session.scalar(select(OutboxItem.raw).where(OutboxItem.kind == "password_reset"))
    assert raw is not None
    link = re.search(r"http://\S+/reset-password#\S+", message_from_bytes(raw, policy=default)
                     .get_content())  # fmt: skip
    assert link is not None
    page.goto(link.group(0).replace("http://testserver", live))
    secret = link.group(0).rpartition("#")[2]
    assert page.get_by_label(re.compile("Reset code")).input_value() == secret
    assert "#" not in page.url  # moved out of the address bar and history
    page.get_by_label(re.compile("New password")).fill("my new password")
    page.get_by_label("Repeat it").fill("my new password")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(re.compile(r"/sign-in\?notice="))
    assert "Password changed" in page.get_by_role("status").inner_text()
    password_sign_in(page, "my new password")
    page.wait_for_url(re.compile(r"/$"))


def test_sign_in_screenshots(page: Any, world: World, tmp_path: Path) -> None:
    target = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    for label, width in {"wide": 1280, "narrow": 390}.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/sign-in")
        page.screenshot(path=target / f"sign-in-{label}.png", full_page=True)
        assert (target / f"sign-in-{label}.png").read_bytes()[:4] == b"\x89PNG"
