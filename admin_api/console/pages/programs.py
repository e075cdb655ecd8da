"""Programs: settings with inline validation errors, commission rules with the dry run, and
the store's API keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.commission_rules import RuleCreate
from admin_api.commissions import PreviewOrder
from admin_api.console.guard import console_route
from admin_api.console.pages.common import done
from admin_api.console.views import page
from admin_api.programs import ProgramCreate, ProgramPatch, SiteCreate
from server.auth import ROLES_ADMIN, ROLES_BACKOFFICE, ROLES_STAFF
from server.domain.access.scopes import SCOPES, WRITE_SCOPES
from server.domain.errors import FenxiaoError
from server.domain.programs.document import SCALAR_KEYS
from server.http import validate_body
from server.services.access import api_keys as api_key_service
from server.services.commissions import preview as commission_preview
from server.services.programs import commission_rules as rules_service
from server.services.programs import settings as program_service
from server.services.programs import sites as site_service

bp = Blueprint("console_programs")

INTEGER_FIELDS = (
    "max_levels",
    "attribution_window_days",
    "commission_window_days",
    "freeze_days",
    "level",
    "priority",
    "quantity",
    "buyer_promoter_id",
    "attributed_promoter_id",
)
TEXT_FIELDS = (
    "name",
    "currency",
    "recruitment_mode",
    "bind_mode",
    "time_zone",
    "self_rebate_rate",
    "kind",
    "value",
    "product_id",
    "category",
    "campaign",
    "amount",
    "domain",
    "market",
)
# The settings a form edits: the scalar ones but the free text, kind and fraud options.
PROGRAM_FORM = tuple(
    key
    for key in SCALAR_KEYS
    if key
    not in {
        "description",
        "kind",
        "auto_complete_days",
        "attribution_conflict_policy",
        "fraud_hold_scope",
    }
)


def form_document(request: Request, names: tuple[str, ...]) -> dict[str, Any]:
    """The named form fields as the API's JSON body would carry them; blanks are left out."""
    form = request.form or {}
    document: dict[str, Any] = {}
    for name in names:
        raw = (form.get(name) or "").strip()
        if name == "self_rebate_enabled":
            document[name] = raw == "1"
        elif not raw:
            continue
        elif name == "level_rates":
            document[name] = [part.strip() for part in raw.replace("，", ",").split(",")]
        elif name in INTEGER_FIELDS:
            # Not a number stays text: the schema then names the field, as the API would.
            document[name] = int(raw) if raw.lstrip("-").isdigit() and len(raw) < 12 else raw
        else:
            document[name] = raw
    return document


async def _program_page(request: Request, program_id: int, **extra: Any) -> HTTPResponse:
    program = await program_service.get_program(program_id=program_id)
    rules = await rules_service.list_rules(program_id=program.id, enabled=None, limit=100)
    keys = None
    if request.ctx.principal.roles & set(ROLES_ADMIN):
        keys = await api_key_service.list_api_keys(program_id=program.id, limit=100)
    sites = await site_service.list_sites(program_id=program.id, limit=100)
    status = extra.pop("status", 200)
    extra.setdefault("errors", {})
    return await page(
        request,
        "programs/detail.html",
        status=status,
        program=program,
        settings=program_service.serialize_program(program),
        rules=rules["items"],
        sites=[site_service.serialize_site(site) for site in sites],
        api_keys=api_key_service.serialize_api_key_page(keys, limit=100)["items"] if keys else [],
        api_key_scopes=SCOPES,
        api_key_default_scopes=WRITE_SCOPES,
        **extra,
    )


def _refused(error: FenxiaoError, form: str) -> dict[str, Any]:
    """What a page shows beside the fields of the form that was refused (`level_rates.1` is
    shown beside `level_rates`)."""
    beside: dict[str, Any] = {}
    for key, problem in (error.fields or {}).items():
        field, _, rest = str(key).partition(".")
        beside.setdefault(field, f"{rest}: {problem}" if rest else problem)
    return {"status": error.status_code, "error": error, "errors": {form: beside}}


@bp.get("/programs")
@console_route(*ROLES_BACKOFFICE)
async def program_list(request: Request) -> HTTPResponse:
    programs = await program_service.list_programs(
        programs=request.ctx.principal.programs, limit=100
    )
    items = [program_service.serialize_program(p) for p in programs]
    return await page(request, "programs/list.html", items=items, errors={}, entered={})


@bp.post("/programs")
@console_route(*ROLES_ADMIN)
async def create_program(request: Request) -> HTTPResponse:
    document = form_document(request, PROGRAM_FORM)
    try:
        validate_body(document, ProgramCreate)
        program = await program_service.create_program(
            document=document, actor=request.ctx.principal, request_id=request.ctx.request_id
        )
    except FenxiaoError as error:
        programs = await program_service.list_programs(
            programs=request.ctx.principal.programs, limit=100
        )
        items = [program_service.serialize_program(p) for p in programs]
        refused = _refused(error, "program")
        return await page(
            request,
            "programs/list.html",
            status=refused["status"],
            items=items,
            error=error,
            errors=refused["errors"]["program"],
            entered=request.form,
        )
    return done(f"/console/programs/{program.id}")


@bp.get("/programs/<program_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def program_detail(request: Request, program_id: int) -> HTTPResponse:
    return await _program_page(request, program_id)


async def _save(
    request: Request,
    program_id: int,
    *,
    form: str,
    names: tuple[str, ...],
    schema: type[BaseModel],
    write: Callable[[dict[str, Any]], Awaitable[object]],
) -> HTTPResponse:
    """Check a form with the API's schema, write it, and show a refusal beside its fields."""
    document = form_document(request, names)
    try:
        validate_body(document, schema)
        await write(document)
    except FenxiaoError as error:
        return await _program_page(request, program_id, **_refused(error, form))
    return done(f"/console/programs/{program_id}")


@bp.post("/programs/<program_id:int>")
@console_route(*ROLES_ADMIN)
async def update_program(request: Request, program_id: int) -> HTTPResponse:
    return await _save(
        request,
        program_id,
        form="settings",
        names=tuple(name for name in PROGRAM_FORM if name != "currency"),
        schema=ProgramPatch,
        write=lambda changes: program_service.update_program(
            program_id=program_id,
            changes=changes,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
    )


@bp.post("/programs/<program_id:int>/withdrawal-rules")
@console_route(*ROLES_ADMIN)
async def update_withdrawal_rules(request: Request, program_id: int) -> HTTPResponse:
    """The tax withheld from withdrawals and whether they wait for the tax profile."""
    form = request.form or {}
    rules: dict[str, Any] = {"require_tax_profile": form.get("require_tax_profile") == "1"}
    if withheld := (form.get("tax_withholding_percent") or "").strip():
        rules["tax_withholding_percent"] = withheld
    changes = {"withdrawal_rules": rules}
    try:
        validate_body(changes, ProgramPatch)
        await program_service.update_program(
            program_id=program_id,
            changes=changes,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        beside = {
            str(key).removeprefix("withdrawal_rules."): problem
            for key, problem in (error.fields or {}).items()
        }
        return await _program_page(
            request,
            program_id,
            status=error.status_code,
            error=error,
            errors={"withdrawals": beside},
        )
    return done(f"/console/programs/{program_id}")


@bp.post("/programs/<program_id:int>/rules")
@console_route(*ROLES_STAFF)
async def create_rule(request: Request, program_id: int) -> HTTPResponse:
    return await _save(
        request,
        program_id,
        form="rule",
        names=("name", "kind", "value", "level", "product_id", "category", "priority"),
        schema=RuleCreate,
        write=lambda document: rules_service.create_rule(
            program_id=program_id,
            document=document,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
    )


@bp.post("/programs/<program_id:int>/preview")
@console_route(*ROLES_BACKOFFICE)
async def dry_run(request: Request, program_id: int) -> HTTPResponse:
    """What one order line would earn now, explained; nothing is written."""
    fields = form_document(
        request, ("product_id", "category", "quantity", "amount", "buyer_promoter_id")
    )
    line = {
        "product_id": fields.get("product_id", ""),
        "quantity": fields.get("quantity", 1),
        "unit_price": fields.get("amount", ""),
        "amount": fields.get("amount", ""),
        **({"category": fields["category"]} if "category" in fields else {}),
    }
    document: dict[str, Any] = {"lines": [line]}
    if "buyer_promoter_id" in fields:
        document["buyer_promoter_id"] = fields["buyer_promoter_id"]
    try:
        order = validate_body(document, PreviewOrder)
        report = await commission_preview.preview_order(
            program_id=program_id, document=order.model_dump()
        )
    except FenxiaoError as error:
        return await _program_page(request, program_id, **_refused(error, "preview"))
    return await _program_page(request, program_id, preview=report, preview_input=fields)


@bp.post("/programs/<program_id:int>/api-keys")
@console_route(*ROLES_ADMIN)
async def create_api_key(request: Request, program_id: int) -> HTTPResponse:
    """A new key for the store; its secret is shown on this answer only."""
    try:
        issued = await api_key_service.create_api_key(
            program_id=program_id,
            name=((request.form or {}).get("name") or "").strip(),
            # None checked: the default write scopes, as the API gives a key created without any.
            scopes=(request.form.getlist("scopes", []) if request.form else []) or None,
            actor=request.ctx.principal,
            settings=request.app.ctx.settings,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _program_page(request, program_id, **_refused(error, "api_key"))
    return await _program_page(
        request, program_id, issued=api_key_service.serialize_issued_api_key(issued)
    )


@bp.post("/programs/<program_id:int>/archive")
@console_route(*ROLES_ADMIN)
async def archive_program(request: Request, program_id: int) -> HTTPResponse:
    """Archive the program: it takes no new applications (audited)."""
    await program_service.archive_program(
        program_id=program_id, actor=request.ctx.principal, request_id=request.ctx.request_id
    )
    return done(f"/console/programs/{program_id}")


@bp.post("/programs/<program_id:int>/api-keys/<key_id:str>/rotate")
@console_route(*ROLES_ADMIN)
async def rotate_api_key(request: Request, program_id: int, key_id: str) -> HTTPResponse:
    """A replacement key, its secret shown on this answer only; the old one works until
    revoked, so the store can switch without a gap."""
    issued = await api_key_service.rotate_api_key(
        program_id=program_id,
        key_id=key_id,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return await _program_page(
        request, program_id, issued=api_key_service.serialize_issued_api_key(issued)
    )


@bp.post("/programs/<program_id:int>/api-keys/<key_id:str>/revoke")
@console_route(*ROLES_ADMIN)
async def revoke_api_key(request: Request, program_id: int, key_id: str) -> HTTPResponse:
    """Revoke a key at once (again: no change)."""
    await api_key_service.revoke_api_key(
        program_id=program_id,
        key_id=key_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/programs/{program_id}")


@bp.post("/programs/<program_id:int>/sites")
@console_route(*ROLES_STAFF)
async def create_site(request: Request, program_id: int) -> HTTPResponse:
    return await _save(
        request,
        program_id,
        form="site",
        names=("domain", "name", "market"),
        schema=SiteCreate,
        write=lambda document: site_service.create_site(
            program_id=program_id,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
            **document,
        ),
    )
