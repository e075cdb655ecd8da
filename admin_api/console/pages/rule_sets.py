"""Rule-set versions: the list, a draft's rules, caps, tiers, boosts and milestone bonuses
with inline validation errors, the simulation form with its tables (commissions and bonus
awards), publish and discard (docs/rule-sets.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.pages.common import done
from admin_api.console.pages.incentives import FIELDS as INCENTIVE_FIELDS
from admin_api.console.pages.incentives import TIMES, incentive_form
from admin_api.console.pages.programs import form_document
from admin_api.console.pages.tiers import FIELDS as TIER_FIELDS
from admin_api.console.pages.tiers import tier_form
from admin_api.console.views import page
from admin_api.incentives import BONUS, BOOST
from admin_api.rule_sets import SimulationBody, draft_changes
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.domain.errors import FenxiaoError
from server.http import validate_body
from server.services.commissions import simulation as simulation_service
from server.services.programs import rule_sets as rule_sets_service
from server.services.programs import settings as program_service

bp = Blueprint("console_rule_sets")

RULE_FIELDS = ("name", "kind", "value", "level", "product_id", "category", "priority")
CAP_FIELDS = ("period", "amount", "tier")


@bp.get("/programs/<program_id:int>/rule-sets")
@console_route(*ROLES_BACKOFFICE)
async def version_list(request: Request, program_id: int) -> HTTPResponse:
    program = await program_service.get_program(program_id=program_id)
    listed = await rule_sets_service.list_versions(program_id=program_id)
    return await page(
        request, "rule_sets/list.html", program=program, items=listed["items"], live=listed["live"]
    )


@bp.post("/programs/<program_id:int>/rule-sets")
@console_route(*ROLES_STAFF)
async def new_draft(request: Request, program_id: int) -> HTTPResponse:
    version, _live = await rule_sets_service.create_draft(
        program_id=program_id,
        note=((request.form or {}).get("note") or "").strip()[:255],
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/rule-sets/{version.id}")


async def _version_page(request: Request, version_id: int, **extra: Any) -> HTTPResponse:
    version, live = await rule_sets_service.get_version(version_id=version_id)
    changes = await rule_sets_service.version_changes(version_id=version_id)
    status = extra.pop("status", 200)
    extra.setdefault("errors", {})
    return await page(
        request,
        "rule_sets/detail.html",
        status=status,
        program=version.program,
        version=rule_sets_service.serialize_version(version, live=live),
        timed={kind: _with_instants(version.document.get(kind, [])) for kind in (BOOST, BONUS)},
        tier_fields=TIER_FIELDS,
        incentive_fields=INCENTIVE_FIELDS,
        changes=changes,
        **extra,
    )


def _with_instants(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A draft's boosts or bonuses with their ISO times as instants (shown in the zone)."""
    return [
        {**row, **{name: datetime.fromisoformat(row[name]) for name in TIMES if row.get(name)}}
        for row in rows
    ]


@bp.get("/rule-sets/<version_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def version_detail(request: Request, version_id: int) -> HTTPResponse:
    return await _version_page(request, version_id)


def _refused(error: FenxiaoError, form: str) -> dict[str, Any]:
    beside = {str(key).partition(".")[0]: problem for key, problem in (error.fields or {}).items()}
    return {"status": error.status_code, "error": error, "errors": {form: beside}}


async def _edit(
    request: Request,
    version_id: int,
    *,
    kind: str,
    read: Callable[[Request, int | None, str], dict[str, Any]],
) -> HTTPResponse:
    """One record of the draft from a form: `key` names it (none adds one); `read` turns the
    form into the API's changes (given the key and the program's time zone); refused beside
    its fields, as the API refuses it."""
    form = request.form or {}
    raw_key = (form.get("key") or "").strip()
    key = int(raw_key) if raw_key.lstrip("-").isdigit() and len(raw_key) < 20 else None
    version, _live = await rule_sets_service.get_version(version_id=version_id)
    changes = read(request, key, version.program.time_zone)
    if "enabled" in form:
        changes["enabled"] = form.get("enabled") == "1"
    form_name = f"{kind}:{key}" if key is not None else kind
    try:
        await rule_sets_service.edit_draft(
            version_id=version_id,
            kind=kind,
            key=key,
            changes=draft_changes(kind, key, changes),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _version_page(request, version_id, **_refused(error, form_name))
    return done(f"/console/rule-sets/{version_id}")


@bp.post("/rule-sets/<version_id:int>/rules")
@console_route(*ROLES_STAFF)
async def edit_rule(request: Request, version_id: int) -> HTTPResponse:
    return await _edit(
        request,
        version_id,
        kind="commission_rule",
        read=lambda form, _key, _zone: form_document(form, RULE_FIELDS),
    )


@bp.post("/rule-sets/<version_id:int>/caps")
@console_route(*ROLES_STAFF)
async def edit_cap(request: Request, version_id: int) -> HTTPResponse:
    return await _edit(
        request,
        version_id,
        kind="period_cap",
        read=lambda form, _key, _zone: form_document(form, CAP_FIELDS),
    )


@bp.post("/rule-sets/<version_id:int>/tiers")
@console_route(*ROLES_STAFF)
async def edit_tier(request: Request, version_id: int) -> HTTPResponse:
    """Add a tier to the draft or change one: on a change every field is sent, a blank
    condition or benefit clears it (as on the tier's own page)."""
    return await _edit(
        request,
        version_id,
        kind="tier",
        read=lambda form, key, _zone: tier_form(form, creating=key is None),
    )


@bp.post("/rule-sets/<version_id:int>/boosts")
@console_route(*ROLES_STAFF)
async def edit_boost(request: Request, version_id: int) -> HTTPResponse:
    """Add a boost to the draft (times in the program's zone) or change one."""
    return await _edit(
        request,
        version_id,
        kind=BOOST,
        read=lambda form, _key, zone: incentive_form(form, BOOST, zone),
    )


@bp.post("/rule-sets/<version_id:int>/bonuses")
@console_route(*ROLES_STAFF)
async def edit_bonus(request: Request, version_id: int) -> HTTPResponse:
    """Add a milestone bonus to the draft (times in the program's zone) or change one."""
    return await _edit(
        request,
        version_id,
        kind=BONUS,
        read=lambda form, _key, zone: incentive_form(form, BONUS, zone),
    )


@bp.post("/rule-sets/<version_id:int>/simulate")
@console_route(*ROLES_BACKOFFICE)
async def simulate(request: Request, version_id: int) -> HTTPResponse:
    """What the version would have paid on a past range: nothing is written."""
    entered = {name: ((request.form or {}).get(name) or "").strip() for name in ("start", "end")}
    try:
        body = validate_body({k: v for k, v in entered.items() if v}, SimulationBody)
        result = await simulation_service.simulate_version(
            version_id=version_id, start=body.start, end=body.end, top=body.top
        )
    except FenxiaoError as error:
        return await _version_page(
            request, version_id, simulation_input=entered, **_refused(error, "simulation")
        )
    return await _version_page(request, version_id, simulation=result, simulation_input=entered)


@bp.post("/rule-sets/<version_id:int>/publish")
@console_route(*ROLES_STAFF)
async def publish(request: Request, version_id: int) -> HTTPResponse:
    try:
        await rule_sets_service.publish_draft(
            version_id=version_id, actor=request.ctx.principal, request_id=request.ctx.request_id
        )
    except FenxiaoError as error:
        return await _version_page(request, version_id, **_refused(error, "publish"))
    return done(f"/console/rule-sets/{version_id}", notice="published")


@bp.post("/rule-sets/<version_id:int>/discard")
@console_route(*ROLES_STAFF)
async def discard(request: Request, version_id: int) -> HTTPResponse:
    try:
        await rule_sets_service.discard_draft(
            version_id=version_id, actor=request.ctx.principal, request_id=request.ctx.request_id
        )
    except FenxiaoError as error:
        return await _version_page(request, version_id, **_refused(error, "publish"))
    return done(f"/console/rule-sets/{version_id}")
