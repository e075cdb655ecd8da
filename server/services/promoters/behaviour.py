"""A promoter's behaviour per local day, for staff reviewing anomalies: shares, visits,
visitors, orders, refunds, conversion and refund rates (bots counted apart).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from server import clock
from server.db import connection, is_mysql
from server.domain.errors import NotFound, ValidationFailed
from server.domain.fraud.anomaly_status import AnomalyStatus
from server.domain.periods import zone
from server.domain.programs.settings import DEFAULT_TIME_ZONE
from server.models import Anomaly, Program, Promoter
from server.services.fraud.queries import serialize_anomaly
from server.services.ledger.postings import money_units, sql_rows

MAX_DAYS = 366
MAX_OPEN_ANOMALIES = 100


def _rate(numerator: int, denominator: int) -> str | None:
    """A percentage with one decimal, None when there is nothing to divide by."""
    if denominator == 0:
        return None
    return f"{100 * numerator / denominator:.1f}"


def _offset_minutes(moment: datetime, tz: tzinfo) -> int:
    offset = moment.astimezone(tz).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def offset_spans(
    since: datetime, until: datetime, tz: tzinfo
) -> list[tuple[datetime, datetime, int]]:
    """[start, end) spans covering [since, until), each with the zone's one UTC offset."""
    # Offsets change on quarter hours: probed hourly, then by quarter hour.
    spans = []
    start, offset = since, _offset_minutes(since, tz)
    probe = since
    while probe < until:
        following = min(probe + timedelta(hours=1), until)
        if _offset_minutes(following, tz) != offset:
            change = next(
                moment
                for quarter in range(1, 5)
                if (moment := min(probe + timedelta(minutes=15 * quarter), following))
                and _offset_minutes(moment, tz) != offset
            )
            spans.append((start, change, offset))
            start, offset = change, _offset_minutes(change, tz)
        probe = following
    spans.append((start, until, offset))
    return [span for span in spans if span[0] < span[1]]


def _local_day(column: str) -> str:
    """SQL for the local date of `column`, shifted by a `?` offset in minutes."""
    if is_mysql():
        return f"DATE(DATE_ADD({column}, INTERVAL ? MINUTE))"
    return f"DATE({column}, printf('%+d minutes', ?))"


async def _daily(
    sql: str,
    column: str,
    promoter_id: int,
    spans: Sequence[tuple[datetime, datetime, int]],
    columns: tuple[str, ...],
) -> dict[str, dict[str, int]]:
    """`sql` per span of one UTC offset; the counts of a day in several spans are added."""
    found: dict[str, dict[str, int]] = {}
    day = _local_day(column)
    for start, end, offset in spans:
        rows = await sql_rows(connection(), sql.format(day=day), [offset, promoter_id, start, end])
        for row in rows:
            counts = found.setdefault(str(row["day"]), dict.fromkeys(columns, 0))
            for name in columns:
                counts[name] += int(row[name] or 0)
    return found


async def _time_zone(program_id: int) -> tzinfo:
    names = await Program.filter(id=program_id).values_list("time_zone", flat=True)
    try:
        return zone(names[0] if names and names[0] else DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return zone(DEFAULT_TIME_ZONE)


async def promoter_behaviour(*, promoter_id: int, days: int = 30) -> dict[str, Any]:
    """The promoter's daily series over the last `days` days, totals and open anomalies."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            "days out of range", code="invalid_query", fields={"days": f"1..{MAX_DAYS}"}
        )
    promoter = await Promoter.get_or_none(id=promoter_id)
    if promoter is None:
        raise NotFound("no such promoter", code="promoter_not_found")
    tz = await _time_zone(promoter.program_id)  # type: ignore[attr-defined]
    today = clock.now().astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=tz).astimezone(UTC)
    following = today + timedelta(days=1)
    until = datetime(following.year, following.month, following.day, tzinfo=tz).astimezone(UTC)
    spans = offset_spans(since, until, tz)
    conn = connection()
    shares = await _daily(
        "SELECT {day} AS day, COUNT(*) AS shares FROM share_links"
        " WHERE promoter_id = ? AND created_at >= ? AND created_at < ? GROUP BY day",
        "created_at",
        promoter_id,
        spans,
        ("shares",),
    )
    visits = await _daily(
        "SELECT {day} AS day,"
        " SUM(CASE WHEN is_bot = 0 THEN 1 ELSE 0 END) AS visits,"
        " COUNT(DISTINCT CASE WHEN is_bot = 0 THEN visitor_hash END) AS visitors,"
        " SUM(CASE WHEN is_bot = 1 THEN 1 ELSE 0 END) AS bot_visits"
        " FROM visits WHERE promoter_id = ? AND at >= ? AND at < ? GROUP BY day",
        "at",
        promoter_id,
        spans,
        ("visits", "visitors", "bot_visits"),
    )
    refunded = f"CASE WHEN {money_units(conn, 'refunded_amount')} > 0 THEN 1 ELSE 0 END"
    orders = await _daily(
        f"SELECT {{day}} AS day, COUNT(*) AS orders, SUM({refunded}) AS refunded_orders"
        " FROM orders WHERE attributed_promoter_id = ? AND placed_at >= ? AND placed_at < ?"
        " AND buyer_promoter_id IS NULL GROUP BY day",
        "placed_at",
        promoter_id,
        spans,
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
