"""A promoter's behaviour over time, for staff reviewing anomalies: per day, how often they
shared (share links created), the visits they drew and from how many visitors, the orders
they referred, how many were refunded, conversion and refund rates, and their open
anomalies.

Visits from known bot user agents are excluded from visits, visitors and the conversion
rate (their count is given apart, so the exclusion is visible). Days are UTC days. Each
series is one GROUP BY over the promoter's indexed rows in the range.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from server import clock
from server.db import connection
from server.domain.anomaly_status import AnomalyStatus
from server.domain.errors import NotFound, ValidationFailed
from server.models import Anomaly, Promoter
from server.services.anomaly_queries import serialize_anomaly
from server.services.ledger import money_units, sql_rows

MAX_DAYS = 366
MAX_OPEN_ANOMALIES = 100


def _rate(numerator: int, denominator: int) -> str | None:
    """A percentage with one decimal, None when there is nothing to divide by."""
    if denominator == 0:
        return None
    return f"{100 * numerator / denominator:.1f}"


async def _daily(
    sql: str, values: list[Any], columns: tuple[str, ...]
) -> dict[str, dict[str, int]]:
    rows = await sql_rows(connection(), sql, values)
    return {str(row["day"]): {c: int(row[c] or 0) for c in columns} for row in rows}


async def promoter_behaviour(*, promoter_id: int, days: int = 30) -> dict[str, Any]:
    """The promoter's daily series over the last `days` days, totals and open anomalies."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            "days out of range", code="invalid_query", fields={"days": f"1..{MAX_DAYS}"}
        )
    promoter = await Promoter.get_or_none(id=promoter_id)
    if promoter is None:
        raise NotFound("no such promoter", code="promoter_not_found")
    today = clock.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    span = [promoter_id, since]
    conn = connection()
    shares = await _daily(
        "SELECT DATE(created_at) AS day, COUNT(*) AS shares FROM share_links"
        " WHERE promoter_id = ? AND created_at >= ? GROUP BY DATE(created_at)",
        span,
        ("shares",),
    )
    visits = await _daily(
        "SELECT DATE(at) AS day,"
        " SUM(CASE WHEN is_bot = 0 THEN 1 ELSE 0 END) AS visits,"
        " COUNT(DISTINCT CASE WHEN is_bot = 0 THEN visitor_hash END) AS visitors,"
        " SUM(CASE WHEN is_bot = 1 THEN 1 ELSE 0 END) AS bot_visits"
        " FROM visits WHERE promoter_id = ? AND at >= ? GROUP BY DATE(at)",
        span,
        ("visits", "visitors", "bot_visits"),
    )
    refunded = f"CASE WHEN {money_units(conn, 'refunded_amount')} > 0 THEN 1 ELSE 0 END"
    orders = await _daily(
        f"SELECT DATE(placed_at) AS day, COUNT(*) AS orders, SUM({refunded}) AS refunded_orders"
        " FROM orders WHERE attributed_promoter_id = ? AND placed_at >= ?"
        " AND buyer_promoter_id IS NULL GROUP BY DATE(placed_at)",
        span,
        ("orders", "refunded_orders"),
    )
    series = []
    totals = dict.fromkeys(
        ("shares", "visits", "visitors", "bot_visits", "orders", "refunded_orders"), 0
    )
    for offset in range(days):
        day = (first + timedelta(days=offset)).isoformat()
        row: dict[str, Any] = {"day": day}
        for source in (shares, visits, orders):
            row.update(source.get(day, {}))
        for key in totals:
            row.setdefault(key, 0)
            totals[key] += row[key]
        row["conversion_rate_percent"] = _rate(row["orders"], row["visits"])
        row["refund_rate_percent"] = _rate(row["refunded_orders"], row["orders"])
        series.append(row)
    open_anomalies = (
        await Anomaly.filter(promoter_id=promoter_id, status=AnomalyStatus.OPEN.value)
        .order_by("-id")
        .limit(MAX_OPEN_ANOMALIES)
    )
    return {
        "promoter_id": promoter_id,
        "program_id": promoter.program_id,  # type: ignore[attr-defined]
        "status": promoter.status,
        "from": first,
        "to": today,
        "days": series,
        "totals": {
            **totals,
            "conversion_rate_percent": _rate(totals["orders"], totals["visits"]),
            "refund_rate_percent": _rate(totals["refunded_orders"], totals["orders"]),
        },
        "open_anomalies": [serialize_anomaly(a) for a in open_anomalies],
    }
