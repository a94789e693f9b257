"""POST /v1/analytics/reports and GET /v1/analytics/reports/:id (spec 2.1)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.schemas.analytics import (
    ReportCreatedEnvelope,
    ReportEnvelope,
    ReportsCreateBody,
    render_report,
)
from missive_server.services.analytics import analytics
from missive_server.services.outbox import RetryPolicy

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Analytics"])


@router.post(
    "/analytics/reports",
    response_model=ReportCreatedEnvelope,
    status_code=201,
    summary="Request a report; the worker computes it, then poll GET /v1/analytics/reports/:id",
)
async def create_report(body: ReportsCreateBody, ctx: Context) -> Response:
    report = analytics.create_report(
        ctx.session,
        actor=ctx.actor,
        request=body.reports,
        now=ctx.clock.now(),
        policy=RetryPolicy(
            ctx.settings.delivery_max_attempts, ctx.settings.delivery_backoff_seconds
        ),
    )
    return envelope("reports", {"id": report.id}, 201)


@router.get(
    "/analytics/reports/{report_id}",
    response_model=ReportEnvelope,
    summary="Fetch a completed report (404 with an empty body while it is computing, once it "
    "expired 60 s after completion, or for an unknown id)",
    # Missive answers these 404s with no body at all (spec), not the error envelope.
    responses={404: {"description": "Computing, expired or unknown: an empty body"}},
)
async def get_report(report_id: str, ctx: Context) -> Response:
    report = analytics.get_report(
        ctx.session, actor=ctx.actor, report_id=report_id, now=ctx.clock.now()
    )
    return envelope("reports", render_report(report))
