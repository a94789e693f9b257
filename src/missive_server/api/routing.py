"""The request's unit of work: one session per request, committed before the response leaves.

A custom route class rather than a ``yield`` dependency, so the commit provably happens before
the response is sent (a failing commit becomes an error response, never a lost write) and
any exception rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def unit_of_work(request: Request) -> Response:
            factory: sessionmaker[Session] = request.app.state.session_factory
            session = factory()
            request.state.db = session
            try:
                response = await handler(request)
                if session.in_transaction():
                    session.commit()
                return response
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

        return unit_of_work
