"""Program reports for the back office (docs/reports.md): overview with series and previous
period, breakdowns, top promoters and the funnel; each also as CSV with the same filters."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, requires
from server.http import Query, parse_query, render
from server.services.csv_export import stream_csv
from server.services.reports import customers, exports, queries

bp = Blueprint("admin_reports")

PRESETS = "today | yesterday | last_7_days | last_30_days | last_90_days | this_month | last_month"


class RangeQuery(Query):
    preset: str = Field(default="last_7_days", description=PRESETS + " | custom")
    first: dt.date | None = Field(
        default=None, alias="from", description="custom range: first local day (YYYY-MM-DD)"
    )
    last: dt.date | None = Field(
        default=None, alias="to", description="custom range: last local day, included"
    )


class SegmentQuery(RangeQuery):
    segment: str | None = Field(
        default=None,
        max_length=100,
        description="narrow to one dimension value, e.g. site:3, utm_source:wechat, promoter:12",
    )


class BreakdownQuery(RangeQuery):
    dimension: str = Field(
        description="site | channel | utm_source | utm_medium | utm_campaign | reached_by"
        " | product | category | level | tier | promoter"
    )
    limit: int = Field(default=100, ge=1, le=queries.MAX_ITEMS)


class TopQuery(RangeQuery):
    by: str = Field(default="net_sales", description="net_sales | commissions | conversion")
    limit: int = Field(default=10, ge=1, le=queries.MAX_ITEMS)


async def _window(program_id: int, query: RangeQuery) -> queries.Window:
    return await queries.report_window(
        program_id=program_id, preset=query.preset, first=query.first, last=query.last
    )


@bp.get("/programs/<program_id:int>/reports/overview")
@openapi.definition(
    summary="Program overview: totals beside the previous period, hourly or daily series",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def overview(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, SegmentQuery)
    window = await _window(program_id, query)
    segment = queries.parse_segment(text=query.segment)
    return render(await queries.overview(window=window, segment=segment))


@bp.get("/programs/<program_id:int>/reports/overview.csv")
@openapi.definition(summary="The overview's series and totals as CSV", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def overview_csv(request: Request, program_id: int) -> None:
    query = parse_query(request, SegmentQuery)
    window = await _window(program_id, query)
    segment = queries.parse_segment(text=query.segment)
    await stream_csv(request, await exports.overview_csv(window=window, segment=segment))


@bp.get("/programs/<program_id:int>/reports/breakdown")
@openapi.definition(
    summary="Figures per site, channel, UTM, reached_by, product, category, level, tier or "
    "promoter, beside the previous period",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def breakdown(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, BreakdownQuery)
    window = await _window(program_id, query)
    body = await queries.breakdown(window=window, dimension=query.dimension, limit=query.limit)
    return render(body)


@bp.get("/programs/<program_id:int>/reports/breakdown.csv")
@openapi.definition(summary="A breakdown as CSV", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def breakdown_csv(request: Request, program_id: int) -> None:
    query = parse_query(request, BreakdownQuery)
    window = await _window(program_id, query)
    export = await exports.breakdown_csv(
        window=window, dimension=query.dimension, limit=query.limit
    )
    await stream_csv(request, export)


@bp.get("/programs/<program_id:int>/reports/top-promoters")
@openapi.definition(
    summary="Top promoters by net sales, commissions or conversion rate", secured={"bearer": []}
)
@requires(*ROLES_BACKOFFICE)
async def top_promoters(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, TopQuery)
    window = await _window(program_id, query)
    return render(await queries.top_promoters(window=window, by=query.by, limit=query.limit))


@bp.get("/programs/<program_id:int>/reports/top-promoters.csv")
@openapi.definition(summary="Top promoters as CSV", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def top_promoters_csv(request: Request, program_id: int) -> None:
    query = parse_query(request, TopQuery)
    window = await _window(program_id, query)
    export = await exports.top_promoters_csv(window=window, by=query.by, limit=query.limit)
    await stream_csv(request, export)


@bp.get("/programs/<program_id:int>/reports/funnel")
@openapi.definition(
    summary="Funnel: visits, unique visitors, bindings, orders, settled commissions",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def funnel(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, SegmentQuery)
    window = await _window(program_id, query)
    segment = queries.parse_segment(text=query.segment)
    return render(await queries.funnel(window=window, segment=segment))


@bp.get("/programs/<program_id:int>/reports/funnel.csv")
@openapi.definition(summary="The funnel as CSV", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def funnel_csv(request: Request, program_id: int) -> None:
    query = parse_query(request, SegmentQuery)
    window = await _window(program_id, query)
    segment = queries.parse_segment(text=query.segment)
    await stream_csv(request, await exports.funnel_csv(window=window, segment=segment))


class CustomersQuery(RangeQuery):
    ltv_by: str = Field(
        default="promoter",
        description="first touch the LTV table groups customers by: promoter | channel | site"
        " | utm_source | utm_medium | utm_campaign | reached_by",
    )
    limit: int = Field(default=100, ge=1, le=queries.MAX_ITEMS)


@bp.get("/programs/<program_id:int>/reports/customers")
@openapi.definition(
    summary="Customers: new vs returning buyers, repeat-purchase rate, per-customer figures,"
    " LTV of referred customers by promoter, channel or campaign",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def customers_report(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, CustomersQuery)
    window = await _window(program_id, query)
    return render(
        await customers.customers_report(window=window, ltv_by=query.ltv_by, limit=query.limit)
    )


@bp.get("/programs/<program_id:int>/reports/customers.csv")
@openapi.definition(summary="The LTV table of the customers report as CSV", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def customers_csv(request: Request, program_id: int) -> None:
    query = parse_query(request, CustomersQuery)
    window = await _window(program_id, query)
    export = await exports.customers_csv(window=window, ltv_by=query.ltv_by, limit=query.limit)
    await stream_csv(request, export)
