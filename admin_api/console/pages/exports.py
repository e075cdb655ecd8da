"""CSV downloads of the lists that have one in the API (finance and admin): same filters, same
export service, streamed."""

from __future__ import annotations

from sanic import Blueprint, Request

from admin_api.console.guard import console_route
from admin_api.console.pages.common import filters
from admin_api.exports import CommissionExportFilter, WithdrawalExportFilter
from server.auth import ROLES_FINANCE
from server.services.csv_export import stream_csv
from server.services.payouts import exports

bp = Blueprint("console_exports")


@bp.get("/exports/commissions.csv")
@console_route(*ROLES_FINANCE)
async def export_commissions(request: Request) -> None:
    query = filters(request, CommissionExportFilter)
    await stream_csv(request, exports.export_commissions(**query.model_dump()))


@bp.get("/exports/withdrawals.csv")
@console_route(*ROLES_FINANCE)
async def export_withdrawals(request: Request) -> None:
    query = filters(request, WithdrawalExportFilter)
    await stream_csv(request, exports.export_withdrawals(**query.model_dump()))
