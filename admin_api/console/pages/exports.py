"""Finance's files: CSV downloads of the lists (the API's filters and export service, streamed)
and monthly statements."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.pages.common import chosen_program, done, filters, form_text
from admin_api.console.views import page
from admin_api.exports import (
    CommissionExportFilter,
    PayoutBatchExportFilter,
    WithdrawalExportFilter,
)
from admin_api.statements import TaxProfileBody
from server.auth import ROLES_FINANCE
from server.http import validate_body
from server.services.commissions.filters import CommissionFilters
from server.services.csv_export import stream_csv
from server.services.ledger import statements as statement_service
from server.services.payouts import exports

bp = Blueprint("console_exports")


@bp.get("/exports/commissions.csv")
@console_route(*ROLES_FINANCE)
async def export_commissions(request: Request) -> None:
    query = filters(request, CommissionExportFilter)
    export = exports.export_commissions(
        CommissionFilters.of(query.model_dump()),
        programs=request.ctx.principal.programs,
        cursor=query.cursor,
        limit=query.limit,
    )
    await stream_csv(request, export)


@bp.get("/exports/withdrawals.csv")
@console_route(*ROLES_FINANCE)
async def export_withdrawals(request: Request) -> None:
    query = filters(request, WithdrawalExportFilter)
    export = exports.export_withdrawals(
        programs=request.ctx.principal.programs, **query.model_dump()
    )
    await stream_csv(request, export)


@bp.get("/exports/payout-batches.csv")
@console_route(*ROLES_FINANCE)
async def export_payout_batches(request: Request) -> None:
    query = filters(request, PayoutBatchExportFilter)
    export = exports.export_payout_batches(
        programs=request.ctx.principal.programs, **query.model_dump()
    )
    await stream_csv(request, export)


# ---------------------------------------------------------------- statements


def _month(request: Request) -> str:
    return (request.args.get("period") or "").strip()[:7]


@bp.get("/statements")
@console_route(*ROLES_FINANCE)
async def statement(request: Request) -> HTTPResponse:
    """A promoter's monthly statement (opening, flows, closing), and the program's CSV."""
    program, programs = await chosen_program(request)
    raw = (request.args.get("promoter_id") or "").strip()
    month = _month(request)
    found = None
    if raw.isdigit() and len(raw) < 19 and month:
        found = await statement_service.promoter_statement(
            promoter_id=int(raw),
            period=month,
            reader=request.ctx.principal,
            request_id=request.ctx.request_id,
        )
    return await page(
        request,
        "statements.html",
        program=program,
        programs=programs,
        statement=found,
        promoter_id=raw,
        month=month,
    )


@bp.get("/statements/<promoter_id:int>/csv")
@console_route(*ROLES_FINANCE)
async def statement_csv(request: Request, promoter_id: int) -> None:
    found = await statement_service.promoter_statement(
        promoter_id=promoter_id,
        period=_month(request),
        reader=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    await stream_csv(request, statement_service.statement_csv(found))


@bp.get("/statements.csv")
@console_route(*ROLES_FINANCE)
async def program_statements_csv(request: Request) -> None:
    program, _ = await chosen_program(request)
    export = await statement_service.program_statements_export(
        program_id=program.id,
        period=_month(request),
        reader=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    await stream_csv(request, export)


@bp.post("/statements/<promoter_id:int>/tax-profile")
@console_route(*ROLES_FINANCE)
async def tax_profile(request: Request, promoter_id: int) -> HTTPResponse:
    """Set the legal name and tax id the promoter's statements show."""
    body = validate_body(
        {
            "legal_name": form_text(request, "legal_name", max_length=128),
            "tax_id": form_text(request, "tax_id", max_length=64),
        },
        TaxProfileBody,
    )
    await statement_service.set_promoter_tax_profile(
        promoter_id=promoter_id,
        legal_name=body.legal_name,
        tax_id=body.tax_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    month = _month(request)
    return done(f"/console/statements?promoter_id={promoter_id}&period={month}")
