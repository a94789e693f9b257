"""Cross-cutting request handling (spec 1.3, 1.5): routing errors, content type, JSON and
validation errors, body size limits, unexpected exceptions and the request's transaction.

The routes under ``/v1/_test`` exist only in these tests; they use the real unit-of-work
route class and request-model base, so what is proven here holds for every endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.testclient import TestClient
from starlette.types import Message, Scope

from missive_server.api.params import Limit
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.app import create_app
from missive_server.db.models import Organization
from missive_server.errors import BadRequest
from missive_server.ids import new_id
from missive_server.schemas.base import RequestModel
from missive_server.settings import Settings
from tests.factories import Factory

MAX_BODY = 128
TOO_LARGE = {"error": {"message": "Request body is larger than the 128 bytes limit"}}
WRONG_TYPE = {"error": {"message": "Content-Type must be application/json"}}


class TeamIn(RequestModel):
    name: str


class TeamsIn(RequestModel):
    teams: list[TeamIn]
    limit: int | None = None


class WriteIn(RequestModel):
    then: Literal["commit", "bad_request", "crash"]
    name: str = "Written"
    id: str | None = None


router = APIRouter(prefix="/v1/_test", route_class=UnitOfWorkRoute)


@router.post("/teams")
async def create_teams(body: TeamsIn) -> Response:
    return envelope("teams", [team.model_dump() for team in body.teams], 201)


@router.get("/teams")
async def list_teams(limit: Limit = None) -> Response:
    return envelope("teams", [], 200)


@router.get("/crash")
async def crash() -> Response:
    raise RuntimeError("something broke")


@router.post("/organizations")
async def write_organization(request: Request, body: WriteIn) -> Response:
    session: Session = request.state.db
    session.add(Organization(id=body.id or new_id(), name=body.name, created_at=0))
    if body.then == "bad_request":
        session.flush()
        raise BadRequest("Refused after writing")
    if body.then == "crash":
        session.flush()
        raise RuntimeError("crashed after writing")
    return envelope("organizations", {"name": body.name}, 201)


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def teams_body(size: int) -> bytes:
    """A valid body of exactly ``size`` bytes."""
    frame = b'{"teams":[{"name":""}]}'
    body = frame[:-4] + b"a" * (size - len(frame)) + frame[-4:]
    assert len(body) == size
    return body


@pytest.fixture
def guarded_app(tmp_path: Path) -> FastAPI:
    """The app without a database: nothing these routes do touches one."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        rate_limit="off",
        max_body_bytes=MAX_BODY,
    )
    app = create_app(settings)
    app.include_router(router)
    return app


@pytest.fixture
def http(guarded_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(guarded_app, raise_server_exceptions=False) as client:
        yield client


# --- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/no_such_resource", "/v1/_test/teams/extra", "/nowhere"])
def test_unknown_route_is_404_in_missives_shape(http: TestClient, path: str) -> None:
    response = http.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == error("Not found")


def test_wrong_method_is_405_in_missives_shape(http: TestClient) -> None:
    response = http.delete("/v1/_test/crash")

    assert response.status_code == 405
    assert response.json() == error("Method not allowed")
    assert response.headers["allow"] == "GET"


# --- content type ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_non_json_content_type_is_400_before_routing(http: TestClient, method: str) -> None:
    response = http.request(
        method, "/v1/_test/teams", content=b'{"teams": []}', headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 400
    assert response.json() == WRONG_TYPE


def test_body_without_content_type_is_400(http: TestClient) -> None:
    response = http.post("/v1/_test/teams", content=b'{"teams": []}')

    assert response.status_code == 400
    assert response.json() == WRONG_TYPE


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_content_types_are_accepted(http: TestClient, content_type: str) -> None:
    response = http.post(
        "/v1/_test/teams",
        content=b'{"teams": [{"name": "Support"}]}',
        headers={"Content-Type": content_type},
    )

    assert response.status_code == 201
    assert response.json() == {"teams": [{"name": "Support"}]}


def test_content_type_is_only_enforced_on_the_api(http: TestClient) -> None:
    response = http.post("/nowhere", content=b"hello", headers={"Content-Type": "text/plain"})

    assert response.status_code == 404
    assert response.json() == error("Not found")


# --- JSON and validation -----------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b'{"teams": [}', b"not json", b"\xff\xfe"])
def test_malformed_json_is_400(http: TestClient, raw: bytes) -> None:
    response = http.post(
        "/v1/_test/teams", content=raw, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json() == error("Request body is not valid JSON")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"teams": [{}]}, "'teams[0].name' is required"),
        ({"teams": [{"name": "A"}, {"title": "B"}]}, "'teams[1].name' is required"),
        ({"teams": [{"name": 5}]}, "'teams[0].name' must be a string"),
        ({"teams": [], "limit": "many"}, "'limit' must be an integer"),
        ({"teams": [], "limit": 1.5}, "'limit' must be an integer"),
        ({"teams": {"name": "A"}}, "'teams' must be an array"),
        ({"teams": ["A"]}, "'teams[0]' must be an object"),
        ({}, "'teams' is required"),
        ([], "Request body must be a JSON object"),
        ("teams", "Request body must be a JSON object"),
    ],
)
def test_validation_errors_name_the_field(http: TestClient, body: Any, message: str) -> None:
    response = http.post("/v1/_test/teams", json=body)

    assert response.status_code == 400
    assert response.json() == error(message)


def test_literal_error_lists_the_allowed_values(http: TestClient) -> None:
    response = http.post("/v1/_test/organizations", json={"then": "maybe"})

    assert response.status_code == 400
    assert response.json() == error("'then' must be 'commit', 'bad_request' or 'crash'")


def test_missing_body_is_400(http: TestClient) -> None:
    response = http.post("/v1/_test/teams", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json() == error("Request body is required")


def test_invalid_query_parameter_names_the_field(http: TestClient) -> None:
    response = http.get("/v1/_test/teams?limit=many")

    assert response.status_code == 400
    assert response.json() == error("'limit' must be an integer")


def test_unknown_attributes_are_ignored(http: TestClient) -> None:
    response = http.post("/v1/_test/teams", json={"teams": [{"name": "A", "color": "red"}], "x": 1})

    assert response.status_code == 201
    assert response.json() == {"teams": [{"name": "A"}]}


# --- body size ---------------------------------------------------------------------------


def test_body_at_the_limit_is_accepted(http: TestClient) -> None:
    response = http.post(
        "/v1/_test/teams",
        content=teams_body(MAX_BODY),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 201


def test_body_over_the_limit_by_content_length_is_413(http: TestClient) -> None:
    body = teams_body(MAX_BODY + 1)

    response = http.post(
        "/v1/_test/teams", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.request.headers["content-length"] == str(MAX_BODY + 1)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


def test_declared_oversize_is_refused_without_reading_the_body(guarded_app: FastAPI) -> None:
    """A lying or huge Content-Length is answered before a byte of the body is read."""
    reads = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/_test/teams",
        "raw_path": b"/v1/_test/teams",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"10000000000")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(guarded_app(scope, receive, send))

    assert reads == 0
    assert sent[0]["status"] == 413
    assert (
        b"".join(m.get("body", b"") for m in sent[1:])
        == b'{"error":{"message":"Request body is larger than the 128 bytes limit"}}'
    )


def test_streamed_body_over_the_limit_is_413(http: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"teams": [{"name": "'
        for _ in range(10):
            yield b"a" * 20
        yield b'"}]}'

    response = http.post(
        "/v1/_test/teams", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


@pytest.mark.parametrize(("repeat", "status"), [(4, 201), (10, 413)])
def test_streamed_body_through_an_async_client(
    guarded_app: FastAPI, repeat: int, status: int
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"teams": [{"name": "'
        for _ in range(repeat):
            yield b"a" * 20
        yield b'"}]}'

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=guarded_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(
                "/v1/_test/teams", content=chunks(), headers={"Content-Type": "application/json"}
            )

    response = asyncio.run(post())

    assert "content-length" not in response.request.headers
    assert response.status_code == status
    if status == 413:
        assert response.json() == TOO_LARGE
    else:
        assert response.json() == {"teams": [{"name": "a" * 20 * repeat}]}


def test_default_limit_is_ten_megabytes(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", rate_limit="off"))
    app.include_router(router)
    body = teams_body(10 * 1024 * 1024 + 1)

    with TestClient(app) as client:
        response = client.post(
            "/v1/_test/teams", content=body, headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 413
    assert response.json() == error("Request body is larger than the 10 MB limit")


# --- unexpected errors -------------------------------------------------------------------


def test_unexpected_exception_is_500_in_missives_shape(
    http: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="missive_server"):
        response = http.get("/v1/_test/crash")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == error("Internal server error")
    assert "something broke" not in response.text
    assert any(r.exc_info and "something broke" in str(r.exc_info[1]) for r in caplog.records)


# --- the request's transaction (needs a database: runs on every backend) ----------------


@pytest.fixture
def db_client(app: FastAPI) -> Iterator[TestClient]:
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def name() -> str:
    """Rows are found by a name of their own, whatever else shares the test database."""
    return f"Written {new_id()}"


def stored(session: Session, *where: ColumnElement[bool]) -> list[tuple[str, str]]:
    session.rollback()  # a fresh snapshot: the app wrote through its own connection
    return [
        (row.id, row.name) for row in session.execute(select(Organization).where(*where)).scalars()
    ]


def test_successful_route_commits(db_client: TestClient, session: Session, name: str) -> None:
    response = db_client.post("/v1/_test/organizations", json={"then": "commit", "name": name})

    assert response.status_code == 201
    assert [n for _, n in stored(session, Organization.name == name)] == [name]


@pytest.mark.parametrize(
    ("then", "status", "message"),
    [("bad_request", 400, "Refused after writing"), ("crash", 500, "Internal server error")],
)
def test_route_that_fails_after_writing_leaves_nothing_written(
    db_client: TestClient, session: Session, name: str, then: str, status: int, message: str
) -> None:
    response = db_client.post("/v1/_test/organizations", json={"then": then, "name": name})

    assert response.status_code == status
    assert response.json() == error(message)
    assert stored(session, Organization.name == name) == []


def test_failing_commit_is_an_error_response_not_a_lost_write(
    db_client: TestClient, session: Session, factory: Factory, name: str
) -> None:
    existing = factory.organization("Existing")

    # Same primary key: nothing fails until the unit of work commits, after the route returned.
    response = db_client.post(
        "/v1/_test/organizations", json={"then": "commit", "id": existing.id, "name": name}
    )

    assert response.status_code == 500
    assert response.json() == error("Internal server error")
    assert stored(session, Organization.id == existing.id) == [(existing.id, "Existing")]
    assert stored(session, Organization.name == name) == []
