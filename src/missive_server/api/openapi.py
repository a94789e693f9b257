"""The OpenAPI document, finished in one place so routes never repeat it.

FastAPI's generated document is post-processed once (then cached by FastAPI):

- a global HTTP bearer scheme, so generated clients send ``Authorization`` and /docs shows an
  Authorize button; ``/_emulator/*`` (no token, loopback tool) and ``/_files/*`` (the token is
  in the URL) opt out with an empty ``security``;
- FastAPI's default ``422`` (its validation-error schema) is removed from every operation:
  validation errors answer 400 in Missive's shape (``api/errors.py``), which every operation
  already declares; a ``422`` we declare ourselves (a reused ``Idempotency-Key``) stays;
- ``401`` is not declared where no token is read;
- request and response examples from ``openapi_examples.json``, recorded from the demo
  organization by ``tools/openapi_examples.py``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SECURITY_SCHEME = "bearerAuth"
NO_TOKEN_PREFIXES = ("/_emulator", "/_files")
#: FastAPI's validation-error schemas, unused once the 422 responses are gone.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
METHODS = ("get", "post", "put", "patch", "delete")


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the finished document (built on first use, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = finish_document(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish_document(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (Missive: Preferences > API; here `missive-server token`)",
    }
    document["security"] = [{SECURITY_SCHEME: []}]
    examples = operation_examples()
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            _finish_operation(path, operation)
            _add_examples(operation, examples.get(f"{method.upper()} {path}", {}))
    schemas = components.get("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _finish_operation(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    if _is_fastapi_validation_error(responses.get("422")):
        del responses["422"]
    if path.startswith(NO_TOKEN_PREFIXES):
        operation["security"] = []
        responses.pop("401", None)


def _is_fastapi_validation_error(response: dict[str, Any] | None) -> bool:
    if response is None:
        return False
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _add_examples(operation: dict[str, Any], recorded: dict[str, Any]) -> None:
    """``recorded``: ``{"request": body, "status": "201", "response": body}``."""
    if "request" in recorded:
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            content["application/json"]["example"] = recorded["request"]
    if "response" in recorded:
        response = operation["responses"].get(recorded["status"], {})
        content = response.get("content", {})
        if "application/json" in content:
            content["application/json"]["example"] = recorded["response"]


@cache
def operation_examples() -> dict[str, dict[str, Any]]:
    """``"METHOD /path"`` -> recorded example; read once per process."""
    text = resources.files("missive_server.api").joinpath("openapi_examples.json").read_text()
    examples: dict[str, dict[str, Any]] = json.loads(text)
    return examples
