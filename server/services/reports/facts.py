"""Raw rows of one program and time span read as the pure facts reports roll up."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.reports.ranges import hour_starts, next_hour_start
from server.domain.reports.rollup import (
    ALL_VALUE,
    BindingFact,
    CommissionFact,
    Dimension,
    LineFact,
    OrderFact,
    Touch,
    VisitCount,
    buyer_key,
    order_touch,
    order_visit_id,
)
from server.models import Binding, Commission, Order, OrderLine, Visit
from server.services.ledger.postings import sql_rows, sql_write
from server.services.reports.reads import VISITOR_COLUMNS

TOUCH_COLUMNS = (
    "promoter_id",
    "site_id",
    "channel_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "reached_by",
)
# Every status an order has once paid: filtering on all of them lets MariaDB range over the
# (program_id, status, paid_at) index instead of scanning the program's orders.
PAID_ORDER_STATUSES = ("paid", "completed", "cancelled", "refunded")


def _touch(row: dict[str, Any]) -> Touch:
    return Touch(**{name: row.get(name) for name in TOUCH_COLUMNS})


# Local hours per statement when visits are grouped by hour (one CASE branch each).
HOURS_PER_STATEMENT = 24


def _hour_chunks(
    start: datetime, end: datetime, tz: tzinfo
) -> list[tuple[list[datetime], datetime]]:
    """The local hours of [start, end) (`start` a local hour start) in statement-sized runs,
    each with the instant it ends."""
    hours = hour_starts(start, end, tz)
    runs = [hours[i : i + HOURS_PER_STATEMENT] for i in range(0, len(hours), HOURS_PER_STATEMENT)]
    return [(run, min(end, next_hour_start(run[-1], tz))) for run in runs]


def _hour_case(hours: list[datetime], *, labels: list[Any]) -> tuple[str, list[Any]]:
    """A CASE giving each visit's hour (`labels[i]` for hours[i]): hours partition the span."""
    branches = " ".join("WHEN at < ? THEN ?" for _ in hours[1:])
    pairs = zip(hours[1:], labels, strict=False)  # hours[i + 1] ends the hour labelled i
    values = [v for following, label in pairs for v in (following, label)]
    return f"CASE {branches} ELSE ? END" if branches else "?", [*values, labels[-1]]


# The dimensions a visit counts in, in the order the counting statement numbers them.
VISIT_DIMENSIONS = ((Dimension.ALL, None), *VISITOR_COLUMNS.items())


def _dimension_value() -> str:
    """The value of dimension number `k` of VISIT_DIMENSIONS for a visit row."""
    branches = " ".join(
        f"WHEN {k} THEN {column or repr(ALL_VALUE)}"
        for k, (_, column) in enumerate(VISIT_DIMENSIONS)
    )
    return f"CASE d.k {branches} END"


async def visit_counts(
    *, conn: BaseDBAsyncClient, program_id: int, start: datetime, end: datetime, tz: tzinfo
) -> list[VisitCount]:
    """The program's visits that arrived in [start, end) counted by the database per local
    hour, dimension value and bot or not: one scan, one row per rollup cell."""
    numbers = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(len(VISIT_DIMENSIONS)))
    columns = ", ".join(TOUCH_COLUMNS)
    found = []
    for hours, stop in _hour_chunks(start, end, tz):
        hour, args = _hour_case(hours, labels=list(range(len(hours))))
        rows = await sql_rows(
            conn,
            f"SELECT v.hour, v.is_bot, d.k, {_dimension_value()} AS value, COUNT(*) AS visits"
            f" FROM (SELECT {hour} AS hour, is_bot, {columns} FROM visits"
            " WHERE program_id = ? AND at >= ? AND at < ?) AS v"
            f" CROSS JOIN ({numbers}) AS d GROUP BY 1, 2, 3, 4",
            [*args, program_id, hours[0], stop],
        )
        found += [
            VisitCount(
                bucket=hours[int(row["hour"])],
                dimension=VISIT_DIMENSIONS[int(row["k"])][0],
                value=None if row["value"] is None else str(row["value"]),
                is_bot=bool(row["is_bot"]),
                count=int(row["visits"]),
            )
            for row in rows
        ]
    return found


async def copy_visitors(
    *, conn: BaseDBAsyncClient, program_id: int, start: datetime, end: datetime, tz: tzinfo
) -> None:
    """Write the unique visitors of [start, end) per local hour and touch (report_visitors)
    straight from the visits, in the database."""
    columns = ", ".join(TOUCH_COLUMNS)
    for hours, stop in _hour_chunks(start, end, tz):
        bucket, args = _hour_case(hours, labels=hours)
        await sql_write(
            conn,
            f"INSERT INTO report_visitors (program_id, bucket, visitor_hash, {columns})"
            f" SELECT DISTINCT ?, {bucket}, visitor_hash, {columns} FROM visits"
            " WHERE program_id = ? AND at >= ? AND at < ? AND is_bot = ?"
            " AND visitor_hash IS NOT NULL AND visitor_hash <> ''",
            [program_id, *args, program_id, hours[0], stop, False],
        )


async def _visit_touches(conn: BaseDBAsyncClient, ids: set[int]) -> dict[int, Touch]:
    if not ids:
        return {}
    rows = await Visit.filter(id__in=sorted(ids)).using_db(conn).values("id", *TOUCH_COLUMNS)
    return {row["id"]: _touch(row) for row in rows}


async def binding_facts(
    *, conn: BaseDBAsyncClient, program_id: int, start: datetime, end: datetime
) -> list[BindingFact]:
    """The program's bindings made in [start, end), with the site and UTM of their visit."""
    rows = (
        await Binding.filter(program_id=program_id, bound_at__gte=start, bound_at__lt=end)
        .using_db(conn)
        .values("bound_at", "promoter_id", "channel_id", "reached_by", "visit_id")
    )
    visits = await _visit_touches(conn, {r["visit_id"] for r in rows if r["visit_id"]})
    facts = []
    for row in rows:
        visit = visits.get(row["visit_id"]) if row["visit_id"] else None
        touch = Touch(
            promoter_id=row["promoter_id"],
            site_id=visit.site_id if visit else None,
            channel_id=row["channel_id"],
            utm_source=visit.utm_source if visit else None,
            utm_medium=visit.utm_medium if visit else None,
            utm_campaign=visit.utm_campaign if visit else None,
            reached_by=row["reached_by"],
        )
        facts.append(BindingFact(bound_at=row["bound_at"], touch=touch))
    return facts


async def order_facts(
    *, conn: BaseDBAsyncClient, program_id: int, start: datetime, end: datetime
) -> list[OrderFact]:
    """The program's orders paid in [start, end) with their lines and commissions now."""
    orders = (
        await Order.filter(
            program_id=program_id,
            status__in=PAID_ORDER_STATUSES,
            paid_at__gte=start,
            paid_at__lt=end,
        )
        .using_db(conn)
        .values(
            "id",
            "paid_at",
            "total_amount",
            "refunded_amount",
            "cancelled_at",
            "status",
            "attributed_promoter_id",
            "site_id",
            "campaign",
            "attribution",
            "buyer_user_id",
            "buyer_external_id",
        )
    )
    if not orders:
        return []
    ids = [o["id"] for o in orders]
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in (
        await OrderLine.filter(order_id__in=ids)
        .using_db(conn)
        .order_by("id")
        .values("id", "order_id", "product_id", "category", "amount", "refunded_amount")
    ):
        lines[line["order_id"]].append(line)
    commissions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for commission in (
        await Commission.filter(order_id__in=ids)
        .using_db(conn)
        .values(
            "order_id",
            "order_line_id",
            "promoter_id",
            "level",
            "status",
            "amount",
            "original_amount",
        )
    ):
        commissions[commission["order_id"]].append(commission)
    visits = await _visit_touches(
        conn, {v for o in orders if (v := order_visit_id(_attribution(o))) is not None}
    )
    return [_order_fact(o, lines[o["id"]], commissions[o["id"]], visits) for o in orders]


def _attribution(order: dict[str, Any]) -> dict[str, Any]:
    value = order["attribution"]
    return value if isinstance(value, dict) else {}


def _order_fact(
    order: dict[str, Any],
    lines: list[dict[str, Any]],
    commissions: list[dict[str, Any]],
    visits: dict[int, Touch],
) -> OrderFact:
    attribution = _attribution(order)
    visit_id = order_visit_id(attribution)
    touch = order_touch(
        attribution,
        promoter_id=order["attributed_promoter_id"],
        site_id=order["site_id"],
        campaign=order["campaign"],
        visit=visits.get(visit_id) if visit_id is not None else None,
    )
    index = {line["id"]: i for i, line in enumerate(lines)}
    return OrderFact(
        paid_at=order["paid_at"],
        total=Decimal(order["total_amount"]),
        refunded=Decimal(order["refunded_amount"]),
        cancelled=order["status"] == "cancelled",
        touch=touch,
        buyer=buyer_key(user_id=order["buyer_user_id"], external_id=order["buyer_external_id"]),
        lines=tuple(
            LineFact(
                product_id=line["product_id"],
                category=line["category"],
                amount=Decimal(line["amount"]),
                refunded=Decimal(line["refunded_amount"]),
            )
            for line in lines
        ),
        commissions=tuple(
            CommissionFact(
                line_index=index[c["order_line_id"]],
                promoter_id=c["promoter_id"],
                level=c["level"],
                status=c["status"],
                amount=Decimal(c["amount"]),
                original_amount=Decimal(c["original_amount"]),
            )
            for c in commissions
        ),
    )
