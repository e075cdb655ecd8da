"""A promoter's own results in a window, read for a whole program at once: net sales of the
orders attributed to them, their own settled commissions, their distinct paying customers.

Never recruits, team counts or a downline's sales: an order counts only for the promoter it
is attributed to (level 1, or the buyer on a self purchase), and a commission only at
levels 0 and 1 (docs/tiers.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from server.db import connection
from server.domain.commissions.status import IN_LEDGER_STATUSES
from server.domain.orders.events import OrderStatus
from server.domain.tiers.ladder import OwnResults
from server.models import Order
from server.services.ledger.postings import money_units, sql_rows, units_value

# Orders that still count: paid or completed (a partial refund counts what is left).
COUNTED_ORDERS = (OrderStatus.PAID.value, OrderStatus.COMPLETED.value)
NO_RESULTS = OwnResults(
    net_sales=Decimal("0.00"), settled_commissions=Decimal("0.00"), paying_customers=0
)
# A promoter's own commissions: the self-purchase rebate and level 1; never a level above.
OWN_LEVELS = 1


def _instant(value: datetime) -> object:
    return Order._meta.fields_map["placed_at"].to_db_value(value.astimezone(UTC), None)


def _only(promoter_id: int | None) -> tuple[str, list[int]]:
    return ("", []) if promoter_id is None else (" AND {column} = ?", [promoter_id])


async def own_results(
    *,
    program_id: int,
    start: datetime,
    end: datetime,
    promoter_id: int | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> dict[int, OwnResults]:
    """Each promoter's own results in [start, end) (only `promoter_id` when given)."""
    conn = conn or connection()
    window = [_instant(start), _instant(end)]
    statuses = ", ".join("?" for _ in COUNTED_ORDERS)
    only, only_values = _only(promoter_id)
    net = money_units(conn, "o.total_amount - o.refunded_amount")
    orders = await sql_rows(
        conn,
        f"SELECT o.attributed_promoter_id AS pid, SUM({net}) AS net,"
        " COUNT(DISTINCT CASE WHEN (o.buyer_promoter_id IS NULL"
        " OR o.buyer_promoter_id <> o.attributed_promoter_id)"
        f" AND {net} > 0 THEN COALESCE(o.buyer_openid, o.buyer_unionid, o.buyer_external_id)"
        " END) AS customers"
        " FROM orders AS o WHERE o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?"
        f" AND o.status IN ({statuses}) AND o.attributed_promoter_id IS NOT NULL"
        + only.format(column="o.attributed_promoter_id")
        + " GROUP BY o.attributed_promoter_id",
        [program_id, *window, *COUNTED_ORDERS, *only_values],
    )
    in_ledger = sorted(status.value for status in IN_LEDGER_STATUSES)
    ledger_marks = ", ".join("?" for _ in in_ledger)
    commissions = await sql_rows(
        conn,
        f"SELECT c.promoter_id AS pid, SUM({money_units(conn, 'c.amount')}) AS total"
        " FROM commissions AS c WHERE c.program_id = ? AND c.settled_at >= ?"
        f" AND c.settled_at < ? AND c.level <= ? AND c.status IN ({ledger_marks})"
        + only.format(column="c.promoter_id")
        + " GROUP BY c.promoter_id",
        [program_id, *window, OWN_LEVELS, *in_ledger, *only_values],
    )
    results: dict[int, OwnResults] = {}
    for row in orders:
        results[int(row["pid"])] = OwnResults(
            net_sales=units_value(conn, row["net"]),
            settled_commissions=Decimal("0.00"),
            paying_customers=int(row["customers"] or 0),
        )
    for row in commissions:
        pid = int(row["pid"])
        found = results.get(pid, NO_RESULTS)
        results[pid] = OwnResults(
            net_sales=found.net_sales,
            settled_commissions=units_value(conn, row["total"]),
            paying_customers=found.paying_customers,
        )
    return results
