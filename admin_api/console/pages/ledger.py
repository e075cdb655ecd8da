"""Adjustments (finance): the list, one credit or debit, and a CSV upload with per-row errors."""

from __future__ import annotations

import secrets

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.adjustments import AdjustmentBody, AdjustmentFilter
from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import chosen_program, done, list_page, uploaded_file
from admin_api.console.views import page
from server.auth import ROLES_BACKOFFICE, ROLES_FINANCE
from server.domain.errors import FenxiaoError
from server.domain.ledger.adjustments import ReasonCode
from server.http import validate_body
from server.services.ledger import adjustments as adjustment_service

bp = Blueprint("console_ledger")


async def _adjustments(request: Request, *, status: int = 200, **extra: object) -> HTTPResponse:
    """The list page, with a fresh idempotency key for its form (a double submit pays once)."""
    response = await list_page(
        request,
        AdjustmentFilter,
        lambda query, program_id: adjustment_service.list_adjustments(
            program_id=program_id, **query.model_dump()
        ),
        heading=N_("Adjustments"),
        template="adjustments/list.html",
        rows="adjustments/_rows.html",
        context={
            "reason_codes": [code.value for code in ReasonCode],
            "form_key": f"console-{secrets.token_hex(12)}",
            **extra,
        },
    )
    response.status = status
    return response


@bp.get("/adjustments")
@console_route(*ROLES_BACKOFFICE)
async def adjustment_list(request: Request) -> HTTPResponse:
    return await _adjustments(request)


@bp.post("/adjustments")
@console_route(*ROLES_FINANCE)
async def create_adjustment(request: Request) -> HTTPResponse:
    program, _ = await chosen_program(request)
    form = request.form or {}
    raw_promoter = (form.get("promoter_id") or "").strip()
    try:
        body = validate_body(
            {
                "promoter_id": int(raw_promoter) if raw_promoter.isdigit() else raw_promoter,
                "amount": (form.get("amount") or "").strip(),
                "currency": program.currency,
                "reason_code": form.get("reason_code") or "",
                "memo": (form.get("memo") or "").strip() or None,
                "idempotency_key": form.get("idempotency_key") or None,
            },
            AdjustmentBody,
        )
        await adjustment_service.create_adjustment(
            program_id=program.id,
            promoter_id=body.promoter_id,
            amount=body.amount,
            currency=body.currency,
            reason_code=body.reason_code,
            memo=body.memo,
            idempotency_key=body.idempotency_key or f"console-{secrets.token_hex(12)}",
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _adjustments(request, status=error.status_code, error=error)
    return done(f"/console/adjustments?program_id={program.id}")


@bp.post("/adjustments/upload")
@console_route(*ROLES_FINANCE)
async def upload_adjustments(request: Request) -> HTTPResponse:
    """Apply a CSV of adjustments, all or none; a refusal lists every row's problem."""
    program, _ = await chosen_program(request)
    try:
        upload = uploaded_file(request)
        batch = await adjustment_service.upload_adjustments(
            program_id=program.id,
            filename=upload.name or "adjustments.csv",
            content=upload.body,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    except FenxiaoError as error:
        return await _adjustments(request, status=error.status_code, error=error, upload=True)
    return await page(request, "adjustments/applied.html", program=program, batch=batch)
