"""Commission rules and per-period caps of a program: staff configure, back office reads.

Bodies check shape and JSON types only; the domain reports every broken field at once.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.http import MAX_PAGE_SIZE, Body, Moment, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.programs import commission_rules as rules_service
from server.services.programs import period_caps as caps_service

bp = Blueprint("admin_commission_rules")

DecimalText = Annotated[str, Field(description="decimal string, e.g. '10' or '5.00'")]
# Body fields naming records, for the program scope of a limited account.
RULE_REFS = {"site_id": "site", "promoter_id": "promoter"}
CAP_REFS = {"promoter_id": "promoter"}


class RulePatch(Body):
    """Only the fields sent change; null clears an optional field (any value)."""

    name: str | None = Field(default=None, max_length=128)
    kind: str | None = Field(default=None, description="percent | fixed")
    value: DecimalText | None = Field(
        default=None, description="percent (10 = 10%) or amount per unit in the currency"
    )
    level: int | None = Field(
        default=None, description="0..MAX_COMMISSION_LEVELS; null = every level"
    )
    product_id: str | None = None
    category: str | None = None
    campaign: str | None = None
    site_id: int | None = None
    tier: str | None = None
    promoter_id: int | None = None
    valid_from: Moment | None = None
    valid_to: Moment | None = Field(default=None, description="exclusive")
    cap_per_line: DecimalText | None = Field(default=None, description="null = no cap")
    priority: int | None = None
    enabled: bool | None = None


class RuleCreate(RulePatch):
    kind: str = Field(description="percent | fixed")  # type: ignore[assignment]
    value: DecimalText = Field(  # type: ignore[assignment]
        description="percent (10 = 10%) or amount per unit in the currency"
    )


class CapPatch(Body):
    period: str | None = Field(default=None, description="day | month")
    amount: DecimalText | None = None
    promoter_id: int | None = Field(default=None, description="null = every promoter")
    tier: str | None = Field(default=None, description="null = every tier")
    enabled: bool | None = None


class CapCreate(CapPatch):
    period: str = Field(description="day | month")  # type: ignore[assignment]
    amount: DecimalText  # type: ignore[assignment]


class ConfigFilter(Query):
    enabled: bool | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


# ---------------------------------------------------------------- rules


@bp.get("/programs/<program_id:int>/commission-rules")
@openapi.definition(summary="A program's commission rules, in id order", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_rules(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ConfigFilter)
    page = await rules_service.list_rules(
        program_id=program_id, enabled=query.enabled, cursor=query.cursor, limit=query.limit
    )
    return render(page)


@bp.post("/programs/<program_id:int>/commission-rules")
@openapi.definition(summary="Add a commission rule", body=RuleCreate, secured={"bearer": []})
@requires(*ROLES_STAFF, body=RULE_REFS)
async def create_rule(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, RuleCreate)
    (record, currency), replayed = await create_once(
        request,
        lambda: rules_service.create_rule(
            program_id=program_id,
            document=body.model_dump(exclude_unset=True),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda rule_id: rules_service.get_rule(rule_id=rule_id),
        body=body,
    )
    return render_created(
        await rules_service.named_rule(record, currency=currency), replayed=replayed
    )


@bp.get("/commission-rules/<rule_id:int>")
@openapi.definition(summary="One commission rule", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_rule(request: Request, rule_id: int) -> HTTPResponse:
    record, currency = await rules_service.get_rule(rule_id=rule_id)
    return render(await rules_service.named_rule(record, currency=currency))


@bp.patch("/commission-rules/<rule_id:int>")
@openapi.definition(
    summary="Change a commission rule (checked as a whole; past commissions keep theirs)",
    body=RulePatch,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF, body=RULE_REFS)
async def update_rule(request: Request, rule_id: int) -> HTTPResponse:
    body = parse_body(request, RulePatch)
    record, currency = await rules_service.update_rule(
        rule_id=rule_id,
        changes=body.model_dump(exclude_unset=True),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(await rules_service.named_rule(record, currency=currency))


@bp.post("/commission-rules/<rule_id:int>/disable")
@openapi.definition(summary="Disable a commission rule for new orders", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def disable_rule(request: Request, rule_id: int) -> HTTPResponse:
    record, currency = await rules_service.set_rule_enabled(
        rule_id=rule_id,
        enabled=False,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(await rules_service.named_rule(record, currency=currency))


@bp.post("/commission-rules/<rule_id:int>/enable")
@openapi.definition(summary="Enable a disabled commission rule again", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def enable_rule(request: Request, rule_id: int) -> HTTPResponse:
    record, currency = await rules_service.set_rule_enabled(
        rule_id=rule_id,
        enabled=True,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(await rules_service.named_rule(record, currency=currency))


# ---------------------------------------------------------------- period caps


@bp.get("/programs/<program_id:int>/period-caps")
@openapi.definition(summary="A program's per-promoter period caps", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_caps(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ConfigFilter)
    page = await caps_service.list_caps(
        program_id=program_id, enabled=query.enabled, cursor=query.cursor, limit=query.limit
    )
    return render(page)


@bp.post("/programs/<program_id:int>/period-caps")
@openapi.definition(summary="Add a day or month cap", body=CapCreate, secured={"bearer": []})
@requires(*ROLES_STAFF, body=CAP_REFS)
async def create_cap(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, CapCreate)
    (record, currency), replayed = await create_once(
        request,
        lambda: caps_service.create_cap(
            program_id=program_id,
            document=body.model_dump(exclude_unset=True),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda cap_id: caps_service.get_cap(cap_id=cap_id),
        body=body,
    )
    return render_created(caps_service.serialize_cap(record, currency=currency), replayed=replayed)


@bp.get("/period-caps/<cap_id:int>")
@openapi.definition(summary="One period cap", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_cap(request: Request, cap_id: int) -> HTTPResponse:
    record, currency = await caps_service.get_cap(cap_id=cap_id)
    return render(caps_service.serialize_cap(record, currency=currency))


@bp.patch("/period-caps/<cap_id:int>")
@openapi.definition(summary="Change a period cap", body=CapPatch, secured={"bearer": []})
@requires(*ROLES_STAFF, body=CAP_REFS)
async def update_cap(request: Request, cap_id: int) -> HTTPResponse:
    body = parse_body(request, CapPatch)
    record, currency = await caps_service.update_cap(
        cap_id=cap_id,
        changes=body.model_dump(exclude_unset=True),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(caps_service.serialize_cap(record, currency=currency))


@bp.post("/period-caps/<cap_id:int>/disable")
@openapi.definition(summary="Disable a period cap for new orders", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def disable_cap(request: Request, cap_id: int) -> HTTPResponse:
    record, currency = await caps_service.set_cap_enabled(
        cap_id=cap_id,
        enabled=False,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(caps_service.serialize_cap(record, currency=currency))


@bp.post("/period-caps/<cap_id:int>/enable")
@openapi.definition(summary="Enable a disabled period cap again", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def enable_cap(request: Request, cap_id: int) -> HTTPResponse:
    record, currency = await caps_service.set_cap_enabled(
        cap_id=cap_id,
        enabled=True,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(caps_service.serialize_cap(record, currency=currency))
