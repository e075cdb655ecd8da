"""Programs and their sites: settings (admin), sites and promoters' site grants (staff).

Bodies check shape and JSON types only; the domain reports every broken rule at once.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty
from sanic_ext import openapi

from server.auth import ROLES_ADMIN, ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.http import Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.programs import settings as program_service
from server.services.programs import sites as site_service

bp = Blueprint("admin_programs")

Amount = Annotated[str, Field(description="decimal string in the currency, e.g. '10.00'")]
Rate = Annotated[str, Field(description="percent as a decimal string, e.g. '10'")]


class RequirementsBody(Body):
    real_name: bool = False
    phone: bool = False
    agreement_version: str | None = None
    deposit: Amount | None = Field(
        default=None,
        description="forbidden: only 0 or absent (an entry fee is what 《禁止传销条例》第七条"
        " forbids; 422 entry_fee_forbidden)",
    )


class WithdrawalRulesBody(Body):
    minimum: Amount = "1"
    fee_percent: Rate = "0"
    fee_fixed: Amount = "0"
    daily_cap: Amount | None = Field(default=None, description="null = no cap")
    methods: list[str] = Field(
        default_factory=lambda: ["wechat"],
        description="⊆ wechat, bank, offline; wechat only in CNY programs",
    )
    tax_withholding_percent: Rate = Field(
        default="0", description="0 ≤ percent < 100 of each withdrawal withheld as tax"
    )
    require_tax_profile: bool = Field(
        default=False,
        description="true: no withdrawal until the promoter's legal name and tax id are given"
        " (422 tax_profile_required)",
    )


class PayoutScheduleBody(Body):
    """Always replaced whole on update: manual | monthly (day 1..28) | threshold (amount)."""

    mode: str = Field(description="manual | monthly | threshold")
    day: int | None = None
    threshold: Amount | None = None


class AutoApproveRulesBody(Body):
    enabled: bool = False
    max_line_amount: Amount | None = Field(default=None, description="null = any amount")
    require_no_open_anomaly: bool = Field(default=True, description="must be true")


class SharingRulesBody(Body):
    """Merged key by key on update (server/domain/sharing/rules.py)."""

    custom_codes: str | None = Field(
        default=None,
        description="generated (only codes the server draws) | reviewed (chosen text counts"
        " once staff approve it)",
    )
    max_links_per_promoter: int | None = Field(default=None, description="1..10000, default 200")
    max_codes_per_promoter: int | None = Field(
        default=None, description="active codes and aliases, 1..10000, default 50"
    )
    max_channels_per_promoter: int | None = Field(default=None, description="1..10000, default 50")


LEVELS_DESCRIPTION = (
    "paid levels n, 1..MAX_COMMISSION_LEVELS (default 2, never above 3): a referred order pays"
    " levels 1..n; a self purchase with the rebate on pays the rebate and at most"
    " MAX_COMMISSION_LEVELS - 1 levels"
)


class ProgramPatch(Body):
    """Only the settings sent change; the merged result is validated as a whole."""

    name: str | None = None
    description: str | None = None
    kind: str | None = Field(default=None, description="external | internal")
    currency: str | None = Field(default=None, description="ISO-4217, e.g. CNY")
    recruitment_mode: str | None = Field(default=None, description="open | review | invite_only")
    requirements: RequirementsBody | None = None
    max_levels: int | None = Field(default=None, description=LEVELS_DESCRIPTION)
    level_rates: list[Rate] | None = Field(default=None, description="one per level")
    self_rebate_enabled: bool | None = None
    self_rebate_rate: Rate | None = None
    bind_mode: str | None = Field(
        default=None, description="first_touch | last_touch | on_register"
    )
    attribution_window_days: int | None = Field(default=None, description="0 = forever")
    commission_window_days: int | None = Field(default=None, description="0 = no limit")
    freeze_days: int | None = None
    auto_complete_days: int | None = Field(
        default=None,
        description="1..365: complete paid orders N days after payment when the store sends "
        "no order.completed; null = off",
    )
    withdrawal_rules: WithdrawalRulesBody | None = None
    payout_schedule: PayoutScheduleBody | None = None
    auto_approve_rules: AutoApproveRulesBody | None = None
    attribution_conflict_policy: str | None = Field(
        default=None, description="coupon_wins | binding_wins: when link and coupon disagree"
    )
    time_zone: str | None = Field(
        default=None, description="IANA name, e.g. Asia/Shanghai: where days and months begin"
    )
    fraud_thresholds: dict[str, int] | None = Field(
        default=None, description="merged key by key; names in server/domain/fraud/thresholds.py"
    )
    fraud_hold_scope: str | None = Field(
        default=None,
        description="promoter | anomaly_commissions: what an open anomaly naming a promoter holds",
    )
    sharing_rules: SharingRulesBody | None = None
    leaderboard_enabled: bool | None = Field(
        default=None, description="promoters see their rank by net sales on their dashboard"
    )


class ProgramCreate(ProgramPatch):
    name: str  # type: ignore[assignment]
    currency: str = Field(description="ISO-4217, e.g. CNY")  # type: ignore[assignment]
    max_levels: int = Field(description=LEVELS_DESCRIPTION)  # type: ignore[assignment]
    level_rates: list[Rate] = Field(description="one per level")  # type: ignore[assignment]


class ProgramFilter(Query):
    status: str | None = Field(default=None, description="active | archived")
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


class SiteCreate(Body):
    domain: str = Field(min_length=1, max_length=255)
    name: str = Field(default="", max_length=128)
    market: str = Field(default="", max_length=32)


class SiteUpdate(Body):
    name: str | None = Field(default=None, max_length=128)
    market: str | None = Field(default=None, max_length=32)
    is_active: bool | None = None


class SiteFilter(Query):
    is_active: bool | None = None
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


def _document(body: ProgramPatch) -> dict[str, object]:
    # Only what the caller sent: unset keys keep their current (or default) values.
    return body.model_dump(exclude_unset=True)


@bp.get("/programs")
@openapi.definition(summary="List programs (filter by status)", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_programs(request: Request) -> HTTPResponse:
    query = parse_query(request, ProgramFilter)
    programs = await program_service.list_programs(
        status=query.status,
        programs=request.ctx.principal.programs,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(program_service.serialize_program_page(programs, limit=query.limit))


@bp.post("/programs")
@openapi.definition(summary="Create a program", body=ProgramCreate, secured={"bearer": []})
@requires(*ROLES_ADMIN)
async def create_program(request: Request) -> HTTPResponse:
    body = parse_body(request, ProgramCreate)
    program, replayed = await create_once(
        request,
        lambda: program_service.create_program(
            document=_document(body), actor=request.ctx.principal, request_id=request.ctx.request_id
        ),
        replay=lambda program_id: program_service.get_program(program_id=program_id),
        body=body,
    )
    return render_created(program_service.serialize_program(program), replayed=replayed)


@bp.get("/programs/<program_id:int>")
@openapi.definition(summary="A program with every setting", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_program(request: Request, program_id: int) -> HTTPResponse:
    program = await program_service.get_program(program_id=program_id)
    return render(program_service.serialize_program(program))


@bp.patch("/programs/<program_id:int>")
@openapi.definition(
    summary="Change program settings (validated as a whole)",
    body=ProgramPatch,
    secured={"bearer": []},
)
@requires(*ROLES_ADMIN)
async def update_program(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, ProgramPatch)
    program = await program_service.update_program(
        program_id=program_id,
        changes=_document(body),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(program_service.serialize_program(program))


@bp.post("/programs/<program_id:int>/archive")
@openapi.definition(summary="Archive a program (no new applications)", secured={"bearer": []})
@requires(*ROLES_ADMIN)
async def archive_program(request: Request, program_id: int) -> HTTPResponse:
    program = await program_service.archive_program(
        program_id=program_id, actor=request.ctx.principal, request_id=request.ctx.request_id
    )
    return render(program_service.serialize_program(program))


@bp.get("/programs/<program_id:int>/sites")
@openapi.definition(summary="List a program's sites", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_sites(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, SiteFilter)
    sites = await site_service.list_sites(
        program_id=program_id, is_active=query.is_active, cursor=query.cursor, limit=query.limit
    )
    return render(site_service.serialize_sites_page(sites, limit=query.limit))


@bp.post("/programs/<program_id:int>/sites")
@openapi.definition(summary="Add a site to a program", body=SiteCreate, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def create_site(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, SiteCreate)
    site, replayed = await create_once(
        request,
        lambda: site_service.create_site(
            program_id=program_id,
            domain=body.domain,
            name=body.name,
            market=body.market,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda site_id: site_service.get_site(program_id=program_id, site_id=site_id),
        body=body,
    )
    return render_created(site_service.serialize_site(site), replayed=replayed)


@bp.patch("/programs/<program_id:int>/sites/<site_id:int>")
@openapi.definition(
    summary="Rename, re-market, deactivate or reactivate a site",
    body=SiteUpdate,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def update_site(request: Request, program_id: int, site_id: int) -> HTTPResponse:
    body = parse_body(request, SiteUpdate)
    site = await site_service.update_site(
        program_id=program_id,
        site_id=site_id,
        name=body.name,
        market=body.market,
        is_active=body.is_active,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(site_service.serialize_site(site))


@bp.post("/promoters/<promoter_id:int>/sites/<site_id:int>")
@openapi.definition(summary="Authorize a promoter for a site", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def grant_site(request: Request, promoter_id: int, site_id: int) -> HTTPResponse:
    grant = await site_service.grant_site(
        promoter_id=promoter_id,
        site_id=site_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(site_service.serialize_site_grant(grant), status=201)


@bp.delete("/promoters/<promoter_id:int>/sites/<site_id:int>")
@openapi.definition(
    summary="Withdraw a promoter's authorization for a site", secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def revoke_site(request: Request, promoter_id: int, site_id: int) -> HTTPResponse:
    await site_service.revoke_site(
        promoter_id=promoter_id,
        site_id=site_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return empty()
