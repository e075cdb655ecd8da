"""The admin reports as CSV: the same queries and filters as the JSON, one row per point,
value, promoter or funnel step (server/services/csv_export.py streams them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from server.domain.reports.metrics import COMMISSION_STATUSES
from server.services.csv_export import CsvExport
from server.services.reports import customers, queries
from server.services.reports.queries import Window
from server.services.reports.reads import Segment

FIGURE_COLUMNS = (
    "visits",
    "bot_visits",
    "unique_visitors",
    "bindings",
    "orders",
    "gmv",
    "refunds",
    "net_sales",
    "commissions",
    "conversion_rate",
    "average_order_value",
    "commission_cost_ratio",
    "revenue_per_click",
    "commission_per_click",
)
STATUS_COLUMNS = tuple(
    f"commissions_{status}_{part}" for status in COMMISSION_STATUSES for part in ("count", "amount")
)


def _figure_cells(body: dict[str, Any]) -> list[Any]:
    cells = [body[column] for column in FIGURE_COLUMNS]
    for status in COMMISSION_STATUSES:
        found = body["commissions_by_status"][status]
        cells.extend((found["count"], found["amount"]))
    return cells


async def _rows(rows: Sequence[Sequence[Any]]) -> AsyncIterator[Sequence[Any]]:
    for row in rows:
        yield row


def _name(window: Window, what: str) -> str:
    r = window.current
    return f"report-{what}-program-{window.program.id}-{r.first}-{r.last}.csv"


async def overview_csv(*, window: Window, segment: Segment) -> CsvExport:
    """The overview's series, one row per hour or day, then the totals of both periods."""
    body = await queries.overview(window=window, segment=segment)
    rows = [[p["label"], *_figure_cells(p)] for p in body["series"]]
    rows.append(["total", *_figure_cells(body["totals"])])
    rows.append(["previous_total", *_figure_cells(body["previous_totals"])])
    header = ["point", *FIGURE_COLUMNS, *STATUS_COLUMNS]
    return CsvExport(_name(window, "overview"), header, _rows(rows))


async def breakdown_csv(*, window: Window, dimension: str, limit: int) -> CsvExport:
    """One row per dimension value, with its previous-period net sales and orders."""
    body = await queries.breakdown(window=window, dimension=dimension, limit=limit)
    rows = [
        [
            item["value"],
            *_figure_cells(item),
            item["previous"]["orders"],
            item["previous"]["net_sales"],
        ]
        for item in body["items"]
    ]
    header = [
        body["dimension"],
        *FIGURE_COLUMNS,
        *STATUS_COLUMNS,
        "previous_orders",
        "previous_net_sales",
    ]
    return CsvExport(_name(window, f"by-{body['dimension']}"), header, _rows(rows))


async def top_promoters_csv(*, window: Window, by: str, limit: int) -> CsvExport:
    """One row per ranked promoter."""
    body = await queries.top_promoters(window=window, by=by, limit=limit)
    rows = [
        [item["rank"], item["promoter_id"], item["name"], item["tier"], *_figure_cells(item)]
        for item in body["items"]
    ]
    header = ["rank", "promoter_id", "name", "tier", *FIGURE_COLUMNS, *STATUS_COLUMNS]
    return CsvExport(_name(window, f"top-promoters-by-{by}"), header, _rows(rows))


async def funnel_csv(*, window: Window, segment: Segment) -> CsvExport:
    """One row per funnel step, this period and the previous."""
    body = await queries.funnel(window=window, segment=segment)
    rows = [
        [
            now["step"],
            now["count"],
            now["rate_from_previous_step"],
            before["count"],
            before["rate_from_previous_step"],
        ]
        for now, before in zip(body["steps"], body["previous_steps"], strict=True)
    ]
    header = ["step", "count", "rate_from_previous_step", "previous_count", "previous_rate"]
    return CsvExport(_name(window, "funnel"), header, _rows(rows))


async def customers_csv(*, window: Window, ltv_by: str, limit: int) -> CsvExport:
    """The lifetime value table: one row per first-touch value of customers acquired."""
    body = await customers.customers_report(window=window, ltv_by=ltv_by, limit=limit)
    columns = ("customers", "orders", "net_sales_to_date", "lifetime_value")
    rows = [[item["value"], *(item[c] for c in columns)] for item in body["lifetime_values"]]
    return CsvExport(_name(window, f"customers-by-{ltv_by}"), [ltv_by, *columns], _rows(rows))
