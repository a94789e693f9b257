"""``missive-server serve`` really starts: a subprocess on a free port, migrated, answering 401."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ServeFixture

pytestmark = pytest.mark.slow(5)


def test_serve_migrates_and_answers(serve: ServeFixture) -> None:
    served = serve()

    assert served.first.status_code == 401
    assert served.first.json() == {
        "error": {"message": "Authentication token is invalid or has been revoked"}
    }


def test_several_workers_without_redis_warn_of_separate_budgets(serve: ServeFixture) -> None:
    served = serve("--workers", "2", env={"MISSIVE_REDIS_URL": None, "MISSIVE_RUN_WORKER": "false"})
    assert served.first.status_code == 401

    text = " ".join(served.stop().split())  # rich may wrap the line
    assert "Warning: 2 worker processes without MISSIVE_REDIS_URL" in text
    assert "2 times the configured requests" in text


@pytest.mark.parametrize(("setting", "logged"), [(None, True), ("false", False)])
def test_the_access_log_is_on_unless_turned_off(
    serve: ServeFixture, setting: str | None, logged: bool
) -> None:
    served = serve(env={"MISSIVE_ACCESS_LOG": setting, "MISSIVE_RUN_WORKER": "false"})
    assert served.first.status_code == 401
    assert httpx.get(f"{served.base}/v1/users", timeout=5).status_code == 401

    text = served.stop()
    assert "Uvicorn running on" in text or "Application startup complete" in text
    assert ('"GET /v1/users HTTP/1.1" 401' in text) is logged, text
