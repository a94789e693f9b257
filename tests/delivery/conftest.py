"""Receivers in these tests listen on loopback, where webhooks go only when allowed."""

from __future__ import annotations

import pytest

from missive_server.settings import Settings
from tests.delivery.webhook_support import LOOPBACK_ALLOWED


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update=LOOPBACK_ALLOWED)
