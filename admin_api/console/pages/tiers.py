"""Tiers: a program's tiers with their conditions and benefits (staff add, change, disable or
enable them), and a promoter's tier assigned by hand, optionally locked against the job."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import chosen_program, done, fields_beside, form_text
from admin_api.console.views import page
from admin_api.tiers import TierAssign, TierCreate, TierPatch
from server import clock
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.domain.errors import FenxiaoError
from server.http import MAX_PAGE_SIZE, validate_body
from server.services.programs import settings as program_service
from server.services.tiers import config as tiers_service
from server.services.tiers import standing

bp = Blueprint("console_tiers")

NUMBERS = ("rank", "period_days", "min_paying_customers", "freeze_days")
AMOUNTS = ("min_net_sales", "min_settled_commissions", "rate_multiplier")
SWITCHES = ("auto_approve",)
# Every field of the form, in the order the page shows them, with its label.
FIELDS = {
    "name": N_("Name"),
    "rank": N_("Rank (higher is better)"),
    "period_days": N_("Window (days)"),
    "min_net_sales": N_("Net sales at least"),
    "min_settled_commissions": N_("Settled commissions at least"),
    "min_paying_customers": N_("Paying customers at least"),
    "level_rates": N_("Rate per level (level=percent, ...)"),
    "rate_multiplier": N_("Rate multiplier"),
    "freeze_days": N_("Freeze (days)"),
}


def _level_rates(raw: str) -> dict[str, str] | str:
    """`1=12, 2=6` as the API's {"1": "12", "2": "6"}; anything else as typed, so the
    service names the field."""
    rates: dict[str, str] = {}
    for part in raw.replace("，", ",").split(","):
        level, equals, rate = part.partition("=")
        if not equals:
            return raw
        rates[level.strip()] = rate.strip()
    return rates


def tier_form(request: Request, *, creating: bool) -> dict[str, Any]:
    """The form as the API's JSON body: on a change, a blank condition or benefit clears it,
    a blank name or rank leaves it."""
    document: dict[str, Any] = {}
    for name in ("code", *FIELDS) if creating else FIELDS:
        raw = form_text(request, name) or ""
        if not raw:
            if not creating and name not in ("name", "rank"):
                document[name] = None
            continue
        if name == "level_rates":
            document[name] = _level_rates(raw)
        elif name in NUMBERS:
            document[name] = int(raw) if raw.isdigit() and len(raw) < 9 else raw
        else:
            document[name] = raw
    for name in SWITCHES:
        document[name] = form_text(request, name) == "1"
    return document


async def _tiers_page(request: Request, **extra: Any) -> HTTPResponse:
    program, programs = await chosen_program(request)
    tiers = await tiers_service.list_tiers(
        program_id=program.id, enabled=None, cursor=None, limit=MAX_PAGE_SIZE
    )
    return await page(
        request,
        "tiers/list.html",
        status=extra.pop("status", 200),
        program=program,
        programs=programs,
        tiers=tiers["items"],
        fields=FIELDS,
        errors=extra.pop("errors", {}),
        entered=extra.pop("entered", {}),
        **extra,
    )


@bp.get("/tiers")
@console_route(*ROLES_BACKOFFICE)
async def tier_list(request: Request) -> HTTPResponse:
    return await _tiers_page(request)


def _beside(error: FenxiaoError) -> dict[str, Any]:
    return {str(key).partition(".")[0]: problem for key, problem in (error.fields or {}).items()}


@bp.post("/tiers")
@console_route(*ROLES_STAFF)
async def create_tier(request: Request) -> HTTPResponse:
    program, _ = await chosen_program(request)
    document = tier_form(request, creating=True)
    try:
        validate_body(document, TierCreate)
        await tiers_service.create_tier(
            program_id=program.id,
            document=document,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _tiers_page(
            request,
            status=error.status_code,
            error=error,
            errors=fields_beside(error),
            entered=request.form,
        )
    return done(f"/console/tiers?program_id={program.id}")


async def _tier_page(request: Request, tier_id: int, **extra: Any) -> HTTPResponse:
    record, currency = await tiers_service.get_tier(tier_id=tier_id)
    tier = tiers_service.serialize_tier(record, currency=currency)
    return await page(
        request,
        "tiers/detail.html",
        status=extra.pop("status", 200),
        program=await program_service.get_program(program_id=record.program_id),
        tier=tier,
        fields=FIELDS,
        errors=extra.pop("errors", {}),
        **extra,
    )


@bp.get("/tiers/<tier_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def tier_detail(request: Request, tier_id: int) -> HTTPResponse:
    return await _tier_page(request, tier_id)


@bp.post("/tiers/<tier_id:int>")
@console_route(*ROLES_STAFF)
async def update_tier(request: Request, tier_id: int) -> HTTPResponse:
    document = tier_form(request, creating=False)
    try:
        validate_body(document, TierPatch)
        await tiers_service.update_tier(
            tier_id=tier_id,
            changes=document,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _tier_page(
            request, tier_id, status=error.status_code, error=error, errors=fields_beside(error)
        )
    return done(f"/console/tiers/{tier_id}")


@bp.post("/tiers/<tier_id:int>/switch")
@console_route(*ROLES_STAFF)
async def switch_tier(request: Request, tier_id: int) -> HTTPResponse:
    """Disable a tier (its members move down at the next evaluation) or enable it again."""
    await tiers_service.set_tier_enabled(
        tier_id=tier_id,
        enabled=form_text(request, "enabled") == "1",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/tiers/{tier_id}")


@bp.post("/promoters/<promoter_id:int>/tier")
@console_route(*ROLES_STAFF)
async def assign_tier(request: Request, promoter_id: int) -> HTTPResponse:
    """Set a promoter's tier by hand with a reason; locked, the tier job leaves it."""
    body = validate_body(
        {
            "tier": form_text(request, "tier", max_length=32) or "",
            "lock": form_text(request, "lock") == "1",
            "reason": form_text(request, "reason") or "",
        },
        TierAssign,
    )
    await standing.assign_tier(
        promoter_id=promoter_id,
        tier=body.tier,
        lock=body.lock,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
        now=clock.now(),
    )
    return done(f"/console/promoters/{promoter_id}")
