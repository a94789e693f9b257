"""The OpenAPI document drives tools: it validates (openapi-spec-validator), declares the bearer
scheme generated clients need, no status the API never returns (FastAPI's 422), and examples
that the current schemas accept on every JSON operation."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from missive_server.settings import Settings

#: Operations whose success response is not JSON (a file, a raw message): no JSON example.
NOT_JSON = {"GET /_files/{attachment_id}/{token}/{filename}", "GET /_emulator/outbox/{item_id}/raw"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"emulator": True})


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    return spec


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def _check(document: dict[str, Any], schema: dict[str, Any], example: Any, where: str) -> None:
    # The components ride along so "#/components/schemas/..." resolves inside one resource.
    validator = Draft202012Validator({**schema, "components": document["components"]})
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(example)
    ]
    assert not errors, f"{where}: {errors[:3]}"


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_bearer_everywhere_but_the_emulator_and_files(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (Missive: Preferences > API; here `missive-server token`)",
    }
    assert document["security"] == [{"bearerAuth": []}]
    for name, operation in _operations(document).items():
        no_token = name.split(" ")[1].startswith(("/_emulator", "/_files"))
        assert ("security" in operation) is no_token, name
        if no_token:
            assert operation["security"] == []
            assert "401" not in operation["responses"], name
        else:
            assert "401" in operation["responses"], name


def test_no_422_and_400_in_missives_shape(document: dict[str, Any]) -> None:
    """FastAPI's validation 422 is gone; the only 422 left is a reused ``Idempotency-Key``'s,
    on writes, in Missive's error shape."""
    for name, operation in _operations(document).items():
        method, path = name.split(" ", 1)
        if method in {"POST", "PATCH", "DELETE"} and path.startswith("/v1/"):
            reused_key = operation["responses"]["422"]
            assert reused_key["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"
            }, name
            assert "Idempotency-Key" in reused_key["description"], name
        else:
            assert "422" not in operation["responses"], name
        error = operation["responses"]["400"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorEnvelope"}, name
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_json_operation_has_examples_the_schemas_accept(document: dict[str, Any]) -> None:
    checked = 0
    for name, operation in _operations(document).items():
        if name in NOT_JSON:
            continue
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and not name.startswith("DELETE"):
            assert "example" in body, f"{name}: no request example"
            _check(document, body["schema"], body["example"], f"{name} request")
        success = next(s for s in ("200", "201") if s in operation["responses"])
        content = operation["responses"][success]["content"]["application/json"]
        assert "example" in content, f"{name}: no response example"
        _check(document, content["schema"], content["example"], f"{name} response")
        checked += 1
    assert checked >= 56
