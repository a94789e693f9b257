"""POST /v1/analytics/reports and GET /v1/analytics/reports/:id (spec 2.1)."""

from __future__ import annotations

from typing import Any

import pytest
from dirty_equals import IsUUID
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Account, AnalyticsReport, OutboxItem
from missive_server.ids import new_id
from missive_server.schemas.analytics import ReportEnvelope
from tests.conftest import bearer
from tests.factories import Factory, email
from tests.services.analytics_data import Expected, build_dataset

URL = "/v1/analytics/reports"
NOW = 1_700_000_000
START, END = NOW - 7 * 86_400, NOW


@pytest.fixture
def org(factory: Factory):  # type: ignore[no-untyped-def]
    return factory.organization()


@pytest.fixture
def token(factory: Factory, org: Any) -> str:
    return factory.member(org, "admin", email="owner@acme.test")[1]


def body(org_id: str, **fields: Any) -> dict[str, Any]:
    return {"reports": {"organization": org_id, "start": START, "end": END, **fields}}


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def create(client: TestClient, token: str, payload: dict[str, Any]) -> str:
    response = client.post(URL, json=payload, headers=bearer(token))
    assert response.status_code == 201, response.text
    report_id: str = response.json()["reports"]["id"]
    return report_id


def test_create_answers_201_with_the_id_and_enqueues_the_computation(
    client: TestClient, session: Session, org: Any, token: str
) -> None:
    response = client.post(URL, json=body(org.id), headers=bearer(token))

    assert response.status_code == 201
    assert response.json() == {"reports": {"id": IsUUID(4)}}
    report_id = response.json()["reports"]["id"]
    report = session.get(AnalyticsReport, report_id)
    assert report is not None
    assert (report.status, report.result, report.completed_at) == ("pending", None, None)
    item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "analytics_report")).one()
    assert (item.status, item.payload) == ("pending", {"report_id": report_id})


def test_auth_is_required(client: TestClient, org: Any) -> None:
    message = error("Authentication token is invalid or has been revoked")
    assert client.post(URL, json=body(org.id)).json() == message
    assert client.post(URL, json=body(org.id)).status_code == 401
    response = client.get(f"{URL}/{new_id()}", headers=bearer("missive_pat-nope"))
    assert (response.status_code, response.json()) == (401, message)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"organization": None}, "'reports.organization' must be a string"),
        ({"start": None}, "'reports.start' must be an integer"),
        ({"start": "1700000000"}, "'reports.start' must be an integer"),
        ({"start": -5}, "'reports.start' must be a Unix timestamp (seconds)"),
        ({"end": 1.5}, "'reports.end' must be an integer"),
        ({"end": START}, "'reports.end' must be greater than 'start'"),
        ({"end": START - 1}, "'reports.end' must be greater than 'start'"),
        ({"end": START + 366 * 86_400 + 1}, "'reports.end' must be at most 366 days after 'start'"),
        (
            {"time_zone": "Mars/Olympus"},
            "'reports.time_zone' must be an IANA time zone name such as 'America/Montreal' "
            "(got 'Mars/Olympus')",
        ),
        (
            {"time_zone": "../../etc/passwd"},
            "'reports.time_zone' must be an IANA time zone name such as 'America/Montreal' "
            "(got '../../etc/passwd')",
        ),
        ({"time_zone": 5}, "'reports.time_zone' must be a string"),
        (
            {"time_zone": "x" * 1000},
            "'reports.time_zone' must be an IANA time zone name such as 'America/Montreal' "
            f"(got '{'x' * 61}...')",
        ),
        ({"teams": "x"}, "'reports.teams' must be an array"),
        ({"users": [5]}, "'reports.users[0]' must be a string"),
        (
            {"account_types": ["email", "fax"]},
            "'reports.account_types[1]' must be one of 'custom', 'email', 'instagram', "
            "'live_chat', 'messenger', 'sms', 'whatsapp' (got 'fax')",
        ),
    ],
)
def test_validation_errors_name_the_field(
    client: TestClient, org: Any, token: str, fields: dict[str, Any], message: str
) -> None:
    response = client.post(URL, json=body(org.id, **fields), headers=bearer(token))

    assert (response.status_code, response.json()) == (400, error(message))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"reports": {"start": START, "end": END}}, "'reports.organization' is required"),
        ({"reports": {"organization": "o", "end": END}}, "'reports.start' is required"),
        ({"reports": {"organization": "o", "start": START}}, "'reports.end' is required"),
        ({}, "'reports' is required"),
        ({"reports": "x"}, "'reports' must be an object"),
    ],
)
def test_missing_fields(
    client: TestClient, token: str, payload: dict[str, Any], message: str
) -> None:
    response = client.post(URL, json=payload, headers=bearer(token))

    assert (response.status_code, response.json()) == (400, error(message))


def test_nothing_is_written_when_validation_fails(
    client: TestClient, session: Session, org: Any, token: str
) -> None:
    payload = body(org.id, teams=[new_id()])
    assert client.post(URL, json=payload, headers=bearer(token)).status_code == 404

    assert session.scalars(select(AnalyticsReport)).all() == []
    assert session.scalars(select(OutboxItem)).all() == []


def test_unknown_and_foreign_ids_are_404(
    client: TestClient, factory: Factory, session: Session, org: Any, token: str
) -> None:
    other = factory.organization("Other")
    outsider = factory.member(other)[0]
    foreign_team = factory.team(other)
    foreign_label = factory.shared_label(other)
    hidden_label = factory.shared_label(org, "Hidden", visibility="delegates")
    member_token = factory.member(org)[1]
    foreign_account = Account(
        id=new_id(), type="sms", name="Other", organization_id=other.id, created_at=NOW
    )
    session.add(foreign_account)
    session.commit()
    unknown = new_id()
    cases = [
        ({"organization": unknown}, f"Organization with id '{unknown}' does not exist"),
        ({"organization": other.id}, f"Organization with id '{other.id}' does not exist"),
        ({"teams": [unknown]}, f"Team with id '{unknown}' does not exist"),
        ({"teams": [foreign_team.id]}, f"Team with id '{foreign_team.id}' does not exist"),
        ({"users": [outsider.id]}, f"User with id '{outsider.id}' does not exist"),
        ({"users": [unknown]}, f"User with id '{unknown}' does not exist"),
        (
            {"shared_labels": [foreign_label.id]},
            f"Shared label with id '{foreign_label.id}' does not exist",
        ),
        (
            {"accounts": [foreign_account.id]},
            f"Account with id '{foreign_account.id}' does not exist",
        ),
        ({"accounts": [unknown]}, f"Account with id '{unknown}' does not exist"),
    ]
    for fields, message in cases:
        payload = {"reports": {**body(org.id)["reports"], **fields}}
        response = client.post(URL, json=payload, headers=bearer(token))
        assert (response.status_code, response.json()) == (404, error(message)), fields
    # A ``delegates`` label is visible to admins, unknown to other members.
    payload = body(org.id, shared_labels=[hidden_label.id])
    assert client.post(URL, json=payload, headers=bearer(token)).status_code == 201
    response = client.post(URL, json=payload, headers=bearer(member_token))
    assert response.json() == error(f"Shared label with id '{hidden_label.id}' does not exist")


def test_report_lifecycle_404_empty_until_complete_then_expires_after_60_seconds(
    client: TestClient, app: Any, factory: Factory, clock: FrozenClock, org: Any, token: str
) -> None:
    factory.conversation(org, at=START + 10, messages=[email(START + 10)])
    report_id = create(client, token, body(org.id, time_zone="America/Montreal"))
    url = f"{URL}/{report_id}"

    pending = client.get(url, headers=bearer(token))
    assert (pending.status_code, pending.content) == (404, b"")

    clock.advance(3)
    assert app.state.worker.run_once() == 1
    clock.advance(2)
    fresh = client.get(url, headers=bearer(token))
    assert fresh.status_code == 200
    report = fresh.json()["reports"]
    assert report["id"] == report_id
    assert report["created_at"] == NOW
    assert report["completed_at"] == NOW + 3
    assert report["totals"]["messages_received"] == 1
    ReportEnvelope.model_validate(fresh.json())

    clock.set(NOW + 3 + 60)
    assert client.get(url, headers=bearer(token)).status_code == 200
    clock.advance(1)
    expired = client.get(url, headers=bearer(token))
    assert (expired.status_code, expired.content) == (404, b"")


def test_unknown_and_foreign_reports_are_404_with_an_empty_body(
    client: TestClient, app: Any, factory: Factory, org: Any, token: str
) -> None:
    report_id = create(client, token, body(org.id))
    app.state.worker.run_once()
    other = factory.organization("Other")
    outsider_token = factory.member(other)[1]
    colleague_token = factory.member(org)[1]

    for url, who in [
        (f"{URL}/{new_id()}", token),
        (f"{URL}/not-a-uuid", token),
        (f"{URL}/{report_id}", outsider_token),
    ]:
        response = client.get(url, headers=bearer(who))
        assert (response.status_code, response.content) == (404, b""), url
    # Members of the report's organization may fetch it (the id is unguessable anyway).
    assert client.get(f"{URL}/{report_id}", headers=bearer(colleague_token)).status_code == 200


def test_the_report_echoes_the_request(
    client: TestClient, app: Any, factory: Factory, session: Session, org: Any, token: str
) -> None:
    user = factory.member(org)[0]
    team, label = factory.team(org, active=[user]), factory.shared_label(org)
    account = Account(id=new_id(), type="sms", name="SMS", organization_id=org.id, created_at=NOW)
    session.add(account)
    session.commit()
    filters = {
        "teams": [team.id],
        "users": [user.id, user.id],
        "shared_labels": [label.id],
        "accounts": [account.id],
        "account_types": ["sms", "email"],
    }
    report_id = create(client, token, body(org.id, time_zone="Europe/Paris", **filters))
    app.state.worker.run_once()

    report = client.get(f"{URL}/{report_id}", headers=bearer(token)).json()["reports"]

    assert {k: report[k] for k in ("id", "organization", "start", "end", "time_zone")} == {
        "id": report_id,
        "organization": org.id,
        "start": START,
        "end": END,
        "time_zone": "Europe/Paris",
    }
    assert report["filters"] == {**filters, "users": [user.id]}
    assert [u["id"] for u in report["by_user"]] == [user.id]
    assert [t["id"] for t in report["by_team"]] == [team.id]
    # 22:13 UTC is 23:13 in Paris: the seven days touch eight local dates.
    dates = [d["date"] for d in report["by_day"]]
    assert (dates[0], dates[-1], len(dates)) == ("2023-11-07", "2023-11-14", 8)


def test_time_zone_defaults_to_utc_and_a_list_of_one_is_accepted(
    client: TestClient, app: Any, org: Any, token: str
) -> None:
    report_id = create(client, token, {"reports": [body(org.id)["reports"]]})
    app.state.worker.run_once()

    report = client.get(f"{URL}/{report_id}", headers=bearer(token)).json()["reports"]

    assert report["time_zone"] == "UTC"
    assert report["by_day"][0]["start"] == START - START % 86_400


def test_expired_reports_are_purged_on_the_next_create(
    client: TestClient, app: Any, session: Session, clock: FrozenClock, org: Any, token: str
) -> None:
    old = create(client, token, body(org.id))
    app.state.worker.run_once()
    clock.advance(61)

    new = create(client, token, body(org.id))

    assert session.scalars(select(AnalyticsReport.id)).all() == [new]
    assert old != new


def test_a_report_over_generated_data_through_the_api(
    client: TestClient, app: Any, factory: Factory, session: Session, org: Any, token: str
) -> None:
    users = [factory.member(org)[0] for _ in range(3)]
    teams = [factory.team(org, "Support"), factory.team(org, "Sales")]
    labels = [factory.shared_label(org, "Billing")]
    data = build_dataset(
        session, org=org, users=users, teams=teams, labels=labels, start=START, end=END, seed=7
    )
    report_id = create(client, token, body(org.id, time_zone="Asia/Tokyo"))
    app.state.worker.run_once()

    report = client.get(f"{URL}/{report_id}", headers=bearer(token)).json()["reports"]

    expected = Expected(data, START, END, "Asia/Tokyo")
    assert report["totals"] == expected.totals()
    assert report["first_response_time"] == expected.first_response_time()
    assert report["resolution_time"] == expected.resolution_time()
    assert [t["resolution_time"] for t in report["by_team"]] == [
        expected.by_team(t["id"])["resolution_time"] for t in report["by_team"]
    ]
    assert report["totals"]["messages_sent"] > 100
    assert report["totals"]["conversations_resolved"] > 30
    ReportEnvelope.model_validate({"reports": report})


def test_a_report_deleted_before_the_worker_runs_fails_its_row_for_good(
    client: TestClient, app: Any, session: Session, org: Any, token: str
) -> None:
    report_id = create(client, token, body(org.id))
    session.delete(session.get(AnalyticsReport, report_id))
    session.commit()

    assert app.state.worker.run_once() == 1

    session.expire_all()
    item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "analytics_report")).one()
    assert (item.status, item.last_error) == ("failed", "the analytics report no longer exists")


def test_the_worker_stores_the_figures_with_the_row_outcome(
    client: TestClient, app: Any, session: Session, clock: FrozenClock, org: Any, token: str
) -> None:
    report_id = create(client, token, body(org.id))
    clock.advance(4)
    app.state.worker.run_once()

    session.expire_all()
    report = session.get(AnalyticsReport, report_id)
    item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "analytics_report")).one()
    assert report is not None
    assert (report.status, report.completed_at) == ("complete", NOW + 4)
    assert report.result is not None
    assert set(report.result) == {
        "totals",
        "first_response_time",
        "resolution_time",
        "by_user",
        "by_team",
        "by_shared_label",
        "by_account_type",
        "by_day",
    }
    assert (item.status, item.sent_at) == ("sent", NOW + 4)
