"""Internal programs: sub-accounts (list, create, disable), their links and codes with UTM,
spend (one entry or a CSV file, all rows or none) and ROI per sub-account, channel and
campaign, through the services the admin API's internal-program routes use."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import (
    chosen_program,
    done,
    fields_beside,
    filters,
    form_text,
    uploaded_file,
)
from admin_api.console.pages.reports import PRESETS
from admin_api.console.views import page
from admin_api.internal_programs import (
    SpendCreate,
    SubAccountCode,
    SubAccountCreate,
    SubAccountLink,
    spend_entry,
)
from admin_api.reports import RangeQuery
from admin_api.tiers import HistoryQuery
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.domain.errors import BadRequest, Conflict, FenxiaoError
from server.http import validate_body
from server.idempotent import create_once
from server.services.programs import settings as program_service
from server.services.promoters import sub_accounts
from server.services.reports import queries, roi, spend

bp = Blueprint("console_internal")

LINK_FIELDS = {
    "site_id": N_("Site ID"),
    "channel_id": N_("Channel ID"),
    "code_id": N_("Code ID"),
    "utm_source": N_("UTM source"),
    "utm_medium": N_("UTM medium"),
    "utm_campaign": N_("UTM campaign"),
}
SPEND_FIELDS = {
    "day": N_("Day"),
    "amount": N_("Amount"),
    "sub_account_id": N_("Sub-account ID"),
    "channel_id": N_("Channel ID"),
    "utm_campaign": N_("UTM campaign"),
    "note": N_("Note"),
}
IDS = ("site_id", "channel_id", "code_id", "sub_account_id")
ROI_HEADINGS = {
    "promoter": N_("By sub-account"),
    "channel": N_("By channel"),
    "utm_campaign": N_("By campaign"),
}


def form_key() -> str:
    """A fresh idempotency key for a creating form: a double submit creates once."""
    return f"console-{secrets.token_hex(12)}"


def _document(request: Request, names: Any) -> dict[str, Any]:
    """The typed form fields as the API's JSON body (ids as numbers when they are)."""
    document: dict[str, Any] = {}
    for name in names:
        raw = form_text(request, name) or ""
        if raw:
            document[name] = int(raw) if name in IDS and raw.isdigit() and len(raw) < 19 else raw
    return document


def _with_instant(item: dict[str, Any]) -> dict[str, Any]:
    """The API's ISO creation time as an instant, shown in the program's zone."""
    created = item.get("created_at")
    return {**item, "created_at": datetime.fromisoformat(created) if created else None}


async def _sub_accounts_page(request: Request, **extra: Any) -> HTTPResponse:
    program, programs = await chosen_program(request)
    try:
        found = await sub_accounts.list_sub_accounts(program_id=program.id)
    except Conflict as error:  # not an internal program: say so, keep the program picker
        return await page(
            request, "internal/sub_accounts.html", program=program, programs=programs,
            not_internal=error, items=[], form_key="",
        )  # fmt: skip
    return await page(
        request,
        "internal/sub_accounts.html",
        status=extra.pop("status", 200),
        program=program,
        programs=programs,
        items=[_with_instant(sub_accounts.serialize_sub_account(p)) for p in found],
        form_key=form_key(),
        errors=extra.pop("errors", {}),
        **extra,
    )


@bp.get("/sub-accounts")
@console_route(*ROLES_BACKOFFICE)
async def sub_account_list(request: Request) -> HTTPResponse:
    return await _sub_accounts_page(request)


@bp.post("/sub-accounts")
@console_route(*ROLES_STAFF)
async def create_sub_account(request: Request) -> HTTPResponse:
    program, _ = await chosen_program(request)
    try:
        body = validate_body({"name": form_text(request, "name", max_length=64) or ""},
                             SubAccountCreate)  # fmt: skip
        created, _ = await create_once(
            request,
            lambda: sub_accounts.create_sub_account(
                program_id=program.id,
                name=body.name,
                actor=request.ctx.principal,
                request_id=request.ctx.request_id,
            ),
            replay=lambda sub_id: sub_accounts.get_sub_account(
                program_id=program.id, sub_account_id=sub_id
            ),
            body=body,
            body_key=form_text(request, "idempotency_key", max_length=64),
        )
    except FenxiaoError as error:
        return await _sub_accounts_page(
            request, status=error.status_code, error=error, errors=fields_beside(error)
        )
    return done(f"/console/sub-accounts/{created.id}")


async def _sub_account_page(request: Request, sub_account_id: int, **extra: Any) -> HTTPResponse:
    tools = await sub_accounts.sub_account_tools(
        sub_account_id=sub_account_id, settings=request.app.ctx.settings
    )
    program = await program_service.get_program(program_id=tools["sub_account"]["program_id"])
    return await page(
        request,
        "internal/sub_account.html",
        status=extra.pop("status", 200),
        program=program,
        tools=tools,
        link_fields=LINK_FIELDS,
        form_key=form_key(),
        errors=extra.pop("errors", {}),
        **extra,
    )


@bp.get("/sub-accounts/<sub_account_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def sub_account_detail(request: Request, sub_account_id: int) -> HTTPResponse:
    return await _sub_account_page(request, sub_account_id)


@bp.post("/sub-accounts/<sub_account_id:int>/links")
@console_route(*ROLES_STAFF)
async def create_link(request: Request, sub_account_id: int) -> HTTPResponse:
    """A share link for a site, channel, code and UTM (the identical one if it exists)."""
    try:
        body = validate_body(_document(request, LINK_FIELDS), SubAccountLink)
        await sub_accounts.create_sub_account_link(
            program_id=None, sub_account_id=sub_account_id, **body.model_dump()
        )
    except FenxiaoError as error:
        return await _sub_account_page(
            request, sub_account_id, status=error.status_code, error=error,
            errors={"link": fields_beside(error)},
        )  # fmt: skip
    return done(f"/console/sub-accounts/{sub_account_id}")


@bp.post("/sub-accounts/<sub_account_id:int>/codes")
@console_route(*ROLES_STAFF)
async def create_code(request: Request, sub_account_id: int) -> HTTPResponse:
    try:
        body = validate_body(
            {"kind": form_text(request, "kind") or "referral", **_document(request, ("code",))},
            SubAccountCode,
        )
        await sub_accounts.create_sub_account_code(
            program_id=None, sub_account_id=sub_account_id, kind=body.kind, code=body.code
        )
    except FenxiaoError as error:
        return await _sub_account_page(
            request, sub_account_id, status=error.status_code, error=error,
            errors={"code": fields_beside(error)},
        )  # fmt: skip
    return done(f"/console/sub-accounts/{sub_account_id}")


@bp.post("/sub-accounts/<sub_account_id:int>/disable")
@console_route(*ROLES_STAFF)
async def disable_sub_account(request: Request, sub_account_id: int) -> HTTPResponse:
    """Disable a sub-account with a reason: its links and codes credit nobody from then on."""
    await sub_accounts.disable_sub_account(
        sub_account_id=sub_account_id,
        reason=form_text(request, "reason"),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/sub-accounts/{sub_account_id}")


# ---------------------------------------------------------------- spend


async def _spend_page(request: Request, **extra: Any) -> HTTPResponse:
    program, programs = await chosen_program(request)
    query = filters(request, HistoryQuery)
    result = await spend.list_spend(program_id=program.id, cursor=query.cursor, limit=query.limit)
    more = bool(query.cursor and request.headers.get("hx-request"))
    return await page(
        request,
        "internal/_spend_rows.html" if more else "internal/spend.html",
        status=extra.pop("status", 200),
        program=program,
        programs=programs,
        query=query,
        result=result,
        spend_fields=SPEND_FIELDS,
        form_key=form_key(),
        errors=extra.pop("errors", {}),
        entered=extra.pop("entered", {}),
        **extra,
    )


@bp.get("/spend")
@console_route(*ROLES_BACKOFFICE)
async def spend_list(request: Request) -> HTTPResponse:
    return await _spend_page(request)


@bp.post("/spend")
@console_route(*ROLES_BACKOFFICE)
async def record_spend(request: Request) -> HTTPResponse:
    """One day's spend on a sub-account, channel or campaign (a double submit records once)."""
    program, _ = await chosen_program(request)
    try:
        body = validate_body(_document(request, SPEND_FIELDS), SpendCreate)
        entry = spend_entry(body)
        await create_once(
            request,
            lambda: spend.record_spend(
                program_id=program.id,
                entries=[entry],
                actor=request.ctx.principal,
                request_id=request.ctx.request_id,
            ),
            replay=lambda spend_id: spend.replay_spend(program_id=program.id, spend_id=spend_id),
            body=body,
            body_key=form_text(request, "idempotency_key", max_length=64),
            id_of=lambda records: records[0].id,
        )
    except FenxiaoError as error:
        return await _spend_page(
            request, status=error.status_code, error=error, errors=fields_beside(error),
            entered=request.form,
        )  # fmt: skip
    return done(f"/console/spend?program_id={program.id}")


@bp.post("/spend/import")
@console_route(*ROLES_BACKOFFICE)
async def import_spend(request: Request) -> HTTPResponse:
    """A CSV file of spend, all rows or none; a refusal names every bad row and column."""
    program, _ = await chosen_program(request)
    try:
        upload = uploaded_file(request)
        try:
            text = upload.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest("the file is not UTF-8 text", code="invalid_spend_csv") from None
        records = await spend.import_spend_csv(
            program_id=program.id,
            text=text,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _spend_page(request, status=error.status_code, error=error, upload=True)
    return done(f"/console/spend?program_id={program.id}&imported={len(records)}")


# ---------------------------------------------------------------- ROI


@bp.get("/roi")
@console_route(*ROLES_BACKOFFICE)
async def roi_page(request: Request) -> HTTPResponse:
    """Net sales, commissions, spend and ROI of a range, per sub-account, channel, campaign."""
    query = filters(request, RangeQuery)
    program, programs = await chosen_program(request)
    window = await queries.report_window(
        program_id=program.id, preset=query.preset, first=query.first, last=query.last
    )
    return await page(
        request,
        "internal/roi.html",
        program=program,
        programs=programs,
        query=query,
        report=await roi.roi_report(window=window),
        presets=PRESETS,
        headings=ROI_HEADINGS,
    )
