"""Regressions for what the schemathesis fuzzer (tests/fuzz) found, as ordinary tests."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.settings import Settings
from tests.conftest import bearer
from tests.factories import Factory

TOO_BIG = 2**63  # one past BIGINT / SQLite INTEGER: the driver used to overflow (a 500)


def test_an_offset_past_64_bits_is_a_400_not_a_500(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())

    response = client.get(f"/v1/organizations?offset={TOO_BIG}", headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == {"error": {"message": "'offset' is out of range"}}
    largest = client.get(f"/v1/organizations?offset={TOO_BIG - 1}", headers=bearer(token))
    assert largest.status_code == 200
    assert largest.json() == {"organizations": []}


@pytest.mark.parametrize("until", [TOO_BIG, -TOO_BIG])
def test_an_until_past_64_bits_is_a_400_not_a_500(
    client: TestClient, factory: Factory, until: int
) -> None:
    _, token = factory.member(factory.organization())

    response = client.get(f"/v1/conversations?inbox=true&until={until}", headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == {"error": {"message": "'until' is out of range"}}


def test_the_report_404_is_documented_without_a_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    missing = spec["paths"]["/v1/analytics/reports/{report_id}"]["get"]["responses"]["404"]

    assert "content" not in missing
    assert "empty body" in missing["description"]


def test_files_and_emulator_routes_document_their_errors(
    settings: Settings, clock: FrozenClock, engine: Engine
) -> None:
    app: FastAPI = create_app(
        settings.model_copy(update={"emulator": True}), clock=clock, engine=engine
    )
    spec = app.openapi()
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}

    files = spec["paths"]["/_files/{attachment_id}/{token}/{filename}"]["get"]["responses"]
    assert files["404"]["content"]["application/json"]["schema"] == envelope
    assert "401" not in files  # the URL carries its own token
    emulator_paths = [p for p in spec["paths"] if p.startswith("/_emulator/")]
    assert emulator_paths
    for path in emulator_paths:
        for operation in spec["paths"][path].values():
            for status in ("400", "404"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == envelope, (path, status)
            assert "401" not in operation["responses"]  # the emulator reads no token


@pytest.mark.parametrize(
    "url",
    [
        "/v1/messages?email_message_id=a%00b",
        "/v1/tasks?team=%00",
        "/v1/conversations/a%00b",
        "/v1/organizations?limit=2&x=%00",
    ],
)
def test_a_nul_in_the_url_is_a_400_on_every_backend(
    client: TestClient, factory: Factory, url: str
) -> None:
    _, token = factory.member(factory.organization())

    response = client.get(url, headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == {"error": {"message": "The URL must not contain NUL characters"}}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/v1/posts",
            {"posts": {"notification": {"title": "t", "body": "b"}, "text": "a\x00b"}},
            "posts.text",
        ),
        (
            "/v1/contacts",
            {"contacts": [{"contact_book": "\x00", "first_name": "Ann"}]},
            "contacts[0].contact_book",
        ),
    ],
    ids=["post-text", "contact-book-id"],
)
def test_a_nul_in_a_body_string_is_a_400_on_every_backend(
    client: TestClient, factory: Factory, path: str, body: dict[str, object], field: str
) -> None:
    """Found by the fuzz run: PostgreSQL text cannot hold NUL, so such a post was a 500 there
    (a driver error) while SQLite stored it. Now a 400 on both."""
    _, token = factory.member(factory.organization(), "admin")

    response = client.post(path, json=body, headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == {"error": {"message": f"'{field}' must not contain NUL characters"}}


def test_an_escaped_backslash_before_u0000_is_not_a_nul(
    client: TestClient, factory: Factory
) -> None:
    _, token = factory.member(factory.organization(), "admin")
    text = "C:\\u0000 is a path, not a NUL"
    body = {"posts": {"notification": {"title": "t", "body": "b"}, "text": text}}

    response = client.post("/v1/posts", json=body, headers=bearer(token))

    assert response.status_code == 201, response.text


def test_a_time_zone_name_too_long_for_a_path_is_a_400(
    client: TestClient, factory: Factory
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "admin")
    hours = {"tz": "Zalgo" + "\u0301" * 300, "t": []}  # one path component over 255 bytes

    response = client.post(
        "/v1/teams",
        json={"teams": {"name": "Night", "organization": acme.id, "business_hours": hours}},
        headers=bearer(token),
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "'teams[0].business_hours.tz' must be an IANA time zone name such as "
            "'America/Montreal'"
        }
    }
