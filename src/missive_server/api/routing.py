"""The request's unit of work: one session per request, committed before the response is sent.

A custom route class rather than a ``yield`` dependency, so the commit provably happens before
the response is sent (a failing commit becomes an error response, never a lost write) and
any exception rolls everything back. Every API route passes through here, so it is also where
hostile input is refused for all of them (``input_guard``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from missive_server.api.input_guard import check_json_body, check_query, int_query_names
from missive_server.errors import BadRequest

log = logging.getLogger("missive_server")


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        int_names = int_query_names(self)

        async def unit_of_work(request: Request) -> Response:
            check_query(request, int_names)
            await check_json_body(request)
            factory: sessionmaker[Session] = request.app.state.session_factory
            session = factory()
            request.state.db = session
            try:
                response = await handler(request)
                if session.in_transaction():
                    session.commit()
                return response
            except (OverflowError, DataError) as exc:
                # A value the checks above let through but the database cannot hold (a
                # number given as a string, say): the client's input, so 400, never 500.
                session.rollback()
                log.warning("value refused by the database on %s: %s", request.url.path, exc)
                raise BadRequest("A value in the request is out of range") from None
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

        return unit_of_work
