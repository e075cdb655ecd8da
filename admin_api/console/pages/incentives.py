"""Boosts and milestone bonuses of a program: listed, added (times in the program's zone) and
disabled or enabled by staff, as the admin API's incentive routes do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import chosen_program, done, fields_beside, form_text
from admin_api.console.views import page
from admin_api.incentives import BONUS, BOOST, SCHEMAS
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.domain.errors import FenxiaoError
from server.domain.periods import zone
from server.http import MAX_PAGE_SIZE, validate_body
from server.services.tiers import incentive_config as service

bp = Blueprint("console_incentives")

# The fields of each kind's form with their labels; times are local to the program.
FIELDS = {
    BOOST: {
        "name": N_("Name"),
        "multiplier": N_("Multiplier (1 to 3)"),
        "max_rate": N_("Boosted percent at most"),
        "tier": N_("Tier code (empty: every tier)"),
        "starts_at": N_("Starts"),
        "ends_at": N_("Ends (not included)"),
    },
    BONUS: {
        "name": N_("Name"),
        "target_net_sales": N_("Net sales target"),
        "amount": N_("Bonus amount"),
        "max_awards": N_("Awards at most (empty: any)"),
        "tier": N_("Tier code (empty: every tier)"),
        "starts_at": N_("Starts"),
        "ends_at": N_("Ends (not included)"),
    },
}
TIMES = ("starts_at", "ends_at")


def _local_time(raw: str, time_zone: str) -> str:
    """A `datetime-local` value read in the program's zone, as ISO with its offset; anything
    else as typed, so the schema names the field."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(time_zone))
    return moment.isoformat()


def incentive_form(request: Request, kind: str, time_zone: str) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name in FIELDS[kind]:
        raw = form_text(request, name) or ""
        if not raw:
            continue
        if name in TIMES:
            document[name] = _local_time(raw, time_zone)
        elif name == "max_awards":
            document[name] = int(raw) if raw.isdigit() and len(raw) < 9 else raw
        else:
            document[name] = raw
    return document


def _with_instants(item: dict[str, Any]) -> dict[str, Any]:
    """The API's ISO times as instants, which the page shows in the program's zone."""
    return {
        **item,
        **{name: datetime.fromisoformat(item[name]) for name in TIMES if item.get(name)},
    }


async def _incentives_page(request: Request, **extra: Any) -> HTTPResponse:
    program, programs = await chosen_program(request)
    found = {
        kind: [
            _with_instants(item)
            for item in (
                await service.list_incentives(
                    kind=kind,
                    program_id=program.id,
                    enabled=None,
                    cursor=None,
                    limit=MAX_PAGE_SIZE,
                )
            )["items"]
        ]
        for kind in (BOOST, BONUS)
    }
    return await page(
        request,
        "incentives/list.html",
        status=extra.pop("status", 200),
        program=program,
        programs=programs,
        boosts=found[BOOST],
        bonuses=found[BONUS],
        fields=FIELDS,
        errors=extra.pop("errors", {}),
        entered=extra.pop("entered", {}),
        **extra,
    )


@bp.get("/incentives")
@console_route(*ROLES_BACKOFFICE)
async def incentive_list(request: Request) -> HTTPResponse:
    return await _incentives_page(request)


async def _create(request: Request, kind: str) -> HTTPResponse:
    program, _ = await chosen_program(request)
    document = incentive_form(request, kind, program.time_zone)
    try:
        body = validate_body(document, SCHEMAS[kind][0])
        await service.create_incentive(
            kind=kind,
            program_id=program.id,
            document=body.model_dump(exclude_unset=True),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _incentives_page(
            request,
            status=error.status_code,
            error=error,
            errors={kind: fields_beside(error)},
            entered={kind: request.form},
        )
    return done(f"/console/incentives?program_id={program.id}")


@bp.post("/boosts")
@console_route(*ROLES_STAFF)
async def create_boost(request: Request) -> HTTPResponse:
    return await _create(request, BOOST)


@bp.post("/milestone-bonuses")
@console_route(*ROLES_STAFF)
async def create_bonus(request: Request) -> HTTPResponse:
    return await _create(request, BONUS)


async def _switch(request: Request, kind: str, record_id: int) -> HTTPResponse:
    record, _ = await service.set_incentive_enabled(
        kind=kind,
        record_id=record_id,
        enabled=form_text(request, "enabled") == "1",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/incentives?program_id={record.program_id}")


@bp.post("/boosts/<boost_id:int>/switch")
@console_route(*ROLES_STAFF)
async def switch_boost(request: Request, boost_id: int) -> HTTPResponse:
    """Disable a boost (nothing new uses it) or enable it again."""
    return await _switch(request, BOOST, boost_id)


@bp.post("/milestone-bonuses/<bonus_id:int>/switch")
@console_route(*ROLES_STAFF)
async def switch_bonus(request: Request, bonus_id: int) -> HTTPResponse:
    """Disable a bonus (no new awards) or enable it again."""
    return await _switch(request, BONUS, bonus_id)
