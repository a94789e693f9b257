"""Resolution times in analytics reports, end to end: conversations closed and reopened through
the API (PATCH /v1/conversations, POST /v1/posts), then the report's exact figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.schemas.analytics import ReportEnvelope
from tests.conftest import bearer
from tests.factories import Factory, email

NOW = 1_700_000_000
START, END = NOW - 7 * 86_400, NOW
DAY = 86_400


def patch(client: TestClient, token: str, cid: str, **changes: Any) -> None:
    body = {"conversations": [{"id": cid, **changes}]}
    response = client.patch(f"/v1/conversations/{cid}", json=body, headers=bearer(token))
    assert response.status_code == 200, response.json()


def close_by_post(client: TestClient, token: str, cid: str) -> None:
    body = {"posts": {"conversation": cid, "notification": {"title": "t", "body": "b"}}}
    body["posts"] |= {"text": "Done", "close": True}
    response = client.post("/v1/posts", json=body, headers=bearer(token))
    assert response.status_code == 201, response.json()


def test_resolution_times_of_conversations_closed_in_the_period(
    client: TestClient, app: Any, factory: Factory, clock: FrozenClock
) -> None:
    org = factory.organization()
    owner, token = factory.member(org, "admin", email="owner@acme.test")
    team = factory.team(org, "Support")

    def conversation(at: int, **fields: Any) -> str:
        return factory.conversation(org, users=[owner], at=at, messages=[email(at)], **fields).id

    quick = conversation(START + 100, team=team)
    # Idle since before the period, then closed silently by PATCH inside it: still counted.
    idle = conversation(START - 3 * DAY, team=team)
    reopened = conversation(START + 200)
    posted = conversation(START + 300)
    clock.set(START + 500)
    patch(client, token, reopened, close=True)
    clock.set(START + 1100)
    patch(client, token, quick, close=True)
    patch(client, token, reopened, reopen=True)  # counts nowhere any more
    clock.set(START + 3600)
    patch(client, token, idle, close=True)
    clock.set(START + DAY)
    close_by_post(client, token, posted)
    clock.set(START + DAY + 60)
    patch(client, token, posted, close=True)  # closing again keeps the first close
    clock.set(END)
    response = client.post(
        "/v1/analytics/reports",
        json={"reports": {"organization": org.id, "start": START, "end": END}},
        headers=bearer(token),
    )
    app.state.worker.run_once()

    found = client.get(
        f"/v1/analytics/reports/{response.json()['reports']['id']}", headers=bearer(token)
    ).json()
    report = found["reports"]

    ReportEnvelope.model_validate(found)
    assert report["totals"] == {
        "conversations_active": 3,
        "conversations_created": 3,
        "messages_received": 3,
        "messages_sent": 0,
        "comments": 0,
        "posts": 1,
        "conversations_answered": 0,
        "conversations_unanswered": 3,
        "conversations_resolved": 3,
    }
    # 1000 s (quick), 86,100 s (posted), 262,800 s (idle).
    assert report["resolution_time"] == {
        "count": 3,
        "mean": 116633.3,
        "median": 86100.0,
        "p90": 227460.0,
        "p95": 245130.0,
    }
    assert [(t["name"], t["resolution_time"]) for t in report["by_team"]] == [
        (
            "Support",
            {"count": 2, "mean": 131900.0, "median": 131900.0, "p90": 236620.0, "p95": 249710.0},
        )
    ]
    resolved_days = {d["date"]: d["conversations_resolved"] for d in report["by_day"]}
    first_day = datetime.fromtimestamp(START, UTC).date().isoformat()
    second_day = datetime.fromtimestamp(START + DAY, UTC).date().isoformat()
    assert {day: n for day, n in resolved_days.items() if n} == {first_day: 2, second_day: 1}
