"""An emulator-mode app on the test database and clock (shared by tests/api/test_emulator_*)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.settings import Settings


@pytest.fixture
def emulator(settings: Settings, clock: FrozenClock, engine: Engine) -> FastAPI:
    return create_app(settings.model_copy(update={"emulator": True}), clock=clock, engine=engine)


@pytest.fixture
def emu(emulator: FastAPI) -> Iterator[TestClient]:
    with TestClient(emulator) as test_client:
        yield test_client
