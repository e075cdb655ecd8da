"""The dashboard: the program overview beside the previous period, drawn as inline SVG, with
the funnel, top promoters and one breakdown at a time; the reports' CSVs; customers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.console import charts
from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import chosen_program, filters
from admin_api.console.views import page
from admin_api.reports import CustomersQuery, RangeQuery
from server.auth import ROLES_BACKOFFICE
from server.services.csv_export import stream_csv
from server.services.reports import customers, exports, queries

bp = Blueprint("console_reports")
TOP = 10
EVERYTHING = queries.parse_segment(text=None)

Metric = Literal["net_sales", "gmv", "orders", "visits", "unique_visitors", "commissions"]
Breakdown = Literal[
    "site",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "reached_by",
    "product",
    "category",
    "level",
    "tier",
]
Ranking = Literal["net_sales", "commissions", "conversion"]
PRESETS = {
    "today": N_("Today"),
    "yesterday": N_("Yesterday"),
    "last_7_days": N_("Last 7 days"),
    "last_30_days": N_("Last 30 days"),
    "last_90_days": N_("Last 90 days"),
    "this_month": N_("This month"),
    "last_month": N_("Last month"),
}
METRICS = {
    "visits": N_("Visits"),
    "unique_visitors": N_("Unique visitors"),
    "bindings": N_("Bindings"),
    "orders": N_("Orders"),
    "gmv": N_("GMV"),
    "net_sales": N_("Net sales"),
    "commissions": N_("Commission cost"),
    "conversion_rate": N_("Conversion rate"),
    "average_order_value": N_("Average order value"),
    "commission_cost_ratio": N_("Commission cost ratio"),
    "commission_per_click": N_("Commission per click"),
    "roi": N_("ROI"),
}
# How each figure is shown: a count, an amount in the program's currency, or a rate.
KINDS = {
    "gmv": "money",
    "net_sales": "money",
    "commissions": "money",
    "average_order_value": "money",
    "commission_per_click": "money",
    "conversion_rate": "rate",
    "commission_cost_ratio": "rate",
    "roi": "rate",
}
DIMENSIONS = {
    "site": N_("Site"),
    "channel": N_("Channel"),
    "utm_source": N_("UTM source"),
    "utm_medium": N_("UTM medium"),
    "utm_campaign": N_("UTM campaign"),
    "reached_by": N_("Reached by"),
    "product": N_("Product"),
    "category": N_("Category"),
    "level": N_("Level"),
    "tier": N_("Tier"),
}
RANKINGS = {
    "net_sales": N_("Net sales"),
    "commissions": N_("Commission cost"),
    "conversion": N_("Conversion rate"),
}
FUNNEL_STEPS = {
    "visits": N_("Visits"),
    "unique_visitors": N_("Unique visitors"),
    "bindings": N_("Bindings"),
    "orders": N_("Orders"),
    "settled_commissions": N_("Settled commissions"),
}
LTV_GROUPS = {
    "promoter": N_("Promoter"),
    "channel": N_("Channel"),
    "site": N_("Site"),
    "utm_source": N_("UTM source"),
    "utm_medium": N_("UTM medium"),
    "utm_campaign": N_("UTM campaign"),
    "reached_by": N_("Reached by"),
}


class DashboardQuery(RangeQuery):
    metric: Metric = Field(default="net_sales", description="the figure the trend chart draws")
    by: Ranking = Field(default="net_sales", description="what ranks the top promoters")
    dimension: Breakdown = Field(default="site", description="the breakdown shown")


class CsvQuery(RangeQuery):
    dimension: Breakdown = "site"
    by: Ranking = "net_sales"


async def _window(request: Request, query: RangeQuery) -> tuple[Any, queries.Window]:
    program, programs = await chosen_program(request)
    window = await queries.report_window(
        program_id=program.id, preset=query.preset, first=query.first, last=query.last
    )
    return (program, programs), window


def _trend(overview: dict[str, Any], previous: list[dict[str, Any]], metric: str) -> Any:
    series = overview["series"]
    return charts.line_chart(
        [point[metric] for point in series],
        [point[metric] for point in previous],
        [point["label"] for point in series],
    )


@bp.get("/dashboard")
@console_route(*ROLES_BACKOFFICE)
async def dashboard(request: Request) -> HTTPResponse:
    """The program overview: figures beside the previous period and the charts."""
    query = filters(request, DashboardQuery)
    (program, programs), window = await _window(request, query)
    overview = await queries.overview(window=window, segment=EVERYTHING)
    previous = await queries.previous_series(window=window, segment=EVERYTHING)
    funnel = await queries.funnel(window=window, segment=EVERYTHING)
    top = await queries.top_promoters(window=window, by=query.by, limit=TOP)
    breakdown = await queries.breakdown(window=window, dimension=query.dimension, limit=TOP)
    totals, before = overview["totals"], overview["previous_totals"]
    return await page(
        request,
        "reports/dashboard.html",
        program=program,
        programs=programs,
        query=query,
        overview=overview,
        figures=[
            (
                key,
                label,
                KINDS.get(key, "count"),
                totals[key],
                before[key],
                charts.change(totals[key], before[key]),
            )
            for key, label in METRICS.items()
        ],
        trend=_trend(overview, previous, query.metric),
        funnel=charts.bars(
            [
                (FUNNEL_STEPS[step["step"]], step["count"], old["count"])
                for step, old in zip(funnel["steps"], funnel["previous_steps"], strict=True)
            ]
        ),
        funnel_steps=funnel["steps"],
        top=top["items"],
        top_bars=charts.bars([(str(i["promoter_id"]), i["net_sales"], None) for i in top["items"]]),
        breakdown=breakdown["items"],
        breakdown_bars=charts.bars(
            [(i["value"], i["net_sales"], i["previous"]["net_sales"]) for i in breakdown["items"]]
        ),
        presets=PRESETS,
        metrics={k: METRICS[k] for k in Metric.__args__},  # type: ignore[attr-defined]
        dimensions=DIMENSIONS,
        rankings=RANKINGS,
        kinds=KINDS,
    )


def _csv_route(name: str, schema: type[RangeQuery], make: Any) -> None:
    """A CSV of the dashboard (or customers) with the page's range, from the export service."""

    @bp.get(f"/reports/{name}.csv", name=f"report_csv_{name.replace('-', '_')}")
    @console_route(*ROLES_BACKOFFICE)
    async def export(request: Request) -> None:
        query = filters(request, schema)
        _, window = await _window(request, query)
        await stream_csv(request, await make(window, query))


# Each the API's CSV of the same report: overview, funnel, breakdown, top promoters, customers.
EXPORTS: dict[str, tuple[type[RangeQuery], Any]] = {
    "overview": (CsvQuery, lambda w, q: exports.overview_csv(window=w, segment=EVERYTHING)),
    "funnel": (CsvQuery, lambda w, q: exports.funnel_csv(window=w, segment=EVERYTHING)),
    "breakdown": (
        CsvQuery,
        lambda w, q: exports.breakdown_csv(
            window=w, dimension=q.dimension, limit=queries.MAX_ITEMS
        ),
    ),
    "top-promoters": (
        CsvQuery,
        lambda w, q: exports.top_promoters_csv(window=w, by=q.by, limit=queries.MAX_ITEMS),
    ),
    "customers": (
        CustomersQuery,
        lambda w, q: exports.customers_csv(window=w, ltv_by=q.ltv_by, limit=q.limit),
    ),
}
for _name, (_schema, _make) in EXPORTS.items():
    _csv_route(_name, _schema, _make)


@bp.get("/reports/customers")
@console_route(*ROLES_BACKOFFICE)
async def customers_page(request: Request) -> HTTPResponse:
    """New and returning buyers, repeat purchases, and the LTV of referred customers."""
    query = filters(request, CustomersQuery)
    (program, programs), window = await _window(request, query)
    report = await customers.customers_report(window=window, ltv_by=query.ltv_by, limit=query.limit)
    return await page(
        request,
        "reports/customers.html",
        program=program,
        programs=programs,
        query=query,
        report=report,
        presets=PRESETS,
        groups=LTV_GROUPS,
    )
