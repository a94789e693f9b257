"""``/_emulator/reset``, ``/seed``, ``/inbound`` and ``/clock`` (emulator mode only, no token;
included by ``api/emulator.py``). Each write runs in the request's unit of work: a failed seed
or inbound message leaves nothing behind."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from pydantic import Field
from sqlalchemy.orm import Session

from missive_server.api.deps import DbSession
from missive_server.api.routing import ControlPlaneRoute
from missive_server.clock import EmulatorClock
from missive_server.errors import BadRequest
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.services.seed import demo, emulator, seed
from missive_server.services.seed.emulator import InboundFields

router = APIRouter(route_class=ControlPlaneRoute, tags=["Emulator"])

MAX_RAW = 25 * 1024 * 1024


class SeedOut(WireModel):
    ids: dict[str, dict[str, str]] = Field(
        description="Section (organizations, users, teams, ...) -> key -> id"
    )
    tokens: dict[str, str] = Field(description="User email -> API token created or ensured")
    notes: list[str]


class ResetIn(RequestModel):
    seed: Literal["demo"] | dict[str, Any] | None = Field(
        None, description='"demo", or a seed document to load after emptying'
    )


class ResetOut(WireModel):
    deleted: dict[str, int] = Field(description="Table -> rows deleted (tables that had rows)")
    seeded: SeedOut | None


class InboundIn(RequestModel):
    from_: str | None = Field(None, alias="from", max_length=998, examples=["Paul <p@x.com>"])
    to: list[str] = Field(default_factory=list, max_length=100)
    cc: list[str] = Field(default_factory=list, max_length=100)
    subject: str | None = Field(None, max_length=998)
    text: str | None = None
    html: str | None = None
    in_reply_to: str | None = Field(None, max_length=998, description="A Message-ID to reply to")
    references: list[str] = Field(default_factory=list, max_length=100)
    message_id: str | None = Field(None, max_length=998)
    raw: str | None = Field(
        None, description="A whole RFC 5322 message; replaces every other field but 'to'"
    )


class InboundDeliveryOut(WireModel):
    account: str
    conversation: str
    message: str
    created: bool = Field(description="A new conversation was created for it")
    duplicate: bool = Field(description="Already received: nothing new was written")


class InboundOut(WireModel):
    deliveries: list[InboundDeliveryOut]
    unknown_recipients: list[str]


class ClockIn(RequestModel):
    advance: int | None = Field(None, ge=-10 * 365 * 86400, le=10 * 365 * 86400)
    set: int | None = Field(None, ge=0, le=2**40, description="Unix seconds")
    freeze: bool | None = None
    reset: bool = Field(False, description="Back to system time, not frozen")


class ClockOut(WireModel):
    now: int = Field(description="Emulator time, Unix seconds")
    offset: int = Field(description="Seconds ahead of system time")
    frozen: bool


def _clock(request: Request) -> EmulatorClock:
    clock: EmulatorClock = request.app.state.clock
    return clock


def _render_clock(clock: EmulatorClock) -> ClockOut:
    return ClockOut(now=clock.now(), offset=clock.offset, frozen=clock.frozen)


def _seed(session: Session, raw: Any, *, now: int) -> SeedOut:
    document = demo.demo_document(now) if raw == "demo" else seed.parse_document(raw)
    result = seed.seed(session, document, now=now)
    return SeedOut(ids=result.ids, tokens=result.tokens, notes=result.notes)


@router.post("/reset", response_model=ResetOut, summary="Empty every table (emulator only)")
async def reset(
    request: Request, session: DbSession, body: Annotated[ResetIn | None, Body()] = None
) -> ResetOut:
    clock = _clock(request)
    deleted = emulator.reset_database(session)
    clock.reset()
    request.app.state.faults.clear()
    seeded = None
    if body is not None and body.seed is not None:
        seeded = _seed(session, body.seed, now=clock.now())
    return ResetOut(deleted=deleted, seeded=seeded)


@router.post("/seed", response_model=SeedOut, summary="Load a seed document (emulator only)")
async def load_seed(
    request: Request,
    session: DbSession,
    body: Annotated[dict[str, Any], Body(description="A `missive-server seed` document")],
) -> SeedOut:
    return _seed(session, body, now=_clock(request).now())


@router.post(
    "/inbound",
    response_model=InboundOut,
    summary="Receive an email as the SMTP listener would (emulator only)",
)
async def receive_inbound(
    request: Request, session: DbSession, body: Annotated[InboundIn, Body()]
) -> InboundOut:
    now = _clock(request).now()
    if body.raw is not None:
        raw = body.raw.encode("utf-8", "surrogateescape")
        if len(raw) > MAX_RAW:
            raise BadRequest("raw: message larger than 25 MB")
        if b":" not in raw.split(b"\n", 1)[0]:
            raise BadRequest("raw: not an RFC 5322 message (it must start with a header line)")
        recipients = body.to or emulator.envelope_recipients(raw)
    else:
        if body.from_ is None:
            raise BadRequest("from: give 'from' and 'to', or 'raw'")
        if not body.to:
            raise BadRequest("to: give at least one 'to' address")
        fields = InboundFields(
            from_=body.from_,
            to=body.to,
            cc=body.cc,
            subject=body.subject,
            text=body.text,
            html=body.html,
            in_reply_to=body.in_reply_to,
            references=body.references,
            message_id=body.message_id,
        )
        try:
            raw = emulator.build_mime(fields, now=now)
        except (ValueError, TypeError) as error:
            raise BadRequest(f"Cannot build the message: {error}") from None
        recipients = [*body.to, *body.cc]
    result = emulator.receive(session, raw, recipients, now=now)
    deliveries = [
        InboundDeliveryOut(
            account=d.account_id,
            conversation=d.conversation_id,
            message=d.message_id,
            created=d.created,
            duplicate=d.duplicate,
        )
        for d in result.deliveries
    ]
    return InboundOut(deliveries=deliveries, unknown_recipients=result.unknown_recipients)


@router.get("/clock", response_model=ClockOut, summary="The emulator's time (emulator only)")
async def get_clock(request: Request) -> ClockOut:
    return _render_clock(_clock(request))


@router.post(
    "/clock",
    response_model=ClockOut,
    summary="Freeze, set or advance the emulator's time; due work runs at once",
)
async def move_clock(request: Request, body: Annotated[ClockIn, Body()]) -> ClockOut:
    clock = _clock(request)
    if body.reset:
        clock.reset()
    if body.freeze is True:
        clock.freeze(True)
    if body.set is not None:
        clock.set(body.set)
    if body.advance is not None:
        clock.advance(body.advance)
    if body.freeze is False:
        clock.freeze(False)
    return _render_clock(clock)
