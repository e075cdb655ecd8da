"""Outgoing webhooks in the console: a program's endpoints (create, rotate, disable, enable),
the delivery log, and one delivery's attempts with a replay button (staff, admin)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.pages.common import chosen_program, done, form_text
from admin_api.console.views import page
from server.auth import ROLES_STAFF
from server.domain.webhooks.events import EVENT_TYPES
from server.services.programs import settings as program_service
from server.services.webhooks import deliveries as delivery_service
from server.services.webhooks import endpoints as endpoint_service

bp = Blueprint("console_webhooks")

PROGRAM = "/programs/<program_id:int>"
LOG_SIZE = 50


async def _webhooks_page(
    request: Request, *, program_id: int | None = None, **context: object
) -> HTTPResponse:
    program, programs = await chosen_program(request)
    if program_id is not None:  # after a POST: the program of its path, not of a query
        program = await program_service.get_program(program_id=program_id)
    endpoints = await endpoint_service.list_endpoints(program_id=program.id, limit=100)
    log = await delivery_service.list_deliveries(program_id=program.id, limit=LOG_SIZE)
    return await page(
        request,
        "webhooks/list.html",
        program=program,
        programs=programs,
        endpoints=[endpoint_service.serialize_endpoint(e) for e in endpoints],
        deliveries=log["items"],
        event_types=EVENT_TYPES,
        **context,
    )


@bp.get("/webhooks")
@console_route(*ROLES_STAFF)
async def webhooks(request: Request) -> HTTPResponse:
    return await _webhooks_page(request)


@bp.post(PROGRAM + "/webhooks")
@console_route(*ROLES_STAFF)
async def create_endpoint(request: Request, program_id: int) -> HTTPResponse:
    """A new endpoint; its secret is shown on this answer only."""
    issued = await endpoint_service.create_endpoint(
        program_id=program_id,
        url=form_text(request, "url", max_length=1024) or "",
        event_types=(request.form.getlist("event_types") if request.form else None) or [],
        description=form_text(request, "description", max_length=255),
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return await _webhooks_page(
        request, program_id=program_id, issued=endpoint_service.serialize_issued(issued)
    )


@bp.post(PROGRAM + "/webhooks/<endpoint_id:int>/rotate")
@console_route(*ROLES_STAFF)
async def rotate(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    """A new secret, shown on this answer only; the old one signs for another day."""
    issued = await endpoint_service.rotate_secret(
        program_id=program_id,
        endpoint_id=endpoint_id,
        grace_seconds=None,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return await _webhooks_page(
        request, program_id=program_id, issued=endpoint_service.serialize_issued(issued)
    )


async def _switch(
    request: Request, program_id: int, endpoint_id: int, *, enabled: bool
) -> HTTPResponse:
    await endpoint_service.set_endpoint_status(
        program_id=program_id,
        endpoint_id=endpoint_id,
        enabled=enabled,
        reason=form_text(request, "reason", max_length=255),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/webhooks?program_id={program_id}")


@bp.post(PROGRAM + "/webhooks/<endpoint_id:int>/disable")
@console_route(*ROLES_STAFF)
async def disable(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    return await _switch(request, program_id, endpoint_id, enabled=False)


@bp.post(PROGRAM + "/webhooks/<endpoint_id:int>/enable")
@console_route(*ROLES_STAFF)
async def enable(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    return await _switch(request, program_id, endpoint_id, enabled=True)


@bp.get(PROGRAM + "/webhook-deliveries/<delivery_id:int>")
@console_route(*ROLES_STAFF)
async def delivery(request: Request, program_id: int, delivery_id: int) -> HTTPResponse:
    detail = await delivery_service.delivery_detail(program_id=program_id, delivery_id=delivery_id)
    program = await program_service.get_program(program_id=program_id)
    return await page(request, "webhooks/delivery.html", program=program, delivery=detail)


@bp.post(PROGRAM + "/webhook-deliveries/<delivery_id:int>/replay")
@console_route(*ROLES_STAFF)
async def replay(request: Request, program_id: int, delivery_id: int) -> HTTPResponse:
    await delivery_service.replay_delivery(
        program_id=program_id,
        delivery_id=delivery_id,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/programs/{program_id}/webhook-deliveries/{delivery_id}")
