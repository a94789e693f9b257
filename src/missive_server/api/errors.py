"""The one error renderer: every failure leaves as ``{"error": {"message": ...}}`` (spec 1.5)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from missive_server.errors import ApiError, error_body

log = logging.getLogger("missive_server")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(error_body(message)),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def install_error_handlers(
    app: FastAPI, *, page_not_found: Callable[[Request], Response | None] | None = None
) -> None:
    """``page_not_found`` (the web UI's) may answer a 404 with an HTML page instead: it returns
    ``None`` for anything but a browser asking for a page outside the API."""

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        page = page_not_found(request) if page_not_found and exc.status_code == 404 else None
        return page or _render_http_error(exc)

    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def render_client_error(exc: BaseException) -> Response | None:
    """The response the app's handlers give ``exc`` if it is a client error (4xx), else
    ``None``. The idempotency hook stores it with the key before the handlers ever see it."""
    response: Response | None = None
    if isinstance(exc, ApiError):
        response = _render_api_error(exc)
    elif isinstance(exc, RequestValidationError):
        response = error_response(400, validation_message(exc.errors()))
    elif isinstance(exc, StarletteHTTPException):
        response = _render_http_error(exc)
    return response if response is not None and response.status_code < 500 else None


def _render_api_error(exc: ApiError) -> Response:
    if exc.empty_body:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_response(exc.status_code, exc.message, exc.headers)


def _render_http_error(exc: StarletteHTTPException) -> Response:
    messages = {404: "Not found", 405: "Method not allowed"}
    message = messages.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, message, dict(exc.headers or {}))


async def _api_error(_request: Request, exc: ApiError) -> Response:
    return _render_api_error(exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal server error")


async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
    return error_response(400, validation_message(exc.errors()))


def validation_message(errors: Any) -> str:
    """Turn pydantic's error list into one sentence that names the offending field."""
    first = next(iter(errors), None)
    if first is None:
        return "Invalid request"
    kind = first.get("type", "")
    if kind == "json_invalid":
        return "Request body is not valid JSON"
    where, field = first.get("loc", ())[:1], _field_path(first.get("loc", ())[1:])
    if not field:
        if where != ("body",):
            return "Invalid request"
        return (
            "Request body is required"
            if kind == "missing"
            else "Request body must be a JSON object"
        )
    if kind == "missing":
        return f"'{field}' is required"
    if kind == "extra_forbidden":
        return f"'{field}' is not a known attribute"
    return f"'{field}' {_describe(first)}"


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


_EXPECTATIONS = {
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "literal_error":
        return f"must be {error.get('ctx', {}).get('expected', 'one of the allowed values')}"
    if kind in _EXPECTATIONS:
        return _EXPECTATIONS[kind]
    message = str(error.get("msg", "is invalid"))
    return message[0].lower() + message[1:] if message else "is invalid"
