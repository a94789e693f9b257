"""``/_emulator/clock``: the API and the in-process worker share one movable clock, so a
scheduled draft goes out and a report expires when the emulator's time passes them."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from missive_server.clock import EmulatorClock, FrozenClock
from tests.api.drafts_support import T0, World, created, make_world
from tests.api.emulator_support import emu, emulator
from tests.conftest import bearer
from tests.factories import Factory

__all__ = ["emu", "emulator"]


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def move(emu: TestClient, **body: Any) -> dict[str, Any]:
    response = emu.post("/_emulator/clock", json=body)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


def test_advance_set_freeze_and_resume(emu: TestClient, clock: FrozenClock) -> None:
    assert emu.get("/_emulator/clock").json() == {"now": T0, "offset": 0, "frozen": False}
    assert move(emu, advance=3600) == {"now": T0 + 3600, "offset": 3600, "frozen": False}
    clock.advance(10)  # system time passes: a running clock follows it
    assert move(emu, freeze=True) == {"now": T0 + 3610, "offset": 3600, "frozen": True}
    clock.advance(10)  # a frozen one does not
    assert emu.get("/_emulator/clock").json()["now"] == T0 + 3610
    assert move(emu, set=1_767_225_600)["now"] == 1_767_225_600
    resumed = move(emu, freeze=False)
    assert resumed == {"now": 1_767_225_600, "offset": 1_767_225_600 - clock.now(), "frozen": False}
    clock.advance(5)
    assert emu.get("/_emulator/clock").json()["now"] == 1_767_225_605
    assert move(emu, reset=True) == {"now": clock.now(), "offset": 0, "frozen": False}


def test_reset_puts_the_clock_back(emu: TestClient, clock: FrozenClock) -> None:
    move(emu, advance=99, freeze=True)
    assert emu.post("/_emulator/reset").status_code == 200
    assert emu.get("/_emulator/clock").json() == {"now": clock.now(), "offset": 0, "frozen": False}


def test_bad_clock_input_is_400(emu: TestClient) -> None:
    response = emu.post("/_emulator/clock", json={"advance": "soon"})
    assert response.status_code == 400
    assert "advance" in response.json()["error"]["message"]


def test_advancing_sends_a_scheduled_draft_through_the_worker(
    emu: TestClient, emulator: FastAPI, world: World
) -> None:
    draft = created(emu, world.token, conversation=world.conversation.id, send_at=T0 + 3600)
    worker = emulator.state.worker

    move(emu, advance=3599)
    assert worker.run_once() == 0
    move(emu, advance=1)
    assert worker.run_once() == 1

    sent = emu.get(f"/v1/messages/{draft['id']}", headers=bearer(world.token)).json()
    assert (sent["messages"]["delivered_at"], sent["messages"]["delivery_status"]) == (
        T0 + 3600,
        "queued",
    )


def test_advancing_expires_an_analytics_report(
    emu: TestClient, emulator: FastAPI, world: World
) -> None:
    org = world.org.id
    created_report = emu.post(
        "/v1/analytics/reports",
        json={"reports": {"organization": org, "start": T0 - 86_400, "end": T0}},
        headers=bearer(world.token),
    )
    assert created_report.status_code == 201, created_report.text
    url = f"/v1/analytics/reports/{created_report.json()['reports']['id']}"
    assert emulator.state.worker.run_once() == 1
    assert emu.get(url, headers=bearer(world.token)).status_code == 200

    move(emu, advance=61)

    expired = emu.get(url, headers=bearer(world.token))
    assert (expired.status_code, expired.content) == (404, b"")


def test_the_emulator_clock_is_safe_across_threads() -> None:
    clock = EmulatorClock(FrozenClock(0))

    def advance() -> None:
        for _ in range(10_000):
            clock.advance(1)

    threads = [threading.Thread(target=advance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == 40_000
