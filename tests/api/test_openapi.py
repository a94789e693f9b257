"""The OpenAPI document describes every operation, and real responses match what it says.

Responses are validated against each route's ``response_model`` (``WireModel`` forbids unknown
keys), using the demo organization so every kind of object is present.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import V1_ROUTERS
from missive_server.clock import FrozenClock
from missive_server.services.seed import seed
from missive_server.services.seed.demo import DEMO_OWNER_TOKEN, demo_document
from tests.conftest import bearer


@pytest.fixture
def demo(session: Session, clock: FrozenClock) -> dict[str, str]:
    seed.seed(session, demo_document(clock.now()), now=clock.now())
    session.commit()
    return bearer(DEMO_OWNER_TOKEN)


def _route(method: str, path: str) -> APIRoute:
    for router in V1_ROUTERS:
        for route in router.routes:
            if (
                isinstance(route, APIRoute)
                and "/v1" + route.path == path
                and method in route.methods
            ):
                return route
    raise AssertionError(f"no route {method} {path}")


def test_every_v1_operation_documents_its_envelope_and_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]

    assert len([p for p, _, _ in operations if p.startswith("/v1/")]) >= 18
    for path, method, operation in operations:
        if not path.startswith("/v1/"):
            continue
        success = operation["responses"].get("200") or operation["responses"].get("201")
        assert success, f"{method} {path} documents no success response"
        schema = success["content"]["application/json"]["schema"]
        assert "$ref" in schema, f"{method} {path} has no response model"
        for status in ("400", "401", "404", "429"):
            if (path, status) == ("/v1/analytics/reports/{report_id}", "404"):
                continue  # Missive's empty 404 (tests/api/test_fuzz_findings.py)
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorEnvelope"}


def _get(client: TestClient, headers: dict[str, str], url: str) -> Any:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.text)
    return response.json()


def test_real_responses_match_the_documented_models(
    client: TestClient, demo: dict[str, str]
) -> None:
    conversations = _get(client, demo, "/v1/conversations?all=true&limit=50")["conversations"]
    assert conversations
    with_messages = next(c for c in conversations if c["messages_count"])
    with_posts = next(c for c in conversations if c["id"] != with_messages["id"])
    cid = with_messages["id"]
    message_id = _get(client, demo, f"/v1/conversations/{cid}/messages")["messages"][0]["id"]
    task_id = _get(client, demo, "/v1/tasks")["tasks"][0]["id"]
    calls = {
        "/v1/organizations": "/v1/organizations",
        "/v1/users": "/v1/users",
        "/v1/teams": "/v1/teams",
        "/v1/shared_labels": "/v1/shared_labels",
        "/v1/conversations": "/v1/conversations?all=true",
        "/v1/conversations/{conversation_id}": f"/v1/conversations/{cid}",
        "/v1/conversations/{conversation_id}/messages": f"/v1/conversations/{cid}/messages",
        "/v1/conversations/{conversation_id}/comments": f"/v1/conversations/{cid}/comments",
        "/v1/conversations/{conversation_id}/drafts": f"/v1/conversations/{cid}/drafts",
        "/v1/conversations/{conversation_id}/posts": f"/v1/conversations/{with_posts['id']}/posts",
        "/v1/messages/{message_ids}": f"/v1/messages/{message_id}",
        "/v1/tasks": "/v1/tasks",
        "/v1/tasks/{task_id}": f"/v1/tasks/{task_id}",
        "/v1/responses": "/v1/responses",
    }
    for path, url in calls.items():
        model = _route("GET", path).response_model
        assert model is not None, path
        model.model_validate(_get(client, demo, url))
