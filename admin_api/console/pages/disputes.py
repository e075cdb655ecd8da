"""Disputes: the queue, one dispute's thread, a reply, and its resolution."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import done, form_text, list_page
from admin_api.console.views import page
from admin_api.disputes import DisputeQueueQuery
from server.auth import ROLES_BACKOFFICE, ROLES_FINANCE
from server.services.payouts import disputes as dispute_service
from server.services.programs import settings as program_service

bp = Blueprint("console_disputes")


@bp.get("/disputes")
@console_route(*ROLES_BACKOFFICE)
async def dispute_queue(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        DisputeQueueQuery,
        lambda query, _program_id: dispute_service.dispute_queue(
            **query.model_dump(), programs=request.ctx.principal.programs
        ),
        heading=N_("Disputes"),
        template="disputes/list.html",
        rows="disputes/_rows.html",
    )


@bp.get("/disputes/<dispute_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def dispute_detail(request: Request, dispute_id: int) -> HTTPResponse:
    dispute = await dispute_service.dispute_detail(dispute_id=dispute_id)
    program = await program_service.get_program(program_id=dispute["program_id"])
    return await page(request, "disputes/detail.html", program=program, dispute=dispute)


@bp.post("/disputes/<dispute_id:int>/messages")
@console_route(*ROLES_BACKOFFICE)
async def reply(request: Request, dispute_id: int) -> HTTPResponse:
    await dispute_service.staff_reply(
        dispute_id=dispute_id,
        text=form_text(request, "text", max_length=2000) or "",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/disputes/{dispute_id}")


@bp.post("/disputes/<dispute_id:int>/reject")
@console_route(*ROLES_BACKOFFICE)
async def reject(request: Request, dispute_id: int) -> HTTPResponse:
    await dispute_service.reject_dispute(
        dispute_id=dispute_id,
        reason=form_text(request, "reason") or "",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/disputes/{dispute_id}")


@bp.post("/disputes/<dispute_id:int>/accept")
@console_route(*ROLES_FINANCE)
async def accept(request: Request, dispute_id: int) -> HTTPResponse:
    """Accept with an adjustment in the program's currency (one transaction)."""
    dispute = await dispute_service.dispute_detail(dispute_id=dispute_id)
    program = await program_service.get_program(program_id=dispute["program_id"])
    await dispute_service.accept_dispute(
        dispute_id=dispute_id,
        amount=form_text(request, "amount", max_length=32) or "",
        currency=program.currency,
        reason=form_text(request, "reason") or "",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/disputes/{dispute_id}")
