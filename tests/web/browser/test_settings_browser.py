"""Settings > API in a real Chromium: create a token from the sidebar's Settings link, call
``/v1/users`` with it, revoke it and get 401; the Resource IDs tab's copy buttons; screenshots at
1280 and 390 px wide (``MISSIVE_SCREENSHOTS=docs/screenshots`` keeps them)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.drafts_support import World as DraftsWorld
from tests.api.drafts_support import make_world
from tests.factories import Factory
from tests.web.browser.test_inbox_browser import sign_in

SCREENSHOTS = os.environ.get("MISSIVE_SCREENSHOTS")
WIDTHS = {"wide": 1280, "narrow": 390}


@pytest.fixture
def world(factory: Factory) -> DraftsWorld:
    base = make_world(factory)
    factory.team(base.org, "Support", active=[base.alice])
    factory.shared_label(base.org, "VIP", color="#e5484d")
    factory.session.commit()
    return base


def test_create_a_token_in_settings_use_it_then_revoke_it(
    page: Any, world: DraftsWorld, live: str
) -> None:
    sign_in(page, world.token)
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url(re.compile(r"/settings/api$"))
    page.get_by_role("link", name="Create a new token").click()
    page.get_by_label("Name").fill("Zapier")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("missive_pat-")
    users = httpx.get(f"{live}/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert users.status_code == 200
    assert "alice@acme.test" in users.text
    page.goto("/settings/api")
    assert token not in page.content()
    page.get_by_role("button", name=re.compile(r"^Revoke Zapier")).click()
    page.wait_for_url(re.compile(r"notice=Token\+revoked"))
    assert page.get_by_role("status").inner_text() == "Token revoked."
    again = httpx.get(f"{live}/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401


def test_resource_ids_copy_button_copies_the_id(page: Any, world: DraftsWorld) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, world.token)
    page.goto("/settings/resource-ids")
    page.get_by_role("button", name=f"Copy the id of {world.org.name}", exact=True).click()
    page.wait_for_selector("button.copy.copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == world.org.id


def test_settings_screenshots(page: Any, world: DraftsWorld, tmp_path: Path) -> None:
    target = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    sign_in(page, world.token)
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/settings/api/new")
        page.get_by_label("Name").fill("CRM sync")
        page.get_by_role("button", name="Create token").click()
        page.screenshot(path=target / f"settings-api-{label}.png", full_page=label == "narrow")
        page.goto("/settings/resource-ids")
        page.screenshot(path=target / f"settings-resource-ids-{label}.png", full_page=True)
    for png in target.glob("settings-*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
