"""Customer reports from report_buyers: new vs returning buyers, repeat-purchase rate, orders
and net sales per customer, and the lifetime value of the customers each promoter, channel
or campaign brought (docs/reports.md#customers)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from server.db import connection
from server.domain.errors import ValidationFailed
from server.domain.reports.metrics import (
    CustomerSums,
    customers_json,
    lifetime_value,
    money_places,
)
from server.domain.reports.ranges import ReportRange
from server.domain.reports.rollup import Dimension
from server.services.ledger.postings import as_decimal, sql_rows
from server.services.reports.queries import Window
from server.services.reports.reads import VISITOR_COLUMNS

# Buyer keys per IN (...) list when reading acquired customers' whole history.
KEY_CHUNK = 500
_FIRST_IN_RANGE = (
    "SELECT buyer_key, MIN(bucket) AS first FROM report_buyers WHERE program_id = ?"
    " GROUP BY buyer_key HAVING MIN(bucket) >= ? AND MIN(bucket) < ?"
)


async def _sums(program_id: int, r: ReportRange) -> CustomerSums:
    conn = connection()
    rows = await sql_rows(
        conn,
        "SELECT buyer_key, SUM(orders) AS orders FROM report_buyers"
        " WHERE program_id = ? AND bucket >= ? AND bucket < ? GROUP BY buyer_key",
        [program_id, r.start, r.end],
    )
    # Net sales summed per row in Python: SQLite would sum its DECIMAL text as floats.
    nets = await sql_rows(
        conn,
        "SELECT net_sales FROM report_buyers WHERE program_id = ? AND bucket >= ? AND bucket < ?",
        [program_id, r.start, r.end],
    )
    new = await sql_rows(
        conn, f"SELECT COUNT(*) AS n FROM ({_FIRST_IN_RANGE}) AS f", [program_id, r.start, r.end]
    )
    return CustomerSums(
        buyers=len(rows),
        new_buyers=int(new[0]["n"] or 0),
        repeat_buyers=sum(1 for row in rows if int(row["orders"]) >= 2),
        orders=sum(int(row["orders"]) for row in rows),
        net_sales=sum((as_decimal(row["net_sales"]) for row in nets), Decimal(0)),
    )


def _ltv_column(name: str) -> str:
    try:
        column = VISITOR_COLUMNS.get(Dimension(name))
    except ValueError:
        column = None
    if column is None:
        raise ValidationFailed(
            "unknown LTV dimension",
            code="invalid_dimension",
            fields={"ltv_by": ", ".join(d.value for d in VISITOR_COLUMNS)},
        )
    return column


async def _lifetime_values(
    program_id: int, r: ReportRange, column: str, *, exponent: int, limit: int
) -> list[dict[str, Any]]:
    """Per first-touch value: customers whose first order fell in the range, their orders
    and net sales to date, and the LTV (net sales to date per customer)."""
    conn = connection()
    firsts = {
        row["buyer_key"]: row["first"]
        for row in await sql_rows(conn, _FIRST_IN_RANGE, [program_id, r.start, r.end])
    }
    keys = sorted(firsts)
    history: list[dict[str, Any]] = []
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start : start + KEY_CHUNK]
        history += await sql_rows(
            conn,
            f"SELECT buyer_key, bucket, {column} AS v, orders, net_sales FROM report_buyers"
            f" WHERE program_id = ? AND buyer_key IN ({', '.join('?' * len(chunk))})",
            [program_id, *chunk],
        )
    acquired_by: dict[str, str] = {}
    for row in sorted(history, key=lambda row: str(row["v"])):
        if row["bucket"] == firsts[row["buyer_key"]] and row["buyer_key"] not in acquired_by:
            acquired_by[row["buyer_key"]] = "" if row["v"] is None else str(row["v"])
    totals: dict[str, list[Any]] = defaultdict(lambda: [set(), 0, Decimal(0)])
    for row in history:
        entry = totals[acquired_by[row["buyer_key"]]]
        entry[0].add(row["buyer_key"])
        entry[1] += int(row["orders"])
        entry[2] += as_decimal(row["net_sales"])
    items = [
        {
            "value": value or None,
            "customers": len(buyers),
            "orders": orders,
            "net_sales_to_date": str(net.quantize(money_places(exponent))),
            "lifetime_value": str(lifetime_value(len(buyers), net, exponent=exponent)),
        }
        for value, (buyers, orders, net) in totals.items()
    ]
    items.sort(key=lambda item: (-Decimal(item["net_sales_to_date"]), str(item["value"])))
    return items[:limit]


async def customers_report(*, window: Window, ltv_by: str, limit: int) -> dict[str, Any]:
    """Buyers of the range beside the previous period, and LTV by first touch."""
    column = _ltv_column(ltv_by)
    pid, exponent = window.program.id, window.exponent
    current = await _sums(pid, window.current)
    before = await _sums(pid, window.previous)
    return {
        **window.describe(),
        "totals": customers_json(current, exponent=exponent),
        "previous_totals": customers_json(before, exponent=exponent),
        "ltv_by": ltv_by,
        "lifetime_values": await _lifetime_values(
            pid, window.current, column, exponent=exponent, limit=limit
        ),
    }
