"""The request's unit of work: one session per request, committed before the response leaves,
run on a database thread (``db.threads``) so the server's event loop never waits on it.

A custom route class rather than a ``yield`` dependency, so the commit provably happens before
the response is sent (a failing commit becomes an error response, never a lost write) and
any exception rolls everything back.

Every API route passes through here, so it is also where hostile input is refused for all of
them (``input_guard``). Writes accept ``Idempotency-Key`` (``api.idempotency``): the hook opens
the key before the route runs and stores the rendered response in the same transaction as the
write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from missive_server.api.idempotency import (
    OPENAPI_RESPONSES,
    WRITE_METHODS,
    IdempotentRequest,
    openapi_extra,
)
from missive_server.api.input_guard import check_json_body, check_query, int_query_names
from missive_server.db.threads import DatabaseThreads
from missive_server.errors import BadRequest

log = logging.getLogger("missive_server")


class UnitOfWorkRoute(APIRoute):
    #: Whether this route's writes take ``Idempotency-Key`` (the /v1 API does).
    idempotency_keys: ClassVar[bool] = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if self.idempotency_keys and WRITE_METHODS & set(kwargs.get("methods") or ()):
            kwargs["openapi_extra"] = openapi_extra(kwargs.get("openapi_extra"))
            kwargs["responses"] = {**OPENAPI_RESPONSES, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        keyed = self.idempotency_keys
        int_names = int_query_names(self)

        async def unit_of_work(request: Request) -> Response:
            check_query(request, int_names)
            # The body is read here, on the server's loop, which owns the connection; the
            # database thread finds it read (FastAPI, forms and the key all reuse it).
            await request.body()
            await check_json_body(request)
            threads: DatabaseThreads = request.app.state.database_threads
            return await threads.run(lambda: in_transaction(request))

        async def in_transaction(request: Request) -> Response:
            factory: sessionmaker[Session] = request.app.state.session_factory
            session = factory()
            request.state.db = session
            key: IdempotentRequest | None = None
            try:
                opened = await IdempotentRequest.open(request, session) if keyed else None
                if isinstance(opened, Response):
                    return opened  # a replay: nothing runs
                key = opened
                try:
                    response = await handler(request)
                except Exception as error:
                    answer = key.answer_error(error) if key is not None else None
                    if answer is None:
                        raise
                    response = answer
                if key is not None:
                    key.finish(response)
                if session.in_transaction():
                    session.commit()
                return response
            except (OverflowError, DataError) as exc:
                # A value the checks above let through but the database cannot hold (a
                # number given as a string, say): the client's input, so 400, never 500.
                session.rollback()
                if key is not None:
                    key.abandon()
                log.warning("value refused by the database on %s: %s", request.url.path, exc)
                raise BadRequest("A value in the request is out of range") from None
            except BaseException:
                session.rollback()
                if key is not None:
                    key.abandon()
                raise
            finally:
                session.close()

        return unit_of_work


class ControlPlaneRoute(UnitOfWorkRoute):
    """The emulator's ``/_emulator/*`` routes: not Missive's API, no ``Idempotency-Key``."""

    idempotency_keys = False
