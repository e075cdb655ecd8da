"""Promoter pages: the list, one promoter with its history and status actions, the queue."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import done, form_ids, form_text, list_page
from admin_api.console.views import page
from admin_api.promoters import PromotersQuery, promoters_page
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.domain.errors import NotFound, ValidationFailed
from server.services.fraud import holds as hold_service
from server.services.programs import settings as program_service
from server.services.programs import sites as site_service
from server.services.promoters import behaviour as promoter_behaviour
from server.services.promoters import hierarchy
from server.services.promoters import queries as promoter_queries
from server.services.promoters import status_changes as status_service
from server.services.promoters import team as team_service
from server.services.tiers import standing as tier_standing

bp = Blueprint("console_promoters")
TEAM_PAGE = 20
BEHAVIOUR_DAYS = 30


@bp.get("/promoters")
@console_route(*ROLES_BACKOFFICE)
async def promoter_list(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        PromotersQuery,
        lambda query, _program_id: promoters_page(query, viewer=request.ctx.principal),
        heading=N_("Promoters"),
        template="promoters/list.html",
        rows="promoters/_rows.html",
    )


@bp.get("/applications")
@console_route(*ROLES_STAFF)
async def application_queue(request: Request) -> HTTPResponse:
    """Applications awaiting review, with bulk approve/reject."""
    return await list_page(
        request,
        PromotersQuery,
        lambda query, _program_id: promoters_page(query, viewer=request.ctx.principal),
        heading=N_("Applications"),
        template="promoters/applications.html",
        rows="promoters/_rows.html",
        selectable=True,
        status="applied",
    )


@bp.post("/applications")
@console_route(*ROLES_STAFF, form={"ids": "promoter"})
async def decide_applications(request: Request) -> HTTPResponse:
    action = form_text(request, "action") or ""
    await status_service.bulk_change_status(
        action=action,
        promoter_ids=form_ids(request),
        reason=form_text(request, "reason"),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    program_id = form_text(request, "program_id") or ""
    return done(f"/console/applications?program_id={program_id}")


@bp.get("/promoters/<promoter_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def promoter_detail(request: Request, promoter_id: int) -> HTTPResponse:
    viewer = request.ctx.principal
    promoter = await promoter_queries.get_promoter_detail(promoter_id=promoter_id, viewer=viewer)
    program = await program_service.get_program(program_id=promoter["program_id"])
    return await page(
        request,
        "promoters/detail.html",
        program=program,
        promoter=promoter,
        history=(await promoter_queries.promoter_history(promoter_id=promoter_id))["items"],
        hold=await hold_service.hold_status(promoter_id=promoter_id),
        team=await team_service.team_view(
            promoter_id=promoter_id, depth=None, cursor=None, limit=TEAM_PAGE
        ),
        behaviour=await promoter_behaviour.promoter_behaviour(
            promoter_id=promoter_id, days=BEHAVIOUR_DAYS
        ),
        sites=await site_service.list_sites(program_id=program.id, limit=100),
        granted=await site_service.granted_site_ids(promoter_id=promoter_id),
        tier_changes=(
            await tier_standing.tier_history(promoter_id=promoter_id, cursor=None, limit=TEAM_PAGE)
        )["items"],
    )


@bp.post("/promoters/<promoter_id:int>/status/<action:str>")
@console_route(*ROLES_STAFF)
async def change_status(request: Request, promoter_id: int, action: str) -> HTTPResponse:
    if action not in promoter_queries.STAFF_ACTIONS:
        raise NotFound("no such action", code="route_not_found")
    await status_service.change_promoter_status(
        promoter_id=promoter_id,
        action=action,
        reason=form_text(request, "reason"),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
        without_upline=form_text(request, "without_upline") == "1",
    )
    return done(f"/console/promoters/{promoter_id}")


@bp.post("/promoters/<promoter_id:int>/hold")
@console_route(*ROLES_STAFF)
async def hold(request: Request, promoter_id: int) -> HTTPResponse:
    """Place a manual fraud hold on the promoter's money, or lift it, with a reason."""
    change = hold_service.lift_hold if form_text(request, "lift") else hold_service.place_hold
    await change(
        promoter_id=promoter_id,
        reason=form_text(request, "reason") or "",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/promoters/{promoter_id}")


@bp.post("/promoters/<promoter_id:int>/move")
@console_route(*ROLES_STAFF)
async def move(request: Request, promoter_id: int) -> HTTPResponse:
    """Move the promoter and its whole team under another upline (audited)."""
    raw = form_text(request, "new_parent_id") or ""
    if raw and not (raw.isdigit() and len(raw) < 19):
        raise ValidationFailed(
            "not a promoter id", code="validation_failed", fields={"new_parent_id": raw}
        )
    await hierarchy.move_subtree(
        promoter_id=promoter_id,
        new_parent_id=int(raw) if raw else None,  # empty: the promoter becomes a root
        reason=form_text(request, "reason") or "",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/promoters/{promoter_id}")


@bp.post("/promoters/<promoter_id:int>/sites/<site_id:int>")
@console_route(*ROLES_STAFF)
async def site_grant(request: Request, promoter_id: int, site_id: int) -> HTTPResponse:
    """Authorize the promoter for a site of their program, or withdraw it."""
    change = site_service.revoke_site if form_text(request, "revoke") else site_service.grant_site
    await change(
        promoter_id=promoter_id,
        site_id=site_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/promoters/{promoter_id}")
