"""Exports as streamed CSV: commissions, withdrawals and payout batches.

Whoever may read a list may export it, with its filters and within their programs; bank
account numbers are masked in every file.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sanic import Blueprint, Request
from sanic_ext import openapi

from admin_api.commissions import CommissionFilter
from admin_api.payouts import BatchListQuery
from admin_api.withdrawals import WithdrawalListQuery
from server.auth import ROLES_BACKOFFICE, requires
from server.http import parse_query
from server.services.commissions.filters import CommissionFilters
from server.services.csv_export import stream_csv
from server.services.payouts import exports

bp = Blueprint("admin_exports")


def _row_cap() -> Any:
    return Field(default=None, ge=1, description="at most this many rows (default: all)")


class CommissionExportFilter(CommissionFilter):
    """The staff commission list's filters."""

    limit: int | None = _row_cap()  # type: ignore[assignment]


class WithdrawalExportFilter(WithdrawalListQuery):
    """The withdrawal list's filters."""

    limit: int | None = _row_cap()  # type: ignore[assignment]


class PayoutBatchExportFilter(BatchListQuery):
    """The payout batch list's filters."""

    limit: int | None = _row_cap()  # type: ignore[assignment]


@bp.get("/exports/commissions.csv")
@openapi.definition(
    summary="Commissions as CSV (the commission list's filters), streamed",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def export_commissions(request: Request) -> None:
    query = parse_query(request, CommissionExportFilter)
    export = exports.export_commissions(
        CommissionFilters.of(query.model_dump()),
        programs=request.ctx.principal.programs,
        cursor=query.cursor,
        limit=query.limit,
    )
    await stream_csv(request, export)


@bp.get("/exports/withdrawals.csv")
@openapi.definition(
    summary="Withdrawals as CSV (the withdrawal list's filters), streamed",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def export_withdrawals(request: Request) -> None:
    query = parse_query(request, WithdrawalExportFilter)
    export = exports.export_withdrawals(
        program_id=query.program_id,
        programs=request.ctx.principal.programs,
        promoter_id=query.promoter_id,
        status=query.status.value if query.status else None,
        method=query.method,
        origin=query.origin.value if query.origin else None,
        batch_id=query.batch_id,
        created_from=query.created_from,
        created_to=query.created_to,
        cursor=query.cursor,
        limit=query.limit,
    )
    await stream_csv(request, export)


@bp.get("/exports/payout-batches.csv")
@openapi.definition(summary="Payout batches as CSV, streamed", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def export_payout_batches(request: Request) -> None:
    query = parse_query(request, PayoutBatchExportFilter)
    export = exports.export_payout_batches(
        program_id=query.program_id,
        programs=request.ctx.principal.programs,
        cursor=query.cursor,
        limit=query.limit,
    )
    await stream_csv(request, export)
