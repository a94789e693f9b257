"""The HTTP-level web tests sign in with an API token for brevity (the password sign-in has its
own tests in test_sign_in_pages.py, which turn this off again)."""

from __future__ import annotations

import pytest

from missive_server.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"web_token_sign_in": True})
