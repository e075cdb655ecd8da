"""Builders for report tests: visits through the real bulk writer, and the rollups read back
as plain dictionaries, stored or recomputed independently from raw rows. No tests here."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from server.domain.periods import zone
from server.domain.reports.metrics import ROLLUP_COLUMNS
from server.domain.reports.ranges import local_hour_start, local_midnight
from server.domain.reports.spans import MAX_LEVEL, span_of
from server.models import (
    Binding,
    Commission,
    Order,
    Program,
    Promoter,
    ReportDailyRollup,
    ReportRollup,
    ReportSketch,
    ReportSpanRollup,
    ReportSpanSketch,
    Visit,
)
from server.services.reports.rollups import refresh_reports
from server.services.sharing.visit_buffer import PendingVisit
from server.services.sharing.visits import write_visits
from tests.order_builders import T0, bind, chain, customer, line, paid, refunded, send_ok, shop


async def visit(
    program: Program,
    to: Promoter,
    at: datetime,
    *,
    visitor: str | None = "v1",
    bot: bool = False,
    site_id: int | None = None,
    utm: tuple[str | None, str | None, str | None] = (None, None, None),
    reached_by: str = "link",
) -> None:
    """One visit written by the visit buffer's bulk writer (anonymous: no binding)."""
    await write_visits(
        [
            PendingVisit(
                program_id=program.id,
                promoter_id=to.id,
                channel_id=None,
                code_id=None,
                site_id=site_id,
                share_link_id=None,
                customer_user_id=None,
                customer_external_id=None,
                utm_source=utm[0],
                utm_medium=utm[1],
                utm_campaign=utm[2],
                visitor_hash=visitor,
                ip_hash=None,
                ua_hash=None,
                is_bot=bot,
                source="h5",
                reached_by=reached_by,
                at=at,
            )
        ]
    )


def _plain(value: Any) -> Any:
    return Decimal(value).quantize(Decimal("0.01")) if isinstance(value, Decimal) else value


async def stored_rollups(program: Program, dimension: str | None = None) -> dict[Any, dict]:
    """Every stored rollup row of the program: (bucket, dimension, value) → its non-zero sums."""
    query = ReportRollup.filter(program_id=program.id)
    if dimension is not None:
        query = query.filter(dimension=dimension)
    rows = {}
    for row in await query:
        sums = {c: _plain(getattr(row, c)) for c in ROLLUP_COLUMNS if getattr(row, c)}
        rows[(row.bucket, row.dimension, row.value)] = sums
    return rows


async def stored_day_rows(program: Program) -> dict[Any, dict]:
    """Every stored day row of the program: (day, dimension, value) → its non-zero sums."""
    rows = {}
    for row in await ReportDailyRollup.filter(program_id=program.id):
        sums = {c: _plain(getattr(row, c)) for c in ROLLUP_COLUMNS if getattr(row, c)}
        rows[(row.bucket, row.dimension, row.value)] = sums
    return rows


def hours_summed_by_day(hours: dict[Any, dict], tz_name: str) -> dict[Any, dict]:
    """Hourly rows (stored_rollups) added up per local day of `tz_name`."""
    tz = zone(tz_name)
    days: dict[Any, dict] = defaultdict(lambda: defaultdict(lambda: 0))
    for (bucket, dimension, value), sums in hours.items():
        day = local_midnight(bucket.astimezone(tz).date(), tz)
        for column, amount in sums.items():
            days[(day, dimension, value)][column] += amount
    return {key: dict(sums) for key, sums in days.items()}


async def stored_span_rows(program: Program) -> dict[Any, dict]:
    """Every stored span row: (first day, days, dimension, value) → its non-zero sums."""
    rows = {}
    for row in await ReportSpanRollup.filter(program_id=program.id):
        sums = {c: _plain(getattr(row, c)) for c in ROLLUP_COLUMNS if getattr(row, c)}
        rows[(row.bucket, row.days, row.dimension, row.value)] = sums
    return rows


def days_summed_by_span(days: dict[Any, dict], tz_name: str) -> dict[Any, dict]:
    """Day rows (stored_day_rows) added up per aligned span of 2 to 64 local days."""
    tz = zone(tz_name)
    spans: dict[Any, dict] = defaultdict(lambda: defaultdict(lambda: 0))
    for (bucket, dimension, value), sums in days.items():
        for level in range(1, MAX_LEVEL + 1):
            first, length = span_of(bucket.astimezone(tz).date(), 1 << level)
            found = spans[(local_midnight(first, tz), length, dimension, value)]
            for column, amount in sums.items():
                found[column] += amount
    return {key: dict(sums) for key, sums in spans.items()}


async def stored_span_sketches(program: Program) -> dict[Any, str]:
    """Every stored span sketch: (first day, days, dimension, value) → its text."""
    rows = await ReportSpanSketch.filter(program_id=program.id)
    return {(row.day, row.days, row.dimension, row.value): row.registers for row in rows}


async def stored_sketches(program: Program) -> dict[Any, str]:
    """Every stored visitor sketch of the program: (day, dimension, value) → its text."""
    rows = await ReportSketch.filter(program_id=program.id)
    return {(row.day, row.dimension, row.value): row.registers for row in rows}


async def recomputed_totals(program: Program) -> dict[Any, dict]:
    """The program's totals per bucket, counted here from raw rows with none of the report
    code: visits, bots, bindings, orders, money and commissions by status."""
    tz = zone(program.time_zone)
    totals: dict[Any, dict] = defaultdict(lambda: defaultdict(lambda: 0))

    def add(moment: datetime, column: str, amount: Any) -> None:
        totals[(local_hour_start(moment, tz), "all", "*")][column] += amount

    for v in await Visit.filter(program_id=program.id):
        add(v.at, "bot_visits" if v.is_bot else "visits", 1)
    for b in await Binding.filter(program_id=program.id):
        add(b.bound_at, "bindings", 1)
    for order in await Order.filter(program_id=program.id, paid_at__not_isnull=True):
        refunds = order.total_amount if order.status == "cancelled" else order.refunded_amount
        add(order.paid_at, "orders", 1)
        add(order.paid_at, "gmv", order.total_amount)
        add(order.paid_at, "refunds", refunds)
        add(order.paid_at, "net_sales", order.total_amount - refunds)
        for c in await Commission.filter(order_id=order.id):
            counted = c.original_amount if c.status in ("rejected", "reversed") else c.amount
            add(order.paid_at, f"commissions_{c.status}", 1)
            add(order.paid_at, f"commission_amount_{c.status}", counted)
    return {key: {c: _plain(v) for c, v in sums.items() if v} for key, sums in totals.items()}


async def day_in_shanghai() -> tuple[Program, Promoter, Promoter]:
    """Yesterday (1 March, local): a binding at 18:00 and visitor c at 23:30.
    Today (2 March, local): c again at 00:30; at 18:00 a twice (WeChat UTM), b, and a bot;
    an order of 100.00 with 20.00 refunded, earning 10% and 5% of the 80.00 left."""
    program = await shop(time_zone="Asia/Shanghai")
    top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer, at=T0 - timedelta(days=1))
    await visit(program, nearest, datetime(2026, 3, 1, 15, 30, tzinfo=UTC), visitor="c")
    await visit(program, nearest, datetime(2026, 3, 1, 16, 30, tzinfo=UTC), visitor="c")
    for who in ("a", "a"):
        await visit(program, nearest, T0, visitor=who, utm=("wechat", "social", "spring"))
    await visit(program, nearest, T0, visitor="b")
    await visit(program, nearest, T0, visitor="bot", bot=True)
    await send_ok(program, paid("O1", line("L1", "100.00", category="tea"), buyer=buyer))
    await send_ok(program, refunded("O1", lines={"L1": "20.00"}, at=T0 + timedelta(hours=1)))
    await refresh_reports()
    return program, top, nearest
