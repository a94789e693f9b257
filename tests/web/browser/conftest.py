"""Browser tests: the real app served by uvicorn on a free loopback port (one server per test,
on the test's own database, SQLite and PostgreSQL), driven by Debian's Chromium through
Playwright (one browser per session, a fresh page per test). ``playwright install`` cannot
download here, so the system ``/usr/bin/chromium`` is launched; without it these tests skip."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from missive_server.settings import Settings
from tests.delivery.webhook_support import LOOPBACK_ALLOWED
from tests.serve_support import free_port, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Webhook receivers of these tests listen on loopback; the sign-in page lists users.
    return settings.model_copy(update={**LOOPBACK_ALLOWED, "emulator": True})


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live: str) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, base_url=live)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def live(app: FastAPI) -> Iterator[str]:
    """The app on ``http://127.0.0.1:<port>``, stopped (and its thread joined) after the test."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), "uvicorn stopped while starting"
        return bool(server.started)

    wait_until(started, 15, "uvicorn did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
