"""Milestone bonus awards: which promoters got which bonus, when, how much, and the ledger
entry that paid it; filtered by bonus or promoter, a page at a time or as a CSV."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import filters, list_page
from admin_api.incentives import AwardExportFilter, AwardListQuery
from server.auth import ROLES_BACKOFFICE
from server.services.csv_export import stream_csv
from server.services.tiers import awards

bp = Blueprint("console_awards")


@bp.get("/bonus-awards")
@console_route(*ROLES_BACKOFFICE)
async def award_list(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        AwardListQuery,
        lambda query, program_id: awards.list_program_awards(
            program_id=program_id, **query.model_dump()
        ),
        heading=N_("Bonus awards"),
        template="awards/list.html",
        rows="awards/_rows.html",
    )


@bp.get("/bonus-awards.csv")
@console_route(*ROLES_BACKOFFICE)
async def export_awards(request: Request) -> None:
    query = filters(request, AwardExportFilter)
    await stream_csv(
        request,
        awards.export_awards(programs=request.ctx.principal.programs, **query.model_dump()),
    )
