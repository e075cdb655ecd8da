"""Rule-set versions: the list, a draft's rules and caps with inline validation errors, the
simulation form with its tables, publish and discard (docs/rule-sets.md)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.pages.common import done
from admin_api.console.pages.programs import form_document
from admin_api.console.views import page
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
        changes=changes,
        **extra,
    )


@bp.get("/rule-sets/<version_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def version_detail(request: Request, version_id: int) -> HTTPResponse:
    return await _version_page(request, version_id)


def _refused(error: FenxiaoError, form: str) -> dict[str, Any]:
    beside = {str(key).partition(".")[0]: problem for key, problem in (error.fields or {}).items()}
    return {"status": error.status_code, "error": error, "errors": {form: beside}}


async def _edit(
    request: Request, version_id: int, *, kind: str, names: tuple[str, ...]
) -> HTTPResponse:
    """One record of the draft from a form: `key` names it (none adds one); refused beside
    its fields, as the API refuses it."""
    form = request.form or {}
    raw_key = (form.get("key") or "").strip()
    key = int(raw_key) if raw_key.lstrip("-").isdigit() and len(raw_key) < 20 else None
    changes = form_document(request, names)
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
    return await _edit(request, version_id, kind="commission_rule", names=RULE_FIELDS)


@bp.post("/rule-sets/<version_id:int>/caps")
@console_route(*ROLES_STAFF)
async def edit_cap(request: Request, version_id: int) -> HTTPResponse:
    return await _edit(request, version_id, kind="period_cap", names=CAP_FIELDS)


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
