"""Tiers of a program (staff configure, back office reads) and a promoter's tier: assigned
by hand, and its history with the figures of each change."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server import clock
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.tiers import config as tiers_service
from server.services.tiers import leaderboard as leaderboard_service
from server.services.tiers import standing

bp = Blueprint("admin_tiers")

DecimalText = Annotated[str, Field(description="decimal string, e.g. '1000.00'")]


class TierPatch(Body):
    """Only the fields sent change; null clears a condition or a benefit."""

    name: str | None = Field(default=None, max_length=64)
    rank: int | None = Field(
        default=None, ge=0, le=1000, description="higher is better; 0 only for 'default'"
    )
    period_days: int | None = Field(
        default=None, ge=1, le=366, description="rolling window: the last N local days"
    )
    min_net_sales: DecimalText | None = Field(
        default=None, description="own attributed net sales in the window"
    )
    min_settled_commissions: DecimalText | None = Field(
        default=None, description="own settled commissions (levels 0 and 1) in the window"
    )
    min_paying_customers: int | None = Field(
        default=None, ge=0, le=10_000_000, description="distinct own paying customers"
    )
    level_rates: dict[str, DecimalText] | None = Field(
        default=None, description="level → percent replacing the program's rate there"
    )
    rate_multiplier: DecimalText | None = Field(default=None, description="1 to 3")
    freeze_days: int | None = Field(default=None, ge=0, le=365, description="a shorter freeze")
    auto_approve: bool | None = None
    enabled: bool | None = None


class TierCreate(TierPatch):
    code: str = Field(
        min_length=1,
        max_length=32,
        description="e.g. silver; 'default' names the base tier (rank 0, no conditions)",
    )


class TierAssign(Body):
    tier: str = Field(min_length=1, max_length=32, description="a tier code or 'default'")
    lock: bool = Field(default=False, description="true: the tier job leaves this promoter")
    reason: str = Field(min_length=1, max_length=512)


class ListQuery(Query):
    enabled: bool | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class HistoryQuery(Query):
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/programs/<program_id:int>/tiers")
@openapi.definition(summary="A program's tiers, in id order", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_tiers(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ListQuery)
    return render(
        await tiers_service.list_tiers(
            program_id=program_id, enabled=query.enabled, cursor=query.cursor, limit=query.limit
        )
    )


@bp.post("/programs/<program_id:int>/tiers")
@openapi.definition(summary="Add a tier", body=TierCreate, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def create_tier(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, TierCreate)
    (record, currency), replayed = await create_once(
        request,
        lambda: tiers_service.create_tier(
            program_id=program_id,
            document=body.model_dump(exclude_unset=True),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda tier_id: tiers_service.get_tier(tier_id=tier_id),
        body=body,
    )
    return render_created(
        tiers_service.serialize_tier(record, currency=currency), replayed=replayed
    )


@bp.get("/tiers/<tier_id:int>")
@openapi.definition(summary="One tier", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_tier(request: Request, tier_id: int) -> HTTPResponse:
    record, currency = await tiers_service.get_tier(tier_id=tier_id)
    return render(tiers_service.serialize_tier(record, currency=currency))


@bp.patch("/tiers/<tier_id:int>")
@openapi.definition(
    summary="Change a tier (not its code); the next evaluation applies it",
    body=TierPatch,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def update_tier(request: Request, tier_id: int) -> HTTPResponse:
    body = parse_body(request, TierPatch)
    record, currency = await tiers_service.update_tier(
        tier_id=tier_id,
        changes=body.model_dump(exclude_unset=True),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(tiers_service.serialize_tier(record, currency=currency))


async def _set_enabled(request: Request, tier_id: int, enabled: bool) -> HTTPResponse:
    record, currency = await tiers_service.set_tier_enabled(
        tier_id=tier_id,
        enabled=enabled,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(tiers_service.serialize_tier(record, currency=currency))


@bp.post("/tiers/<tier_id:int>/disable")
@openapi.definition(summary="Disable a tier (its members move down)", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def disable_tier(request: Request, tier_id: int) -> HTTPResponse:
    return await _set_enabled(request, tier_id, False)


@bp.post("/tiers/<tier_id:int>/enable")
@openapi.definition(summary="Enable a disabled tier again", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def enable_tier(request: Request, tier_id: int) -> HTTPResponse:
    return await _set_enabled(request, tier_id, True)


@bp.put("/promoters/<promoter_id:int>/tier")
@openapi.definition(
    summary="Assign a promoter's tier by hand (optionally locked against the job); audited",
    body=TierAssign,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def assign_tier(request: Request, promoter_id: int) -> HTTPResponse:
    body = parse_body(request, TierAssign)
    return render(
        await standing.assign_tier(
            promoter_id=promoter_id,
            tier=body.tier,
            lock=body.lock,
            reason=body.reason,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
            now=clock.now(),
        )
    )


@bp.get("/promoters/<promoter_id:int>/tier-history")
@openapi.definition(
    summary="A promoter's tier changes, newest first, with their figures", secured={"bearer": []}
)
@requires(*ROLES_BACKOFFICE)
async def tier_history(request: Request, promoter_id: int) -> HTTPResponse:
    query = parse_query(request, HistoryQuery)
    return render(
        await standing.tier_history(promoter_id=promoter_id, cursor=query.cursor, limit=query.limit)
    )


@bp.get("/programs/<program_id:int>/leaderboard")
@openapi.definition(
    summary="This month's leaderboard as promoters get it (opted-out ones left out), with "
    "full names, whether the program shows it and how many opted out",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def staff_leaderboard(request: Request, program_id: int) -> HTTPResponse:
    return render(
        await leaderboard_service.staff_leaderboard(program_id=program_id, now=clock.now())
    )
