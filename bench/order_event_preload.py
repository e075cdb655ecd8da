"""Grown tables for the order-event benchmark: a month of a large merchant already applied
(done inbox rows, orders, lines and commissions), written by INSERT … SELECT over MariaDB's
sequence tables, so that the measured events meet the data a busy store has.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

# A realistic applied body: the canonical JSON the inbox keeps (about 560 bytes).
BODY = (
    '{"event_id":"evt-pre-%s","occurred_at":"2026-11-20T10:00:00+00:00","order":{"buyer":'
    '{"openid":"bench-buyer-7"},"currency":"CNY","external_id":"pre-%s","lines":[{"amount":'
    '"99.80","line_ref":"1","product_id":"SKU-RULE","quantity":2,"unit_price":"49.90"},'
    '{"amount":"128.00","line_ref":"2","product_id":"SKU-2","quantity":1,"unit_price":'
    '"128.00"}],"placed_at":"2026-11-20T10:00:00+00:00"},"type":"order.paid"}'
)


def _connect(url: str):  # type: ignore[no-untyped-def]
    import pymysql

    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
        autocommit=True,
    )


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size - 1, total)) for start in range(1, total + 1, size)]


def preload(
    url: str, *, program_id: int, key_id: str, inbox_rows: int, commissions: int
) -> dict[str, float]:
    """Seconds each table took; orders get ids below every id the run will write."""
    timings: dict[str, float] = {}
    conn = _connect(url)
    # Small enough for the lock table of a 128 MiB buffer pool (error 1206 at 250,000).
    chunk = 100_000
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
            cur.execute("SELECT id FROM api_keys WHERE key_id = %s", [key_id])
            api_key = int(cur.fetchone()[0])
            cur.execute("SELECT id FROM promoters WHERE program_id = %s", [program_id])
            promoters = [int(row[0]) for row in cur.fetchall()]
            began = time.perf_counter()
            for low, high in _chunks(inbox_rows, chunk):
                cur.execute(
                    "INSERT INTO order_event_inbox (program_id, event_id, event_type,"
                    " order_external_id, body_sha256, body, appid, api_key_id, nonce, status,"
                    " attempts, received_at, processed_at, outcome_status_code)"
                    " SELECT %s, CONCAT('evt-pre-', seq), 'order.paid', CONCAT('pre-', seq),"
                    " SHA2(seq, 256), REPLACE(%s, '%%s', seq), 'wx-standin-appid', %s,"
                    " CONCAT('pre-nonce-', seq), 'done', 1,"
                    " UTC_TIMESTAMP(6) - INTERVAL (%s - seq) SECOND,"
                    " UTC_TIMESTAMP(6) - INTERVAL (%s - seq) SECOND, 200"
                    f" FROM seq_{low}_to_{high}",
                    [program_id, BODY, api_key, inbox_rows * 2, inbox_rows * 2],
                )
            timings["inbox"] = time.perf_counter() - began
            lines = commissions // 2
            orders = lines // 2
            stamp = "UTC_TIMESTAMP(6) - INTERVAL 10 DAY"
            began = time.perf_counter()
            for low, high in _chunks(orders, chunk):
                cur.execute(
                    "INSERT INTO orders (id, program_id, external_id, status, currency,"
                    " total_amount, refunded_amount, buyer_promoter_id, attributed_promoter_id,"
                    " attribution, placed_at, paid_at, created_at, updated_at)"
                    " SELECT seq, %s, CONCAT('pre-', seq), 'paid', 'CNY', 227.80, 0,"
                    " NULL, NULL, '{}',"
                    f" {stamp}, {stamp}, {stamp}, {stamp} FROM seq_{low}_to_{high}",
                    [program_id],
                )
            timings["orders"] = time.perf_counter() - began
            began = time.perf_counter()
            for low, high in _chunks(lines, chunk):
                cur.execute(
                    "INSERT INTO order_lines (id, order_id, line_ref, product_id, quantity,"
                    " unit_price, amount, refunded_amount) SELECT seq, (seq + 1) DIV 2,"
                    " IF(MOD(seq, 2) = 1, '1', '2'), IF(MOD(seq, 2) = 1, 'SKU-RULE', 'SKU-2'),"
                    " 1, 99.80, 99.80, 0"
                    f" FROM seq_{low}_to_{high}",
                )
            timings["order lines"] = time.perf_counter() - began
            began = time.perf_counter()
            count = len(promoters)
            for low, high in _chunks(lines, chunk // 2):
                cur.execute(
                    "INSERT INTO commissions (program_id, order_id, order_line_id,"
                    " promoter_id, level, currency, status, kind, rate, quantity, line_amount,"
                    " base_amount, rule_source, amount, original_amount, settled_amount,"
                    " snapshot, explanation, upline_snapshot, freeze_days, auto_approve,"
                    " created_at, updated_at)"
                    " SELECT %s, (l.seq + 1) DIV 2, l.seq,"
                    f" ELT(1 + MOD(l.seq * 7919 + lv.level, {count}), "
                    + ", ".join(str(p) for p in promoters)
                    + "), lv.level, 'CNY', 'pending', 'percent', 10, 1, 99.80, 99.80,"
                    " 'program_level', 9.98, 9.98, 0, '{}', '{}', '[]', 7, 0,"
                    f" {stamp}, {stamp}"
                    f" FROM seq_{low}_to_{high} AS l"
                    " JOIN (SELECT 1 AS level UNION ALL SELECT 2) AS lv",
                    [program_id],
                )
            timings["commissions"] = time.perf_counter() - began
            began = time.perf_counter()
            for table in ("order_event_inbox", "orders", "order_lines", "commissions"):
                cur.execute(f"ANALYZE TABLE {table}")
                cur.fetchall()
            timings["analyze"] = time.perf_counter() - began
    finally:
        conn.close()
    return timings
