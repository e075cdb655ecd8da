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
from server.domain.instants import utc
from server.domain.periods import zone
from server.http import MAX_PAGE_SIZE, validate_body
from server.services.programs import settings as program_service
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
# Fields a change clears when left blank (every tier, no cap on the rate or the awards).
CLEARABLE = ("tier", "max_rate", "max_awards")
PATHS = {BOOST: "/console/boosts", BONUS: "/console/milestone-bonuses"}


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


def incentive_form(
    request: Request, kind: str, time_zone: str, *, creating: bool = True
) -> dict[str, Any]:
    """The form as the API's JSON body; on a change a blank tier or cap clears it."""
    document: dict[str, Any] = {}
    for name in FIELDS[kind]:
        raw = form_text(request, name) or ""
        if not raw:
            if not creating and name in CLEARABLE:
                document[name] = None
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


def local_input(value: Any, time_zone: str) -> str:
    """An instant as a `datetime-local` value in the program's zone."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return utc(moment).astimezone(zone(time_zone)).strftime("%Y-%m-%dT%H:%M")


async def _edit_page(request: Request, kind: str, record_id: int, **extra: Any) -> HTTPResponse:
    record, currency = await service.get_incentive(kind=kind, record_id=record_id)
    item = service.serialize_incentive(kind, record, currency=currency)
    program = await program_service.get_program(program_id=item["program_id"])
    values = {
        name: local_input(item.get(name), program.time_zone) if name in TIMES else item.get(name)
        for name in FIELDS[kind]
    }
    return await page(
        request,
        "incentives/edit.html",
        status=extra.pop("status", 200),
        program=program,
        kind=kind,
        item=_with_instants(item),
        values={**values, **extra.pop("entered", {})},
        fields=FIELDS[kind],
        record_path=f"{PATHS[kind]}/{record_id}",
        errors=extra.pop("errors", {}),
        **extra,
    )


async def _update(request: Request, kind: str, record_id: int) -> HTTPResponse:
    record, _ = await service.get_incentive(kind=kind, record_id=record_id)
    program = await program_service.get_program(program_id=record.program_id)
    document = incentive_form(request, kind, program.time_zone, creating=False)
    try:
        body = validate_body(document, SCHEMAS[kind][1])
        await service.update_incentive(
            kind=kind,
            record_id=record_id,
            changes=body.model_dump(exclude_unset=True),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _edit_page(
            request, kind, record_id, status=error.status_code, error=error,
            errors=fields_beside(error), entered={k: request.form.get(k) for k in request.form},
        )  # fmt: skip
    return done(f"{PATHS[kind]}/{record_id}")


@bp.get("/boosts/<boost_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def boost_detail(request: Request, boost_id: int) -> HTTPResponse:
    return await _edit_page(request, BOOST, boost_id)


@bp.post("/boosts/<boost_id:int>")
@console_route(*ROLES_STAFF)
async def update_boost(request: Request, boost_id: int) -> HTTPResponse:
    """Change a boost: the edit goes live as a new rule-set version (docs/rule-sets.md)."""
    return await _update(request, BOOST, boost_id)


@bp.get("/milestone-bonuses/<bonus_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def bonus_detail(request: Request, bonus_id: int) -> HTTPResponse:
    return await _edit_page(request, BONUS, bonus_id)


@bp.post("/milestone-bonuses/<bonus_id:int>")
@console_route(*ROLES_STAFF)
async def update_bonus(request: Request, bonus_id: int) -> HTTPResponse:
    """Change a milestone bonus: the edit goes live as a new rule-set version."""
    return await _update(request, BONUS, bonus_id)
