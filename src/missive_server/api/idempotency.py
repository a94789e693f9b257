"""``Idempotency-Key`` on the API's writes (issue 14): the HTTP side of
``services.idempotency``, hooked into the request's unit of work (``api.routing``).

A write (POST, PATCH, DELETE) that carries the header is authenticated here, before its route
runs, because a key belongs to the token's user; the principal is handed on to the route's
``Context`` through ``request.state``. Then, in order:

- ``IdempotentRequest.open`` reserves the key (its own short transaction), or answers at once:
  the stored answer with ``Idempotent-Replayed: true``, 409 while the first request runs, 422
  when the key was used for another request, 400 for a malformed key;
- ``finish`` stores the route's final response (status, headers, body bytes: FastAPI has
  rendered it by then) in the request's own transaction, just before its commit;
- a client error (4xx) the route raised is rendered and stored too, after the write rolled
  back (``answer_error``); a server error or a failed commit gives the key up (``abandon``).

Requests without the header, and anonymous ones (the route answers 401), are untouched.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from missive_server.api.deps import authenticate_request
from missive_server.api.errors import render_client_error
from missive_server.errors import BadRequest, Conflict, UnprocessableEntity
from missive_server.schemas.base import ErrorEnvelope
from missive_server.services import idempotency
from missive_server.services.idempotency import Answer, Fingerprint, KeyScope
from missive_server.settings import Settings

log = logging.getLogger("missive_server")

WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: Response headers not stored: recomputed for the replay, or only true of the first answer.
_NOT_STORED = frozenset({b"content-length", b"date", b"server"})

OPENAPI_PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Extension (Missive ignores it): 1-255 printable ASCII characters. A retry with the "
        "same key, method, path and body gets the first answer again, with "
        f"`{REPLAYED_HEADER}: true`, and changes nothing; answers are kept 24 hours."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
OPENAPI_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorEnvelope,
        "description": "A request with this Idempotency-Key is still in progress (retry later)",
    },
    422: {
        "model": ErrorEnvelope,
        "description": "This Idempotency-Key was used for a different request",
    },
}


def openapi_extra(extra: dict[str, Any] | None) -> dict[str, Any]:
    """A write operation's ``openapi_extra`` with the header parameter added (FastAPI appends
    listed parameters to the ones it derives)."""
    extra = dict(extra or {})
    extra["parameters"] = [*extra.get("parameters", []), OPENAPI_PARAMETER]
    return extra


class IdempotentRequest:
    """One keyed write in progress: it holds the key's reservation until ``finish``."""

    def __init__(self, session: Session, scope: KeyScope, owner: str) -> None:
        self.session = session
        self.scope = scope
        self.owner = owner

    @classmethod
    async def open(cls, request: Request, session: Session) -> IdempotentRequest | Response | None:
        """The reservation; or the answer to give without running the route (a replay);
        ``None`` when the request has no key (or no valid token: the route answers 401).
        Raises 400, 409 and 422 as ``ApiError``s."""
        if request.method not in WRITE_METHODS:
            return None
        scope = _key_scope(request, session)
        if scope is None:
            return None
        settings: Settings = request.app.state.settings
        outcome = idempotency.reserve(
            session,
            scope,
            Fingerprint.of(request.method, _path(request), await request.body()),
            now=request.app.state.clock.now(),
            ttl=settings.idempotency_ttl_seconds,
            lease=settings.idempotency_lease_seconds,
        )
        session.commit()
        if isinstance(outcome, idempotency.Reserved):
            return cls(session, scope, outcome.owner)
        if isinstance(outcome, idempotency.Replay):
            return replay(outcome.answer)
        if isinstance(outcome, idempotency.InFlight):
            raise Conflict(
                "A request with this Idempotency-Key is still in progress; retry later",
                headers={"Retry-After": str(outcome.retry_after)},
            )
        raise UnprocessableEntity(
            f"This Idempotency-Key {outcome.what}; use a new key for a different request"
        )

    def answer_error(self, error: Exception) -> Response | None:
        """The stored-to-be answer to a client error the route raised (its partial write
        rolled back first), or ``None`` for anything else (the caller re-raises)."""
        response = render_client_error(error)
        if response is not None:
            self.session.rollback()
        return response

    def finish(self, response: Response) -> None:
        """Store ``response`` in the request's transaction (the caller commits). A 5xx, or a
        streamed body, is not stored: the key is given up in the same transaction instead."""
        body = getattr(response, "body", None)
        if response.status_code >= 500 or not isinstance(body, bytes):
            idempotency.release(self.session, self.scope, self.owner)
            return
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in response.raw_headers
            if name not in _NOT_STORED
        ]
        answer = Answer(response.status_code, headers, body)
        if not idempotency.complete(self.session, self.scope, self.owner, answer):
            raise Conflict(
                "This request outlived its hold on the Idempotency-Key and another request "
                "took it over; nothing was changed: retry to get that request's answer",
                headers={"Retry-After": "1"},
            )

    def abandon(self) -> None:
        """After a failure and rollback: give the key up so a retry runs the write again. If
        the database is unreachable the lease frees it later."""
        try:
            idempotency.release(self.session, self.scope, self.owner)
            self.session.commit()
        except Exception:
            self.session.rollback()
            log.warning("could not release an Idempotency-Key (its lease frees it)", exc_info=True)


def replay(answer: Answer) -> Response:
    response = Response(content=answer.body, status_code=answer.status)
    response.raw_headers.extend(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    )
    response.raw_headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    return response


def _key_scope(request: Request, session: Session) -> KeyScope | None:
    keys = request.headers.getlist(HEADER)
    if not keys:
        return None
    if len(keys) > 1:
        raise BadRequest("Idempotency-Key must be given once")
    problem = idempotency.key_problem(keys[0])
    if problem is not None:
        raise BadRequest(problem)
    principal = authenticate_request(request, session)  # the route's Context reuses it
    if principal is None:
        return None
    return KeyScope(principal.user_id, keys[0])


def _path(request: Request) -> str:
    query: bytes = request.scope.get("query_string", b"")
    path: str = request.scope["path"]
    return f"{path}?{query.decode('latin-1')}" if query else path
