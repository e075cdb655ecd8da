"""The identity scans (see server/services/fraud/scans.py for the shape): buyers sharing a
phone, device or bank account with their promoter, and uplines sharing an identity
(account, unionid, phone, bank account) with their downline."""

from __future__ import annotations

import dataclasses
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.domain.fraud import hierarchy_abuse, self_referral
from server.domain.fraud.findings import Finding
from server.domain.fraud.identity import Identity, bank_account, wechat_account
from server.domain.fraud.thresholds import FraudThresholds
from server.services.fraud.scan_window import ScanWindow, markers
from server.services.ledger.postings import sql_rows

# A promoter's bank accounts, from the withdrawals they asked for, matched by keyed hash (the
# numbers are sealed at rest): an account is "bank:<hash>" here and in findings.
_SHARED_BANK_ACCOUNT = (
    " JOIN withdrawals AS wx ON wx.promoter_id = {x} AND wx.account_number_hash IS NOT NULL"
    " JOIN withdrawals AS wy ON wy.promoter_id = {y}"
    " AND wy.account_number_hash = wx.account_number_hash"
)


async def _self_referral_by_shared_signals(
    conn: BaseDBAsyncClient, window: ScanWindow
) -> list[Finding]:
    """Referred orders whose buyer shares a phone, bank account or device with their promoter."""
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
        + " UNION SELECT o.id, p.id, NULL, NULL, wx.account_number_hash"
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
    """(promoter, upline) pairs within the depth that share an identity signal."""
    # Only pairs where one changed (or withdrew) since the history start: what stood still was
    # judged by the scans back then. A first run over old data may pass a long history_days.
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
        " wx.account_number_hash AS account FROM promoter_closure AS c"
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
        f" AND COALESCE(o.buyer_promoter_id, o.attributed_promoter_id) IN ({markers(members)})"
        f" AND c.promoter_id IN ({markers(members)}) AND c.level >= 1",
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
