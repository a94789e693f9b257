"""One error hierarchy; every error leaves as ``{"error": {"message": ...}}`` (spec 1.5)."""

from __future__ import annotations


class ApiError(Exception):
    status_code = 400
    #: Missive answers some 404s with an empty body (spec 2.1.2); subclasses opt in.
    empty_body = False

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401

    def __init__(self) -> None:
        # The exact text Missive returns for a missing, invalid or revoked token (spec 1.2).
        super().__init__("Authentication token is invalid or has been revoked")


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class MethodNotAllowed(ApiError):
    status_code = 405


class Conflict(ApiError):
    status_code = 409


class UnprocessableEntity(ApiError):
    status_code = 422


class PayloadTooLarge(ApiError):
    status_code = 413


class TooManyRequests(ApiError):
    status_code = 429


def not_found(resource: str, resource_id: str) -> NotFound:
    """The single wording for unknown ids, also used for ids of other organizations."""
    return NotFound(f"{resource} with id '{resource_id}' does not exist")


def error_body(message: str) -> dict[str, dict[str, str]]:
    return {"error": {"message": message}}
