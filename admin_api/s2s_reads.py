"""The store reads its own program over signed GETs: commissions (commissions:read),
promoters (promoters:read, PII masked) and report figures (reports:read), with the admin
API's filters, pagination and services; the program is always the signing key's."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from admin_api.commissions import CommissionFilter
from admin_api.promoters import PromotersQuery, promoters_page
from admin_api.reports import BreakdownQuery, SegmentQuery, TopQuery
from server.domain.access.scopes import COMMISSIONS_READ, PROMOTERS_READ, REPORTS_READ
from server.domain.errors import Forbidden
from server.http import parse_query, render
from server.s2s_auth import S2S_OPENAPI_HEADERS, S2SCaller, s2s_signed, store_viewer
from server.services.commissions import queries as commission_queries
from server.services.commissions.filters import CommissionFilters
from server.services.reports import queries as report_queries

bp = Blueprint("admin_s2s_reads")


class StorePromotersQuery(PromotersQuery):
    program_id: int | None = None  # type: ignore[assignment]


def _own_program(caller: S2SCaller, named: int | None) -> int:
    """The key's program; naming another one in the query is refused, never widened."""
    if named is not None and named != caller.program_id:
        raise Forbidden("this key belongs to another program", code="s2s_wrong_program")
    return caller.program_id


@bp.get("/s2s/commissions")
@openapi.definition(
    summary="The key's program's commissions, newest first, with the admin API's filters",
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=COMMISSIONS_READ)
async def list_commissions(request: Request) -> HTTPResponse:
    query = parse_query(request, CommissionFilter)
    program_id = _own_program(request.ctx.s2s, query.program_id)
    page = await commission_queries.list_commissions(
        filters=CommissionFilters.of({**query.model_dump(), "program_id": program_id}),
        programs=frozenset({program_id}),
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/s2s/promoters")
@openapi.definition(
    summary="The key's program's promoters (phones masked), with the admin API's filters",
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=PROMOTERS_READ)
async def list_promoters(request: Request) -> HTTPResponse:
    caller = request.ctx.s2s
    query = parse_query(request, StorePromotersQuery)
    query.program_id = _own_program(caller, query.program_id)
    return render(await promoters_page(query, viewer=store_viewer(caller)))


async def _window(
    request: Request, query: SegmentQuery | TopQuery | BreakdownQuery
) -> report_queries.Window:
    return await report_queries.report_window(
        program_id=request.ctx.s2s.program_id,
        preset=query.preset,
        first=query.first,
        last=query.last,
    )


@bp.get("/s2s/reports/overview")
@openapi.definition(
    summary="Report overview of the key's program (as GET …/reports/overview)",
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=REPORTS_READ)
async def overview(request: Request) -> HTTPResponse:
    query = parse_query(request, SegmentQuery)
    window = await _window(request, query)
    segment = report_queries.parse_segment(text=query.segment)
    return render(await report_queries.overview(window=window, segment=segment))


@bp.get("/s2s/reports/breakdown")
@openapi.definition(
    summary="Report breakdown of the key's program by one dimension",
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=REPORTS_READ)
async def breakdown(request: Request) -> HTTPResponse:
    query = parse_query(request, BreakdownQuery)
    window = await _window(request, query)
    return render(
        await report_queries.breakdown(
            window=window,
            dimension=query.dimension,
            limit=query.limit,
        )
    )


@bp.get("/s2s/reports/top-promoters")
@openapi.definition(summary="Top promoters of the key's program", parameter=S2S_OPENAPI_HEADERS)
@s2s_signed(scope=REPORTS_READ)
async def top_promoters(request: Request) -> HTTPResponse:
    query = parse_query(request, TopQuery)
    window = await _window(request, query)
    return render(await report_queries.top_promoters(window=window, by=query.by, limit=query.limit))


@bp.get("/s2s/reports/funnel")
@openapi.definition(summary="The funnel of the key's program", parameter=S2S_OPENAPI_HEADERS)
@s2s_signed(scope=REPORTS_READ)
async def funnel(request: Request) -> HTTPResponse:
    query = parse_query(request, SegmentQuery)
    window = await _window(request, query)
    segment = report_queries.parse_segment(text=query.segment)
    return render(await report_queries.funnel(window=window, segment=segment))
