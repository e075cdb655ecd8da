"""The order scans (see server/services/fraud/scans.py for the shape): repeat buyers, many
orders from one shipping address or device, orders right after binding, refund rates and
velocity spikes. Identity scans are in fraud_scan_identity.py."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.fraud import orders
from server.domain.fraud.findings import Finding
from server.domain.fraud.thresholds import FraudThresholds
from server.services.fraud.scan_window import ScanWindow, markers, moment
from server.services.ledger.postings import money_units, sql_rows

_REFERRED = (
    " FROM orders AS o WHERE o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?"
    " AND o.attributed_promoter_id IS NOT NULL AND o.buyer_promoter_id IS NULL"
)


async def _orders_sharing(
    conn: BaseDBAsyncClient,
    window: ScanWindow,
    *,
    column: str,
    min_orders: int,
    min_promoters: int,
) -> list[tuple[str, int, int]]:
    """(value, order, promoter) of referred orders sharing a `column` value past thresholds."""
    suspects = await sql_rows(
        conn,
        f"SELECT o.{column} AS shared{_REFERRED} AND o.{column} IS NOT NULL"
        f" GROUP BY o.{column} HAVING COUNT(*) >= ?"
        " AND COUNT(DISTINCT o.attributed_promoter_id) >= ?",
        [*window.span(), min_orders, min_promoters],
    )
    values = [row["shared"] for row in suspects]
    if not values:
        return []
    rows = await sql_rows(
        conn,
        f"SELECT o.id AS id, o.{column} AS shared, o.attributed_promoter_id AS promoter_id"
        f"{_REFERRED} AND o.{column} IN ({markers(values)})",
        [*window.span(), *values],
    )
    return [(str(row["shared"]), int(row["id"]), int(row["promoter_id"])) for row in rows]


async def _repeat_buyers(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[orders.BuyerOrder]:
    found: list[orders.BuyerOrder] = []
    for column, prefix in (
        ("buyer_user_id", "user"),
        ("buyer_unionid", "unionid"),
        ("buyer_external_id", "ext"),
    ):
        shared = await _orders_sharing(
            conn,
            window,
            column=column,
            min_orders=thresholds.orders_per_buyer,
            min_promoters=thresholds.promoters_per_buyer,
        )
        found += [
            orders.BuyerOrder(
                buyer_key=f"{prefix}:{buyer}", order_id=order_id, promoter_id=promoter_id
            )
            for buyer, order_id, promoter_id in shared
        ]
    return found + await _repeat_devices(conn, window, thresholds)


async def _repeat_devices(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[orders.BuyerOrder]:
    """Orders by buyers seen on one device (a visitor hash), whatever account they used."""
    device_orders = (
        " FROM orders AS o JOIN visits AS v ON v.program_id = o.program_id"
        " AND v.customer_user_id = o.buyer_user_id AND v.at >= ? AND v.at < ?"
        " AND v.visitor_hash IS NOT NULL"
        " WHERE o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?"
        " AND o.attributed_promoter_id IS NOT NULL AND o.buyer_promoter_id IS NULL"
    )
    span = [window.history_since, window.until, *window.span()]
    suspects = await sql_rows(
        conn,
        f"SELECT v.visitor_hash AS device{device_orders} GROUP BY v.visitor_hash"
        " HAVING COUNT(DISTINCT o.id) >= ? AND COUNT(DISTINCT o.attributed_promoter_id) >= ?",
        [*span, thresholds.orders_per_buyer, thresholds.promoters_per_buyer],
    )
    devices = [row["device"] for row in suspects]
    if not devices:
        return []
    rows = await sql_rows(
        conn,
        "SELECT DISTINCT o.id AS id, v.visitor_hash AS device,"
        f" o.attributed_promoter_id AS promoter_id{device_orders}"
        f" AND v.visitor_hash IN ({markers(devices)})",
        [*span, *devices],
    )
    return [
        orders.BuyerOrder(
            buyer_key=f"device:{row['device']}",
            order_id=int(row["id"]),
            promoter_id=int(row["promoter_id"]),
        )
        for row in rows
    ]


async def _shared_signal_orders(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[orders.SignalOrder]:
    """Orders of the hashed addresses and devices already past both thresholds."""
    found: list[orders.SignalOrder] = []
    for signal, column in (("address", "address_hash"), ("device", "device_hash")):
        shared = await _orders_sharing(
            conn,
            window,
            column=column,
            min_orders=orders.signal_order_threshold(signal, thresholds),
            min_promoters=thresholds.promoters_per_buyer,
        )
        found += [
            orders.SignalOrder(
                signal=signal, key_hash=key_hash, order_id=order_id, promoter_id=promoter_id
            )
            for key_hash, order_id, promoter_id in shared
        ]
    return found


def _distinct_order_sets(findings: list[Finding]) -> list[Finding]:
    """One finding per set of orders: a buyer found by account and by unionid is one."""
    seen: set[tuple[int, ...]] = set()
    kept = []
    for finding in findings:
        if finding.order_ids not in seen:
            seen.add(finding.order_ids)
            kept.append(finding)
    return kept


async def _promoters_with(
    conn: BaseDBAsyncClient, window: ScanWindow, minimum: int, having: str = ""
) -> list[int]:
    rows = await sql_rows(
        conn,
        f"SELECT o.attributed_promoter_id AS promoter_id{_REFERRED}"
        f" GROUP BY o.attributed_promoter_id HAVING COUNT(*) >= ?{having}",
        [*window.span(), minimum],
    )
    return [int(row["promoter_id"]) for row in rows]


async def _referred_orders(
    conn: BaseDBAsyncClient, window: ScanWindow, promoter_ids: list[int]
) -> list[orders.ReferredOrder]:
    """The promoters' referred orders in the window, with the latest binding before each."""
    if not promoter_ids:
        return []
    refunded = f"CASE WHEN {money_units(conn, 'o.refunded_amount')} > 0 THEN 1 ELSE 0 END"
    rows = await sql_rows(
        conn,
        "SELECT o.id AS id, o.attributed_promoter_id AS promoter_id, o.placed_at AS placed_at,"
        f" {refunded} AS refunded, MAX(b.bound_at) AS bound_at FROM orders AS o"
        " LEFT JOIN bindings AS b ON b.program_id = o.program_id"
        " AND b.promoter_id = o.attributed_promoter_id AND b.bound_at <= o.placed_at"
        " AND (b.customer_user_id = o.buyer_user_id OR (o.buyer_user_id IS NULL"
        " AND b.customer_external_id = o.buyer_external_id))"
        " WHERE o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?"
        " AND o.buyer_promoter_id IS NULL"
        f" AND o.attributed_promoter_id IN ({markers(promoter_ids)})"
        " GROUP BY o.id, o.attributed_promoter_id, o.placed_at, o.refunded_amount",
        [*window.span(), *promoter_ids],
    )
    return [
        orders.ReferredOrder(
            order_id=int(row["id"]),
            promoter_id=int(row["promoter_id"]),
            seconds_after_binding=(
                (moment(row["placed_at"]) - moment(row["bound_at"])).total_seconds()
                if row["bound_at"] is not None
                else None
            ),
            refunded=bool(int(row["refunded"])),
        )
        for row in rows
    ]


async def _velocities(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[orders.PromoterVelocity]:
    busy = await _promoters_with(conn, window, thresholds.min_orders_for_velocity)
    if not busy:
        return []
    history = await sql_rows(
        conn,
        f"SELECT o.attributed_promoter_id AS promoter_id, o.placed_at AS placed_at{_REFERRED}"
        f" AND o.attributed_promoter_id IN ({markers(busy)})",
        [window.program_id, window.history_since, window.since, *busy],
    )
    # Whole 24-hour slices ending where the window starts, not calendar days: every slice is
    # as long as a day in any time zone, and none is cut short by the window's start.
    slices = (window.since - window.history_since) // timedelta(days=1)
    daily: dict[int, list[int]] = defaultdict(lambda: [0] * slices)
    for row in history:
        age = (window.since - moment(row["placed_at"])) // timedelta(days=1)
        if age < slices:
            daily[int(row["promoter_id"])][slices - 1 - age] += 1
    window_rows = await sql_rows(
        conn,
        "SELECT o.id AS id, o.attributed_promoter_id AS promoter_id"
        f"{_REFERRED} AND o.attributed_promoter_id IN ({markers(busy)})",
        [*window.span(), *busy],
    )
    in_window: dict[int, list[int]] = defaultdict(list)
    for row in window_rows:
        in_window[int(row["promoter_id"])].append(int(row["id"]))
    return [
        orders.PromoterVelocity(
            promoter_id=promoter_id,
            window_orders=len(in_window[promoter_id]),
            daily_history=daily[promoter_id],
            window_order_ids=tuple(sorted(in_window[promoter_id])),
        )
        for promoter_id in busy
    ]


async def order_findings(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[Finding]:
    """Repeat buyers, shared address or device, quick orders, refund rates, velocity spikes."""
    findings = _distinct_order_sets(
        orders.detect_repeat_buyers(await _repeat_buyers(conn, window, thresholds), thresholds)
    )
    findings += orders.detect_shared_signal_orders(
        await _shared_signal_orders(conn, window, thresholds), thresholds
    )
    quick_suspects = await _promoters_with(conn, window, thresholds.min_quick_orders)
    refund_suspects = await _promoters_with(
        conn,
        window,
        thresholds.min_orders_for_refund_rate,
        f" AND 100 * SUM(CASE WHEN {money_units(conn, 'o.refunded_amount')} > 0 THEN 1 ELSE 0"
        f" END) >= {int(thresholds.refund_rate_percent)} * COUNT(*)",
    )
    referred = await _referred_orders(
        conn, window, sorted(set(quick_suspects) | set(refund_suspects))
    )
    findings += orders.detect_quick_orders(
        [o for o in referred if o.promoter_id in set(quick_suspects)], thresholds
    )
    findings += orders.detect_refund_rate(
        [o for o in referred if o.promoter_id in set(refund_suspects)], thresholds
    )
    findings += orders.detect_velocity_spikes(
        await _velocities(conn, window, thresholds), thresholds
    )
    return findings
