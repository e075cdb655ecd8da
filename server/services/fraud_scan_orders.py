"""The order and identity scans (see server/services/fraud_scans.py for the shape): repeat
buyers, orders right after binding, refund rates, velocity spikes, buyers sharing a phone,
device or bank account with their promoter, and uplines sharing an identity (account,
unionid, phone, bank account) with their downline."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.fraud import hierarchy_abuse, orders, self_referral
from server.domain.fraud.findings import Finding
from server.domain.fraud.identity import Identity, bank_account, wechat_account
from server.domain.fraud.thresholds import FraudThresholds
from server.services.fraud_scan_window import ScanWindow, moment
from server.services.ledger import money_units, sql_rows

_REFERRED = (
    " FROM orders AS o WHERE o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?"
    " AND o.attributed_promoter_id IS NOT NULL AND o.buyer_promoter_id IS NULL"
)


def _markers(values: list[Any]) -> str:
    return ", ".join("?" for _ in values)


async def _repeat_buyers(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[orders.BuyerOrder]:
    found: list[orders.BuyerOrder] = []
    for column, prefix in (
        ("buyer_user_id", "user"),
        ("buyer_unionid", "unionid"),
        ("buyer_external_id", "ext"),
    ):
        suspects = await sql_rows(
            conn,
            f"SELECT o.{column} AS buyer{_REFERRED} AND o.{column} IS NOT NULL"
            f" GROUP BY o.{column} HAVING COUNT(*) >= ?"
            " AND COUNT(DISTINCT o.attributed_promoter_id) >= ?",
            [*window.span(), thresholds.orders_per_buyer, thresholds.promoters_per_buyer],
        )
        buyers = [row["buyer"] for row in suspects]
        if not buyers:
            continue
        rows = await sql_rows(
            conn,
            f"SELECT o.id AS id, o.{column} AS buyer, o.attributed_promoter_id AS promoter_id"
            f"{_REFERRED} AND o.{column} IN ({_markers(buyers)})",
            [*window.span(), *buyers],
        )
        found += [
            orders.BuyerOrder(
                buyer_key=f"{prefix}:{row['buyer']}",
                order_id=int(row["id"]),
                promoter_id=int(row["promoter_id"]),
            )
            for row in rows
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
        f" AND v.visitor_hash IN ({_markers(devices)})",
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
        f" AND o.attributed_promoter_id IN ({_markers(promoter_ids)})"
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
        "SELECT o.attributed_promoter_id AS promoter_id, DATE(o.placed_at) AS day,"
        f" COUNT(*) AS n{_REFERRED} AND o.attributed_promoter_id IN ({_markers(busy)})"
        " GROUP BY o.attributed_promoter_id, DATE(o.placed_at)",
        [window.program_id, window.history_since, window.since, *busy],
    )
    daily: dict[int, dict[str, int]] = defaultdict(dict)
    for row in history:
        daily[int(row["promoter_id"])][str(row["day"])] = int(row["n"])
    days = [
        (window.history_since + timedelta(days=i)).date().isoformat()
        for i in range((window.since - window.history_since).days)
    ]
    window_rows = await sql_rows(
        conn,
        "SELECT o.id AS id, o.attributed_promoter_id AS promoter_id"
        f"{_REFERRED} AND o.attributed_promoter_id IN ({_markers(busy)})",
        [*window.span(), *busy],
    )
    in_window: dict[int, list[int]] = defaultdict(list)
    for row in window_rows:
        in_window[int(row["promoter_id"])].append(int(row["id"]))
    return [
        orders.PromoterVelocity(
            promoter_id=promoter_id,
            window_orders=len(in_window[promoter_id]),
            daily_history=[daily[promoter_id].get(day, 0) for day in days],
            window_order_ids=tuple(sorted(in_window[promoter_id])),
        )
        for promoter_id in busy
    ]


async def order_findings(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[Finding]:
    """Repeat buyers, quick orders, refund rates and velocity spikes in the window."""
    findings = _distinct_order_sets(
        orders.detect_repeat_buyers(await _repeat_buyers(conn, window, thresholds), thresholds)
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


# ---------------------------------------------------------------- identities


# A promoter's bank accounts, from the withdrawals they asked for.
_SHARED_BANK_ACCOUNT = (
    " JOIN withdrawals AS wx ON wx.promoter_id = {x} AND wx.account_number IS NOT NULL"
    " AND wx.account_number <> ''"
    " JOIN withdrawals AS wy ON wy.promoter_id = {y} AND wy.account_number = wx.account_number"
)


async def _self_referral_by_shared_signals(
    conn: BaseDBAsyncClient, window: ScanWindow
) -> list[Finding]:
    """Referred orders whose buyer shares a phone or a bank account (through their own
    promoter profile) or a device (a visitor hash both were seen with) with the promoter."""
    referred = (
        " FROM orders AS o JOIN promoters AS p ON p.id = o.attributed_promoter_id"
        " {join} WHERE o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?"
        " AND o.buyer_promoter_id IS NULL"
    )
    buyer_profile = (
        " JOIN promoters AS bp ON bp.user_id = o.buyer_user_id"
        " AND bp.program_id = o.program_id AND bp.id <> p.id"
    )
    rows = await sql_rows(
        conn,
        "SELECT o.id AS order_id, p.id AS promoter_id, p.phone AS phone, NULL AS device,"
        " NULL AS account"
        + referred.format(join=buyer_profile + " AND bp.phone = p.phone")
        + " AND p.phone IS NOT NULL AND p.phone <> ''"
        " UNION SELECT o.id, p.id, NULL, vb.visitor_hash, NULL"
        + referred.format(
            join=" JOIN visits AS vb ON vb.program_id = o.program_id"
            " AND vb.customer_user_id = o.buyer_user_id AND vb.at >= ? AND vb.at < ?"
            " AND vb.visitor_hash IS NOT NULL"
            " JOIN visits AS vp ON vp.program_id = o.program_id"
            " AND vp.customer_user_id = p.user_id AND vp.visitor_hash = vb.visitor_hash"
            " AND vp.at >= ? AND vp.at < ?"
        )
        + " UNION SELECT o.id, p.id, NULL, NULL, wx.account_number"
        + referred.format(join=buyer_profile + _SHARED_BANK_ACCOUNT.format(x="bp.id", y="p.id")),
        [
            *window.span(),
            window.history_since,
            window.until,
            window.history_since,
            window.until,
            *window.span(),
            *window.span(),
        ],
    )
    shared: dict[tuple[int, int], Identity] = {}
    for row in rows:
        key = (int(row["order_id"]), int(row["promoter_id"]))
        known = shared.get(key, Identity())
        shared[key] = Identity(
            phone=row["phone"] or known.phone,
            devices=known.devices | ({row["device"]} if row["device"] else set()),
            payout_accounts=known.payout_accounts | bank_account(row["account"]),
        )
    findings = []
    for (order_id, promoter_id), identity in sorted(shared.items()):
        facts = self_referral.PaidOrderFacts(
            order_id=order_id,
            buyer=identity,
            buyer_promoter_id=None,
            self_rebate_enabled=False,
            beneficiaries=(
                self_referral.Beneficiary(promoter_id=promoter_id, level=1, identity=identity),
            ),
        )
        findings += self_referral.detect_self_referral(facts)
    return findings


def _side(row: dict[str, Any], side: str) -> Identity:
    return Identity(
        user_id=int(row[f"{side}_user"]),
        unionid=row[f"{side}_unionid"],
        phone=row[f"{side}_phone"],
        payout_accounts=wechat_account(row[f"{side}_openid"]),
    )


async def _upline_pairs(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[hierarchy_abuse.UplinePair]:
    """(promoter, upline) pairs within the depth that share an account, unionid, phone or a
    bank account they withdrew to, where one of the two changed (or withdrew) since the
    start of the history: what stood still was judged by the scans back then. A first run
    over old data can pass a long `history_days` (up to a year)."""
    rows = await sql_rows(
        conn,
        "SELECT c.descendant_id AS d_id, c.ancestor_id AS a_id, c.depth AS depth,"
        " d.user_id AS d_user, a.user_id AS a_user, d.phone AS d_phone, a.phone AS a_phone,"
        " du.unionid AS d_unionid, au.unionid AS a_unionid,"
        " du.openid AS d_openid, au.openid AS a_openid"
        " FROM promoter_closure AS c JOIN promoters AS d ON d.id = c.descendant_id"
        " JOIN promoters AS a ON a.id = c.ancestor_id"
        " JOIN users AS du ON du.id = d.user_id JOIN users AS au ON au.id = a.user_id"
        " WHERE d.program_id = ? AND c.depth <= ? AND (d.user_id = a.user_id"
        " OR (du.unionid IS NOT NULL AND du.unionid = au.unionid)"
        " OR (d.phone IS NOT NULL AND d.phone <> '' AND d.phone = a.phone))"
        " AND (d.updated_at >= ? OR a.updated_at >= ?)",
        [
            window.program_id,
            thresholds.hierarchy_max_depth,
            window.history_since,
            window.history_since,
        ],
    )
    pairs = {
        (int(row["d_id"]), int(row["a_id"])): hierarchy_abuse.UplinePair(
            descendant_id=int(row["d_id"]),
            ancestor_id=int(row["a_id"]),
            depth=int(row["depth"]),
            descendant=_side(row, "d"),
            ancestor=_side(row, "a"),
        )
        for row in rows
    }
    banks = await sql_rows(
        conn,
        "SELECT DISTINCT c.descendant_id AS d_id, c.ancestor_id AS a_id, c.depth AS depth,"
        " wx.account_number AS account FROM promoter_closure AS c"
        + _SHARED_BANK_ACCOUNT.format(x="c.descendant_id", y="c.ancestor_id")
        + " WHERE wx.program_id = ? AND c.depth <= ?"
        " AND (wx.created_at >= ? OR wy.created_at >= ?)",
        [
            window.program_id,
            thresholds.hierarchy_max_depth,
            window.history_since,
            window.history_since,
        ],
    )
    for row in banks:
        key = (int(row["d_id"]), int(row["a_id"]))
        account = bank_account(row["account"])
        pair = pairs.get(key) or hierarchy_abuse.UplinePair(
            descendant_id=key[0],
            ancestor_id=key[1],
            depth=int(row["depth"]),
            descendant=Identity(),
            ancestor=Identity(),
        )
        pairs[key] = dataclasses.replace(
            pair,
            descendant=dataclasses.replace(
                pair.descendant, payout_accounts=pair.descendant.payout_accounts | account
            ),
            ancestor=dataclasses.replace(
                pair.ancestor, payout_accounts=pair.ancestor.payout_accounts | account
            ),
        )
    return [pairs[key] for key in sorted(pairs)]


async def _chain_orders(
    conn: BaseDBAsyncClient, window: ScanWindow, finding: Finding
) -> tuple[int, ...]:
    """The window's orders on which one member of the chain pays another."""
    members = list(finding.promoter_ids)
    rows = await sql_rows(
        conn,
        "SELECT DISTINCT o.id AS id FROM orders AS o JOIN commissions AS c ON c.order_id = o.id"
        " WHERE o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?"
        f" AND COALESCE(o.buyer_promoter_id, o.attributed_promoter_id) IN ({_markers(members)})"
        f" AND c.promoter_id IN ({_markers(members)}) AND c.level >= 1",
        [*window.span(), *members, *members],
    )
    return tuple(sorted(int(row["id"]) for row in rows))


async def identity_findings(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[Finding]:
    """Buyers who are their promoter, and promoters who are their own upline."""
    findings = await _self_referral_by_shared_signals(conn, window)
    pairs = await _upline_pairs(conn, window, thresholds)
    for finding in hierarchy_abuse.detect_shared_identity_chains(pairs, thresholds):
        order_ids = await _chain_orders(conn, window, finding)
        findings.append(dataclasses.replace(finding, order_ids=order_ids))
    return findings
