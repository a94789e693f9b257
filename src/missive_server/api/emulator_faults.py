"""Fault injection for the emulator (``/_emulator/faults``): the next N requests matching a
method and a path pattern answer 429 (with Missive's rate-limit headers), 500, or are delayed
and then served. ``FaultMiddleware`` is installed only in emulator mode and never touches
``/_emulator/*`` itself, so a test can always disarm what it armed.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Body, Request
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from missive_server.api.errors import error_response
from missive_server.api.rate_limit import WINDOWS, Refusal
from missive_server.clock import Clock
from missive_server.errors import BadRequest
from missive_server.ids import new_id
from missive_server.schemas.base import RequestModel, WireModel

router = APIRouter(prefix="/faults", tags=["Emulator"])

EMULATOR_PREFIX = "/_emulator"
#: Seconds a faked 429 asks the client to wait (the minute window's length).
RETRY_AFTER = 60


class FaultIn(RequestModel):
    method: str = Field("*", description="HTTP method, or * for any", max_length=10)
    path: str = Field(
        ...,
        description="Exact path, or a glob (`/v1/conversations/*`); the query string is ignored",
        min_length=1,
        max_length=500,
    )
    count: int = Field(1, ge=1, le=10_000, description="How many matching requests it hits")
    status: Literal[429, 500] | None = Field(None, description="Answer this instead")
    latency_ms: int | None = Field(
        None, ge=1, le=60_000, description="Delay, then serve normally (or then fail, with status)"
    )


class FaultOut(WireModel):
    id: str
    method: str
    path: str
    remaining: int
    status: int | None
    latency_ms: int | None


class FaultsEnvelope(WireModel):
    faults: list[FaultOut]


@dataclass(slots=True)
class Fault:
    id: str
    method: str
    path: str
    remaining: int
    status: int | None
    latency_ms: int | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method in {"*", method}) and (
            self.path == path or fnmatch.fnmatchcase(path, self.path)
        )

    def out(self) -> FaultOut:
        return FaultOut(
            id=self.id,
            method=self.method,
            path=self.path,
            remaining=self.remaining,
            status=self.status,
            latency_ms=self.latency_ms,
        )


class FaultBook:
    """Armed faults, oldest first; the first that matches a request takes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def arm(self, spec: FaultIn) -> Fault:
        fault = Fault(
            id=new_id(),
            method=spec.method.upper(),
            path=spec.path,
            remaining=spec.count,
            status=spec.status,
            latency_ms=spec.latency_ms,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> int:
        with self._lock:
            count, self._faults = len(self._faults), []
        return count


class FaultMiddleware:
    def __init__(self, app: ASGIApp, *, book: FaultBook, clock: Clock) -> None:
        self.app = app
        self.book = book
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path == EMULATOR_PREFIX or path.startswith(EMULATOR_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        fault = self.book.take(scope["method"], path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency_ms is not None:
            await anyio.sleep(fault.latency_ms / 1000)
        if fault.status == 429:
            refusal = Refusal(
                limit=WINDOWS[0].amount,
                reset_at=self.clock.now() + RETRY_AFTER,
                retry_after=RETRY_AFTER,
            )
            response = error_response(429, "Rate limit exceeded", refusal.headers())
        elif fault.status == 500:
            response = error_response(500, "Internal server error")
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _book(request: Request) -> FaultBook:
    book: FaultBook = request.app.state.faults
    return book


def _render(faults: list[Fault]) -> FaultsEnvelope:
    return FaultsEnvelope(faults=[f.out() for f in faults])


@router.post("", response_model=FaultsEnvelope, summary="Arm a fault (emulator only)")
async def arm_fault(request: Request, body: Annotated[FaultIn, Body()]) -> FaultsEnvelope:
    if body.status is None and body.latency_ms is None:
        raise BadRequest("status: give status (429 or 500) or latency_ms")
    return _render([_book(request).arm(body)])


@router.get("", response_model=FaultsEnvelope, summary="Armed faults and their remaining counts")
async def list_faults(request: Request) -> FaultsEnvelope:
    return _render(_book(request).list())


@router.delete("", response_model=FaultsEnvelope, summary="Disarm every fault (emulator only)")
async def clear_faults(request: Request) -> FaultsEnvelope:
    _book(request).clear()
    return _render([])
