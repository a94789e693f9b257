"""``/_emulator/faults``: the next N matching requests fail (429 with Missive's rate-limit
headers, 500) or are delayed; then requests are served normally again."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from tests.api.emulator_support import emu, emulator
from tests.conftest import bearer
from tests.factories import Factory

__all__ = ["emu", "emulator"]


@pytest.fixture
def token(factory: Factory) -> str:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "owner"})
    return factory.token(alice)


def arm(emu: TestClient, **fault: Any) -> dict[str, Any]:
    response = emu.post("/_emulator/faults", json=fault)
    assert response.status_code == 200, response.text
    [armed] = response.json()["faults"]
    return dict(armed)


def test_429_hits_exactly_n_requests_with_the_rate_limit_headers(
    emu: TestClient, token: str, clock: FrozenClock
) -> None:
    armed = arm(emu, method="GET", path="/v1/users", count=2, status=429)
    assert (armed["remaining"], armed["status"], armed["method"]) == (2, 429, "GET")

    statuses = []
    for _ in range(3):
        response = emu.get("/v1/users", headers=bearer(token))
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.json() == {"error": {"message": "Rate limit exceeded"}}
            assert {
                k: response.headers[k]
                for k in (
                    "Retry-After",
                    "X-RateLimit-Limit",
                    "X-RateLimit-Remaining",
                    "X-RateLimit-Reset",
                )
            } == {
                "Retry-After": "60",
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(clock.now() + 60),
            }
    assert statuses == [429, 429, 200]
    assert emu.get("/_emulator/faults").json() == {"faults": []}


def test_500_only_for_the_method_and_path_that_match(emu: TestClient, token: str) -> None:
    arm(emu, method="POST", path="/v1/conversations/*", count=1, status=500)

    assert emu.get("/v1/users", headers=bearer(token)).status_code == 200
    assert emu.get("/v1/conversations/x", headers=bearer(token)).status_code == 404
    [listed] = emu.get("/_emulator/faults").json()["faults"]
    assert listed["remaining"] == 1

    failed = emu.post("/v1/conversations/x/messages", headers=bearer(token), json={})
    assert failed.status_code == 500
    assert failed.json() == {"error": {"message": "Internal server error"}}
    after = emu.post("/v1/conversations/x/messages", headers=bearer(token), json={})
    assert after.status_code != 500


def test_latency_delays_then_serves(emu: TestClient, token: str) -> None:
    arm(emu, path="/v1/users", count=1, latency_ms=300)

    started = time.monotonic()
    delayed = emu.get("/v1/users", headers=bearer(token))
    took = time.monotonic() - started
    assert delayed.status_code == 200
    assert took >= 0.3
    started = time.monotonic()
    assert emu.get("/v1/users", headers=bearer(token)).status_code == 200
    assert time.monotonic() - started < 0.3


def test_faults_never_apply_to_the_emulator_and_can_be_cleared(emu: TestClient) -> None:
    arm(emu, path="/_emulator/*", count=5, status=500)
    arm(emu, path="*", count=5, status=429)

    assert emu.get("/_emulator/clock").status_code == 200
    assert len(emu.get("/_emulator/faults").json()["faults"]) == 2
    assert emu.delete("/_emulator/faults").json() == {"faults": []}
    assert emu.get("/_emulator/faults").json() == {"faults": []}


def test_reset_clears_faults(emu: TestClient) -> None:
    arm(emu, path="/v1/users", count=5, status=500)
    assert emu.post("/_emulator/reset").status_code == 200
    assert emu.get("/_emulator/faults").json() == {"faults": []}


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ({"path": "/v1/users"}, "status"),
        ({"path": "/v1/users", "status": 404}, "status"),
        ({"path": "/v1/users", "status": 500, "count": 0}, "count"),
        ({"status": 500}, "path"),
    ],
)
def test_bad_faults_are_400(emu: TestClient, fault: dict[str, Any], field: str) -> None:
    response = emu.post("/_emulator/faults", json=fault)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]
    assert emu.get("/_emulator/faults").json() == {"faults": []}
