"""The fraud anomaly queue: evidence, and confirm or dismiss one or many (staff)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.anomalies import AnomalyQueueQuery, anomaly_page
from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import done, form_ids, form_text, list_page
from admin_api.console.views import page
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.services.fraud import decisions as anomaly_decisions
from server.services.fraud import queries as anomaly_queries
from server.services.programs import settings as program_service

bp = Blueprint("console_anomalies")


@bp.get("/anomalies")
@console_route(*ROLES_BACKOFFICE)
async def anomaly_queue(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        AnomalyQueueQuery,
        lambda query, _program_id: anomaly_page(query, programs=request.ctx.principal.programs),
        heading=N_("Anomalies"),
        template="anomalies/list.html",
        rows="anomalies/_rows.html",
    )


@bp.get("/anomalies/<anomaly_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def anomaly_detail(request: Request, anomaly_id: int) -> HTTPResponse:
    anomaly = await anomaly_queries.anomaly_detail(anomaly_id=anomaly_id)
    program = await program_service.get_program(program_id=anomaly["program_id"])
    return await page(request, "anomalies/detail.html", program=program, anomaly=anomaly)


@bp.post("/anomalies")
@console_route(*ROLES_STAFF, form={"ids": "anomaly"})
async def decide(request: Request) -> HTTPResponse:
    """Confirm or dismiss the ticked anomalies (or the one of a detail page): all or none."""
    ids = form_ids(request)
    await anomaly_decisions.decide_anomalies(
        ids=ids,
        action=form_text(request, "action") or "",
        note=form_text(request, "note") or "",
        suspend_promoter=form_text(request, "suspend_promoter") == "1",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    if form_text(request, "back") == "detail":
        return done(f"/console/anomalies/{ids[0]}")
    return done(f"/console/anomalies?program_id={form_text(request, 'program_id')}")
