"""Boosts and milestone bonuses of a program (staff configure, back office reads), and the
awards a bonus has paid."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from admin_api.tiers import HistoryQuery, ListQuery
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.http import Body, Moment, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.csv_export import stream_csv
from server.services.tiers import awards, bonuses
from server.services.tiers import incentive_config as service

bp = Blueprint("admin_incentives")

DecimalText = Annotated[str, Field(description="decimal string")]
BOOST, BONUS = "boost", "milestone_bonus"


class BoostPatch(Body):
    name: str | None = Field(default=None, max_length=128)
    multiplier: DecimalText | None = Field(default=None, description="1 to 3, e.g. '1.5'")
    tier: str | None = Field(default=None, description="null = every tier")
    starts_at: Moment | None = None
    ends_at: Moment | None = Field(default=None, description="exclusive")
    max_rate: DecimalText | None = Field(
        default=None, description="the boosted percent never goes above this"
    )
    enabled: bool | None = None


class BoostCreate(BoostPatch):
    multiplier: DecimalText  # type: ignore[assignment]
    starts_at: Moment  # type: ignore[assignment]
    ends_at: Moment  # type: ignore[assignment]


class BonusPatch(Body):
    name: str | None = Field(default=None, max_length=128)
    target_net_sales: DecimalText | None = Field(
        default=None, description="own net sales on orders placed in the window"
    )
    amount: DecimalText | None = Field(default=None, description="paid once per promoter")
    tier: str | None = Field(default=None, description="null = every tier")
    starts_at: Moment | None = None
    ends_at: Moment | None = Field(default=None, description="exclusive")
    max_awards: int | None = Field(default=None, ge=1, le=10_000_000, description="null = any")
    enabled: bool | None = None


class BonusCreate(BonusPatch):
    target_net_sales: DecimalText  # type: ignore[assignment]
    amount: DecimalText  # type: ignore[assignment]
    starts_at: Moment  # type: ignore[assignment]
    ends_at: Moment  # type: ignore[assignment]


class AwardFilter(Query):
    bonus_id: int | None = Field(default=None, ge=1, description="one bonus's awards")
    promoter_id: int | None = Field(default=None, ge=1, description="one promoter's awards")


class AwardListQuery(AwardFilter, HistoryQuery):
    """The program's award list: newest first; `cursor` is the last id of the page before."""


class AwardExportFilter(AwardFilter):
    program_id: int | None = Field(default=None, ge=1)


SCHEMAS = {BOOST: (BoostCreate, BoostPatch), BONUS: (BonusCreate, BonusPatch)}


async def _list(request: Request, kind: str, program_id: int) -> HTTPResponse:
    query = parse_query(request, ListQuery)
    return render(
        await service.list_incentives(
            kind=kind,
            program_id=program_id,
            enabled=query.enabled,
            cursor=query.cursor,
            limit=query.limit,
        )
    )


async def _create(request: Request, kind: str, program_id: int) -> HTTPResponse:
    body = parse_body(request, SCHEMAS[kind][0])
    (record, currency), replayed = await create_once(
        request,
        lambda: service.create_incentive(
            kind=kind,
            program_id=program_id,
            document=body.model_dump(exclude_unset=True),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda record_id: service.get_incentive(kind=kind, record_id=record_id),
        body=body,
    )
    return render_created(
        service.serialize_incentive(kind, record, currency=currency), replayed=replayed
    )


async def _get(kind: str, record_id: int) -> HTTPResponse:
    record, currency = await service.get_incentive(kind=kind, record_id=record_id)
    return render(service.serialize_incentive(kind, record, currency=currency))


async def _update(request: Request, kind: str, record_id: int) -> HTTPResponse:
    body = parse_body(request, SCHEMAS[kind][1])
    record, currency = await service.update_incentive(
        kind=kind,
        record_id=record_id,
        changes=body.model_dump(exclude_unset=True),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(service.serialize_incentive(kind, record, currency=currency))


async def _enable(request: Request, kind: str, record_id: int, enabled: bool) -> HTTPResponse:
    record, currency = await service.set_incentive_enabled(
        kind=kind,
        record_id=record_id,
        enabled=enabled,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(service.serialize_incentive(kind, record, currency=currency))


# ---------------------------------------------------------------- boosts


@bp.get("/programs/<program_id:int>/boosts")
@openapi.definition(summary="A program's boosts, in id order", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_boosts(request: Request, program_id: int) -> HTTPResponse:
    return await _list(request, BOOST, program_id)


@bp.post("/programs/<program_id:int>/boosts")
@openapi.definition(summary="Add a time-bound boost", body=BoostCreate, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def create_boost(request: Request, program_id: int) -> HTTPResponse:
    return await _create(request, BOOST, program_id)


@bp.get("/boosts/<boost_id:int>")
@openapi.definition(summary="One boost", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_boost(request: Request, boost_id: int) -> HTTPResponse:
    return await _get(BOOST, boost_id)


@bp.patch("/boosts/<boost_id:int>")
@openapi.definition(summary="Change a boost", body=BoostPatch, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def update_boost(request: Request, boost_id: int) -> HTTPResponse:
    return await _update(request, BOOST, boost_id)


@bp.post("/boosts/<boost_id:int>/disable")
@openapi.definition(summary="Disable a boost for new orders", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def disable_boost(request: Request, boost_id: int) -> HTTPResponse:
    return await _enable(request, BOOST, boost_id, False)


@bp.post("/boosts/<boost_id:int>/enable")
@openapi.definition(summary="Enable a disabled boost again", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def enable_boost(request: Request, boost_id: int) -> HTTPResponse:
    return await _enable(request, BOOST, boost_id, True)


# ---------------------------------------------------------------- milestone bonuses


@bp.get("/programs/<program_id:int>/milestone-bonuses")
@openapi.definition(summary="A program's milestone bonuses, in id order", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_bonuses(request: Request, program_id: int) -> HTTPResponse:
    return await _list(request, BONUS, program_id)


@bp.post("/programs/<program_id:int>/milestone-bonuses")
@openapi.definition(summary="Add a milestone bonus", body=BonusCreate, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def create_bonus(request: Request, program_id: int) -> HTTPResponse:
    return await _create(request, BONUS, program_id)


@bp.get("/milestone-bonuses/<bonus_id:int>")
@openapi.definition(summary="One milestone bonus", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_bonus(request: Request, bonus_id: int) -> HTTPResponse:
    return await _get(BONUS, bonus_id)


@bp.patch("/milestone-bonuses/<bonus_id:int>")
@openapi.definition(summary="Change a milestone bonus", body=BonusPatch, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def update_bonus(request: Request, bonus_id: int) -> HTTPResponse:
    return await _update(request, BONUS, bonus_id)


@bp.post("/milestone-bonuses/<bonus_id:int>/disable")
@openapi.definition(summary="Disable a milestone bonus (no new awards)", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def disable_bonus(request: Request, bonus_id: int) -> HTTPResponse:
    return await _enable(request, BONUS, bonus_id, False)


@bp.post("/milestone-bonuses/<bonus_id:int>/enable")
@openapi.definition(summary="Enable a disabled milestone bonus again", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def enable_bonus(request: Request, bonus_id: int) -> HTTPResponse:
    return await _enable(request, BONUS, bonus_id, True)


@bp.get("/milestone-bonuses/<bonus_id:int>/awards")
@openapi.definition(
    summary="The awards a milestone bonus paid, with their explanations", secured={"bearer": []}
)
@requires(*ROLES_BACKOFFICE)
async def list_awards(request: Request, bonus_id: int) -> HTTPResponse:
    query = parse_query(request, HistoryQuery)
    return render(
        await bonuses.list_awards(bonus_id=bonus_id, cursor=query.cursor, limit=query.limit)
    )


@bp.get("/programs/<program_id:int>/bonus-awards")
@openapi.definition(
    summary="A program's milestone bonus awards, newest first: promoter, bonus, amount, "
    "ledger reference",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def list_program_awards(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, AwardListQuery)
    return render(await awards.list_program_awards(program_id=program_id, **query.model_dump()))


@bp.get("/exports/bonus-awards.csv")
@openapi.definition(
    summary="Milestone bonus awards as CSV (the award list's filters), streamed",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def export_awards(request: Request) -> None:
    query = parse_query(request, AwardExportFilter)
    await stream_csv(
        request,
        awards.export_awards(programs=request.ctx.principal.programs, **query.model_dump()),
    )
