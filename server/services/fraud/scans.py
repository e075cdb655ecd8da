"""The fraud scans: set-based queries over each program's recent data feeding the pure
detectors, and the findings recorded as anomalies (docs/design/fraud.md).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.db import connection
from server.domain.fraud import coupon_abuse, traffic
from server.domain.fraud.findings import MAX_LINKED_VISITS, Finding
from server.domain.fraud.thresholds import FraudThresholds, stored_thresholds
from server.domain.programs.settings import ProgramStatus
from server.models import Program
from server.services.fraud import scan_identity as fraud_scan_identity
from server.services.fraud import scan_orders as fraud_scan_orders
from server.services.fraud.anomalies import record_findings
from server.services.fraud.scan_window import ScanWindow, moment, window_for
from server.services.ledger.postings import sql_rows

log = logging.getLogger("fenxiao.fraud")

SOURCE_SCAN = "scan"


# ---------------------------------------------------------------- traffic


async def _visit_groups(
    conn: BaseDBAsyncClient, window: ScanWindow, column: str, key_kind: str, floor: int
) -> list[traffic.VisitGroup]:
    rows = await sql_rows(
        conn,
        f"SELECT promoter_id, {column} AS key_hash, COUNT(*) AS visits,"
        " MIN(at) AS first_at, MAX(at) AS last_at FROM visits"
        f" WHERE program_id = ? AND at >= ? AND at < ? AND {column} IS NOT NULL"
        f" GROUP BY promoter_id, {column} HAVING COUNT(*) >= ?",
        [window.program_id, window.since, window.until, floor],
    )
    return [
        traffic.VisitGroup(
            promoter_id=int(row["promoter_id"]),
            key_kind=key_kind,
            key_hash=str(row["key_hash"]),
            visits=int(row["visits"]),
            first_at=moment(row["first_at"]),
            last_at=moment(row["last_at"]),
        )
        for row in rows
    ]


async def _sample_visits(
    conn: BaseDBAsyncClient, window: ScanWindow, promoter_id: int, condition: str, value: Any
) -> tuple[int, ...]:
    rows = await sql_rows(
        conn,
        "SELECT id FROM visits WHERE program_id = ? AND promoter_id = ? AND at >= ? AND at < ?"
        f" AND {condition} ORDER BY id LIMIT {MAX_LINKED_VISITS}",
        [window.program_id, promoter_id, window.since, window.until, *value],
    )
    return tuple(int(row["id"]) for row in rows)


async def traffic_findings(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[Finding]:
    """Click floods, inhuman rates and bot traffic in the window."""
    groups = await _visit_groups(
        conn,
        window,
        "ip_hash",
        "ip",
        min(thresholds.visits_per_ip, thresholds.min_rate_visits),
    )
    groups += await _visit_groups(
        conn,
        window,
        "visitor_hash",
        "device",
        min(thresholds.visits_per_device, thresholds.min_rate_visits),
    )
    findings = []
    for finding in traffic.detect_click_floods(groups, thresholds):
        kind, key_hash = finding.detail.split(":", 1)
        column = "ip_hash" if kind == "ip" else "visitor_hash"
        assert finding.promoter_id is not None
        sample = await _sample_visits(
            conn, window, finding.promoter_id, f"{column} = ?", [key_hash]
        )
        findings.append(dataclasses.replace(finding, visit_ids=sample))
    bots = await sql_rows(
        conn,
        "SELECT promoter_id, COUNT(*) AS visits,"
        " SUM(CASE WHEN is_bot = 1 THEN 1 ELSE 0 END) AS bot_visits FROM visits"
        " WHERE program_id = ? AND at >= ? AND at < ? GROUP BY promoter_id"
        " HAVING SUM(CASE WHEN is_bot = 1 THEN 1 ELSE 0 END) >= ?",
        [window.program_id, window.since, window.until, thresholds.min_bot_visits],
    )
    rows = [
        traffic.PromoterTraffic(
            promoter_id=int(row["promoter_id"]),
            visits=int(row["visits"]),
            bot_visits=int(row["bot_visits"]),
        )
        for row in bots
    ]
    for finding in traffic.detect_bot_traffic(rows, thresholds):
        assert finding.promoter_id is not None
        sample = await _sample_visits(conn, window, finding.promoter_id, "is_bot = ?", [1])
        findings.append(dataclasses.replace(finding, visit_ids=sample))
    return findings


# ---------------------------------------------------------------- coupons

# The code row an order's typed coupon matched (aliases count as the code they alias).
_CODE_JOIN = (
    " JOIN share_codes AS c ON c.program_id = o.program_id"
    " AND c.normalized = UPPER(TRIM(o.coupon_code))"
)
_WINDOW = " WHERE o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?"


def _buyer_key(row: dict[str, Any]) -> str | None:
    if row.get("buyer_user_id") is not None:
        return f"user:{int(row['buyer_user_id'])}"
    if row.get("buyer_external_id"):
        return f"ext:{row['buyer_external_id']}"
    return None


async def _off_site_uses(conn: BaseDBAsyncClient, window: ScanWindow) -> list[coupon_abuse.CodeUse]:
    rows = await sql_rows(
        conn,
        "SELECT o.id AS order_id, o.site_id AS site_id, COALESCE(c.alias_of_id, c.id) AS code_id,"
        " c.code AS code, c.promoter_id AS promoter_id, ch.is_active AS channel_active"
        f" FROM orders AS o{_CODE_JOIN} LEFT JOIN channels AS ch ON ch.id = c.channel_id"
        f"{_WINDOW} AND o.coupon_code IS NOT NULL AND (ch.is_active = 0 OR ("
        " o.site_id IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM promoter_sites AS g WHERE g.promoter_id = c.promoter_id)"
        " AND NOT EXISTS (SELECT 1 FROM promoter_sites AS g"
        " WHERE g.promoter_id = c.promoter_id AND g.site_id = o.site_id)))",
        [window.program_id, window.since, window.until],
    )
    if not rows:
        return []
    promoter_ids = sorted({int(row["promoter_id"]) for row in rows})
    grants = await sql_rows(
        conn,
        "SELECT promoter_id, site_id FROM promoter_sites"
        f" WHERE promoter_id IN ({', '.join('?' for _ in promoter_ids)})",
        promoter_ids,
    )
    sites: dict[int, set[int]] = {}
    for grant in grants:
        sites.setdefault(int(grant["promoter_id"]), set()).add(int(grant["site_id"]))
    return [
        coupon_abuse.CodeUse(
            order_id=int(row["order_id"]),
            code_id=int(row["code_id"]),
            code=str(row["code"]),
            promoter_id=int(row["promoter_id"]),
            order_site_id=int(row["site_id"]) if row["site_id"] is not None else None,
            authorized_site_ids=(
                frozenset(sites[int(row["promoter_id"])])
                if int(row["promoter_id"]) in sites
                else None
            ),
            channel_active=row["channel_active"] is None or bool(int(row["channel_active"])),
        )
        for row in rows
    ]


async def _hoarders(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[coupon_abuse.BuyerCodeUse]:
    uses: list[coupon_abuse.BuyerCodeUse] = []
    for column in ("buyer_user_id", "buyer_external_id"):
        suspects = await sql_rows(
            conn,
            f"SELECT o.{column} AS buyer FROM orders AS o{_CODE_JOIN}{_WINDOW}"
            f" AND o.{column} IS NOT NULL GROUP BY o.{column}"
            " HAVING COUNT(DISTINCT COALESCE(c.alias_of_id, c.id)) >= ?",
            [window.program_id, window.since, window.until, thresholds.codes_per_buyer],
        )
        buyers = [row["buyer"] for row in suspects]
        if not buyers:
            continue
        rows = await sql_rows(
            conn,
            f"SELECT o.id AS order_id, o.buyer_user_id AS buyer_user_id,"
            " o.buyer_external_id AS buyer_external_id,"
            " COALESCE(c.alias_of_id, c.id) AS code_id, c.promoter_id AS promoter_id"
            f" FROM orders AS o{_CODE_JOIN}{_WINDOW}"
            f" AND o.{column} IN ({', '.join('?' for _ in buyers)})",
            [window.program_id, window.since, window.until, *buyers],
        )
        for row in rows:
            key = (
                f"user:{int(row['buyer_user_id'])}"
                if column == "buyer_user_id"
                else f"ext:{row['buyer_external_id']}"
            )
            uses.append(
                coupon_abuse.BuyerCodeUse(
                    buyer_key=key,
                    code_id=int(row["code_id"]),
                    promoter_id=int(row["promoter_id"]),
                    order_id=int(row["order_id"]),
                )
            )
    return uses


async def _code_rates(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[coupon_abuse.CodeRate]:
    busy = await sql_rows(
        conn,
        "SELECT COALESCE(c.alias_of_id, c.id) AS code_id, COUNT(*) AS uses"
        f" FROM orders AS o{_CODE_JOIN}{_WINDOW}"
        " GROUP BY COALESCE(c.alias_of_id, c.id) HAVING COUNT(*) >= ?",
        [window.program_id, window.since, window.until, thresholds.min_code_uses],
    )
    rates = []
    for row in busy:
        code_id = int(row["code_id"])
        scope = " AND COALESCE(c.alias_of_id, c.id) = ?"
        [history] = await sql_rows(
            conn,
            f"SELECT COUNT(*) AS uses FROM orders AS o{_CODE_JOIN}{_WINDOW}{scope}",
            [window.program_id, window.history_since, window.since, code_id],
        )
        orders = await sql_rows(
            conn,
            f"SELECT o.id AS order_id FROM orders AS o{_CODE_JOIN}{_WINDOW}{scope}",
            [window.program_id, window.since, window.until, code_id],
        )
        [code] = await sql_rows(
            conn, "SELECT code, promoter_id FROM share_codes WHERE id = ?", [code_id]
        )
        rates.append(
            coupon_abuse.CodeRate(
                code_id=code_id,
                code=str(code["code"]),
                promoter_id=int(code["promoter_id"]),
                window_uses=int(row["uses"]),
                history_uses=int(history["uses"]),
                window_order_ids=tuple(sorted(int(o["order_id"]) for o in orders)),
            )
        )
    return rates


async def coupon_findings(
    conn: BaseDBAsyncClient, window: ScanWindow, thresholds: FraudThresholds
) -> list[Finding]:
    """Codes used off their sites or channels, hoarded by one buyer, or spiking."""
    findings = coupon_abuse.detect_off_site_codes(await _off_site_uses(conn, window))
    findings += coupon_abuse.detect_many_codes(
        await _hoarders(conn, window, thresholds), thresholds
    )
    findings += coupon_abuse.detect_code_rate_spikes(
        await _code_rates(conn, window, thresholds), thresholds
    )
    return findings


# ---------------------------------------------------------------- the scan


async def find_program_anomalies(
    *, program_id: int, thresholds: FraudThresholds, until: datetime
) -> list[Finding]:
    """Everything the scans find in one program's window (reads only)."""
    conn = connection()
    window = window_for(program_id, thresholds, until)
    findings = await traffic_findings(conn, window, thresholds)
    findings += await coupon_findings(conn, window, thresholds)
    findings += await fraud_scan_orders.order_findings(conn, window, thresholds)
    findings += await fraud_scan_identity.identity_findings(conn, window, thresholds)
    return findings


async def scan_for_fraud(
    *, until: datetime, program_ids: Sequence[int] | None = None
) -> dict[str, Any]:
    """Scan every active program (or the given ones) and record what is found; a summary."""
    query = Program.filter(status=ProgramStatus.ACTIVE.value)
    if program_ids is not None:
        query = query.filter(id__in=list(program_ids))
    programs = await query.order_by("id").only("id", "fraud_thresholds")
    summary: dict[str, Any] = {"programs": 0, "findings": 0, "anomalies": 0, "by_kind": {}}
    for program in programs:
        thresholds = stored_thresholds(program.fraud_thresholds)
        findings = await find_program_anomalies(
            program_id=program.id, thresholds=thresholds, until=until
        )
        recorded = 0
        for finding in findings:
            # One transaction per finding: each locks only its own commissions, in id order,
            # like settlement does, so a scan never deadlocks a settlement batch.
            async with in_transaction() as conn:
                opened = await record_findings(
                    conn=conn, program_id=program.id, findings=[finding], source=SOURCE_SCAN
                )
            recorded += len(opened)
        summary["programs"] += 1
        summary["findings"] += len(findings)
        summary["anomalies"] += recorded
        for finding in findings:
            kinds = summary["by_kind"]
            kinds[finding.kind.value] = kinds.get(finding.kind.value, 0) + 1
    log.info("fraud scan: %s", summary)
    return summary
