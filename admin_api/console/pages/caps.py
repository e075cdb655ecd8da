"""Period caps: what one promoter may earn per day or month in a program (all promoters, one
promoter or one tier); staff add them and disable or enable them, as the admin API does."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.commission_rules import CapCreate, CapPatch
from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import chosen_program, done, fields_beside, form_text
from admin_api.console.views import page
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.domain.errors import FenxiaoError
from server.http import MAX_PAGE_SIZE, validate_body
from server.services.programs import period_caps as caps_service
from server.services.programs import settings as program_service

bp = Blueprint("console_caps")
PERIODS = ("day", "month")
PERIOD_LABELS = {"day": N_("Per day"), "month": N_("Per month")}


async def _caps_page(request: Request, **extra: Any) -> HTTPResponse:
    program, programs = await chosen_program(request)
    caps = await caps_service.list_caps(
        program_id=program.id, enabled=None, cursor=None, limit=MAX_PAGE_SIZE
    )
    return await page(
        request,
        "caps/list.html",
        status=extra.pop("status", 200),
        program=program,
        programs=programs,
        caps=caps["items"],
        periods=PERIODS,
        periods_labels=PERIOD_LABELS,
        errors=extra.pop("errors", {}),
        entered=extra.pop("entered", {}),
        **extra,
    )


@bp.get("/caps")
@console_route(*ROLES_BACKOFFICE)
async def cap_list(request: Request) -> HTTPResponse:
    return await _caps_page(request)


def cap_form(request: Request, *, creating: bool) -> dict[str, Any]:
    """The form as the API's JSON body; on a change a blank promoter or tier clears it."""
    raw_promoter = form_text(request, "promoter_id") or ""
    document: dict[str, Any] = {
        "period": form_text(request, "period") or "",
        "amount": form_text(request, "amount") or "",
    }
    if raw_promoter:  # not a number stays text: the schema then names the field
        fits = raw_promoter.isdigit() and len(raw_promoter) < 19
        document["promoter_id"] = int(raw_promoter) if fits else raw_promoter
    elif not creating:
        document["promoter_id"] = None
    if tier := form_text(request, "tier", max_length=32):
        document["tier"] = tier
    elif not creating:
        document["tier"] = None
    return document


@bp.post("/caps")
@console_route(*ROLES_STAFF)
async def create_cap(request: Request) -> HTTPResponse:
    program, _ = await chosen_program(request)
    document = cap_form(request, creating=True)
    try:
        body = validate_body(document, CapCreate)
        await caps_service.create_cap(
            program_id=program.id,
            document=body.model_dump(exclude_unset=True),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _caps_page(
            request,
            status=error.status_code,
            error=error,
            errors=fields_beside(error),
            entered=request.form,
        )
    return done(f"/console/caps?program_id={program.id}")


@bp.post("/caps/<cap_id:int>/switch")
@console_route(*ROLES_STAFF)
async def switch_cap(request: Request, cap_id: int) -> HTTPResponse:
    """Disable a cap for new orders, or enable it again."""
    record, _ = await caps_service.set_cap_enabled(
        cap_id=cap_id,
        enabled=form_text(request, "enabled") == "1",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/caps?program_id={record.program_id}")


async def _cap_page(request: Request, cap_id: int, **extra: Any) -> HTTPResponse:
    record, currency = await caps_service.get_cap(cap_id=cap_id)
    cap = caps_service.serialize_cap(record, currency=currency)
    return await page(
        request,
        "caps/edit.html",
        status=extra.pop("status", 200),
        program=await program_service.get_program(program_id=cap["program_id"]),
        cap=cap,
        values={**cap, **extra.pop("entered", {})},
        periods=PERIODS,
        periods_labels=PERIOD_LABELS,
        errors=extra.pop("errors", {}),
        **extra,
    )


@bp.get("/caps/<cap_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def cap_detail(request: Request, cap_id: int) -> HTTPResponse:
    return await _cap_page(request, cap_id)


@bp.post("/caps/<cap_id:int>")
@console_route(*ROLES_STAFF)
async def update_cap(request: Request, cap_id: int) -> HTTPResponse:
    """Change a cap: the edit goes live as a new rule-set version (docs/rule-sets.md)."""
    try:
        body = validate_body(cap_form(request, creating=False), CapPatch)
        await caps_service.update_cap(
            cap_id=cap_id,
            changes=body.model_dump(exclude_unset=True),
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _cap_page(
            request, cap_id, status=error.status_code, error=error,
            errors=fields_beside(error), entered={k: request.form.get(k) for k in request.form},
        )  # fmt: skip
    return done(f"/console/caps/{cap_id}")
