"""Settlement at a million commissions: the real batched service against one set-based UPDATE.

    .venv/bin/python -m bench.settle_bench [--commissions N] [--promoters N] [--batch-size N]
                                           [--buffer-pool-mb MB]

Creates (and drops) its own database on BENCH_MYSQL_URL's server (default
mysql://root:@127.0.0.1:3306), generates the data with INSERT … SELECT over MariaDB's sequence
tables, times the baseline (one UPDATE of the same rows to `settled`, which writes no ledger,
no balances and no history), resets, times
server.services.commissions.settlement.settle_due_commissions through tortoise/aiomysql,
reconciles the ledger, and writes the "## Settlement" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiomysql
from tortoise import Tortoise

from bench.hierarchy_data import BENCH_URL, admin_sql
from bench.hierarchy_report import machine_line
from server.db import connection, tortoise_config
from server.services.commissions.settlement import BATCH_SIZE, settle_due_commissions
from server.services.ledger.balances import reconcile_balances

COMMAND = ".venv/bin/python -m bench.settle_bench"
RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Settlement"
NOISE = 20_000  # extra commissions that must not settle: half not yet due, half held


def _rss_mib() -> float:
    # Linux reports ru_maxrss in KiB: the peak resident set of this process so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _run(sql: str, values: list[Any] | None = None) -> int:
    changed, _ = await connection().execute_query(sql, values or [])
    return changed


async def _value(sql: str) -> Any:
    rows = await connection().execute_query_dict(sql)
    return next(iter(rows[0].values())) if rows else None


async def generate(
    database: str, commissions: int, promoters: int, now: datetime
) -> dict[str, float]:
    """Users, promoters, orders with one line each, and two commission levels per line.

    On a connection of its own with foreign-key and unique checks off: the generated keys
    are consistent by construction, and checking them row by row would double the load.
    """
    timings: dict[str, float] = {}
    lines = commissions // 2 + NOISE // 2
    stamp = now.replace(tzinfo=None)
    steps = [
        (
            "program",
            "INSERT INTO programs (id, name, description, kind, status, currency,"
            " recruitment_mode, requirements, max_levels, level_rates, self_rebate_enabled,"
            " self_rebate_rate, bind_mode, attribution_window_days, commission_window_days,"
            " freeze_days, withdrawal_rules, payout_schedule, auto_approve_rules, created_at,"
            " updated_at) VALUES (1, 'bench', '', 'external', 'active', 'CNY', 'open', '{}', 2,"
            " '[\"10\",\"5\"]', 0, 0, 'first_touch', 30, 0, 7, '{}', '{}', '{}', %s, %s)",
            [stamp, stamp],
        ),
        (
            "users",
            "INSERT INTO users (id, appid, openid, created_at)"
            f" SELECT seq, 'wx-bench', CONCAT('o', seq), %s FROM seq_1_to_{promoters}",
            [stamp],
        ),
        (
            "promoters",
            "INSERT INTO promoters (id, program_id, user_id, status, tier, applied_at,"
            f" decided_at, updated_at) SELECT seq, 1, seq, 'approved', 'default', %s, %s, %s"
            f" FROM seq_1_to_{promoters}",
            [stamp, stamp, stamp],
        ),
        (
            "orders",
            "INSERT INTO orders (id, program_id, external_id, status, currency,"
            " total_amount, refunded_amount, attribution, placed_at, completed_at, created_at,"
            " updated_at) SELECT seq, 1, CONCAT('ext-', seq), 'completed', 'CNY',"
            f" 100 + MOD(seq, 900), 0, '{{}}', %s, %s, %s, %s FROM seq_1_to_{lines}",
            [stamp, stamp, stamp, stamp],
        ),
        (
            "order lines",
            "INSERT INTO order_lines (id, order_id, line_ref, product_id, quantity,"
            " unit_price, amount, refunded_amount) SELECT seq, seq, '1',"
            " CONCAT('sku-', MOD(seq, 500)), 1, 100 + MOD(seq, 900), 100 + MOD(seq, 900), 0"
            f" FROM seq_1_to_{lines}",
            [],
        ),
        # Level 1 and level 2 of each line go to two different promoters; amounts vary by
        # the cent. The last NOISE lines are either not yet unlocked or held.
        (
            "commissions",
            "INSERT INTO commissions (program_id, order_id, order_line_id,"
            " promoter_id, level, currency, status, kind, rate, quantity, line_amount, base_amount,"
            " rule_source, amount, original_amount, settled_amount, snapshot, explanation,"
            " upline_snapshot, hold_reason, unlock_at, created_at, approved_at, updated_at)"
            " SELECT 1, l.id, l.id,"
            f" 1 + MOD(l.id * 7919 + lv.level * 104729, {promoters}), lv.level, 'CNY', 'approved',"
            " 'percent', 10, 1, l.amount, l.amount, 'program_level',"
            " ROUND(l.amount * (0.11 - lv.level * 0.03) + MOD(l.id, 97) / 100, 2),"
            " ROUND(l.amount * (0.11 - lv.level * 0.03) + MOD(l.id, 97) / 100, 2), 0, '{}', '{}',"
            f" '[]', IF(l.id > {lines - NOISE // 4}, 'anomaly:bench', NULL),"
            f" IF(l.id > {lines - NOISE // 2} AND l.id <= {lines - NOISE // 4},"
            "  %s + INTERVAL 3 DAY, %s - INTERVAL MOD(l.id, 10000) MINUTE), %s, %s, %s"
            " FROM order_lines AS l JOIN (SELECT 1 AS level UNION ALL SELECT 2) AS lv",
            [stamp, stamp, stamp, stamp, stamp],
        ),
    ]
    conn = await aiomysql.connect(**_server_args(database))
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
            for name, sql, values in steps:
                began = time.perf_counter()
                await cur.execute(sql, values)
                timings[name] = time.perf_counter() - began
            began = time.perf_counter()
            await cur.execute("ANALYZE TABLE commissions, promoters, order_lines")
            await cur.fetchall()
            timings["analyze"] = time.perf_counter() - began
    finally:
        conn.close()
    return timings


DUE = "status = 'approved' AND unlock_at <= %s AND hold_reason IS NULL"


async def baseline(now: datetime) -> tuple[float, int]:
    """One set-based UPDATE of the same rows, in one transaction; then undone (not timed)."""
    stamp = now.replace(tzinfo=None)
    began = time.perf_counter()
    changed = await _run(
        "UPDATE commissions SET status = 'settled', settled_amount = amount, settled_at = %s,"
        f" updated_at = %s WHERE {DUE}",
        [stamp, stamp, stamp],
    )
    elapsed = time.perf_counter() - began
    await _run(
        "UPDATE commissions SET status = 'approved', settled_amount = 0, settled_at = NULL"
        " WHERE status = 'settled'"
    )
    return elapsed, changed


async def checks(expected: int) -> dict[str, Any]:
    """What the run left: entries, credited sums and commissions still due."""
    return {
        "entries": int(await _value("SELECT COUNT(*) FROM ledger_entries")),
        "credited": await _value("SELECT SUM(amount) FROM ledger_entries"),
        "settled_sum": await _value("SELECT SUM(amount) FROM commissions WHERE status = 'settled'"),
        "balances": await _value("SELECT SUM(available) FROM promoter_balances"),
        "balance_rows": int(await _value("SELECT COUNT(*) FROM promoter_balances")),
        "left_unsettled": int(
            await _value("SELECT COUNT(*) FROM commissions WHERE status = 'approved'")
        ),
        "history_rows": int(await _value("SELECT COUNT(*) FROM commission_changes")),
        "expected": expected,
    }


def _server_args(database: str | None = None) -> dict[str, Any]:
    parts = urlsplit(BENCH_URL)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
        "db": database,
        "autocommit": True,
    }


async def _server_value(sql: str) -> Any:
    conn = await aiomysql.connect(**_server_args())
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
            return (await cur.fetchone())[0]
    finally:
        conn.close()


async def _restore_pool(size: int) -> None:
    """Give the server its buffer pool size back, waiting out a resize in progress (another
    bench may be resizing too); a warning, never a failure, if it cannot."""
    for _ in range(60):
        try:
            await admin_sql(f"SET GLOBAL innodb_buffer_pool_size = {size}")
            return
        except aiomysql.OperationalError:
            await asyncio.sleep(5)
    logging.warning("could not restore innodb_buffer_pool_size to %s", size)


def _database_url(name: str) -> str:
    parts = urlsplit(BENCH_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def render(facts: dict[str, Any]) -> str:
    ratio = facts["service_s"] / facts["baseline_s"]
    made = ", ".join(f"{k} {v:.1f} s" for k, v in facts["generation"].items())
    check = facts["checks"]
    report = facts["reconcile"]
    return "\n".join(
        [
            SECTION,
            "",
            f"`{facts['command']}`, run {facts['date']}. It creates and drops its own database"
            " on `BENCH_MYSQL_URL` (default mysql://root:@127.0.0.1:3306).",
            "",
            f"Machine: {facts['machine']} innodb_buffer_pool_size {facts['pool_mb']} MiB;"
            f" 1-minute load average {facts['load'][0]:.1f} before, {facts['load'][1]:.1f} after.",
            "",
            f"Data: {facts['commissions']:,} due approved commissions (levels 1 and 2 of"
            f" {facts['commissions'] // 2:,} one-line orders) across {facts['promoters']:,}"
            f" promoters, plus {NOISE:,} that must not settle (half not yet unlocked, half held);"
            f" no balance rows beforehand. Generated by INSERT … SELECT over sequence tables:"
            f" {made}.",
            "",
            "| run | time | rows | what it writes |",
            "|---|---:|---:|---|",
            f"| baseline: one `UPDATE commissions SET status = 'settled' …` | "
            f"{facts['baseline_s']:.1f} s | {facts['baseline_rows']:,} | statuses only |",
            f"| `settle_due_commissions(batch_size={facts['batch_size']})` | "
            f"{facts['service_s']:.1f} s | {facts['settled']:,} | statuses, one ledger entry"
            " with running balance_after, one history row per commission, cached balances;"
            f" {facts['batches']} batches of one transaction each |",
            "",
            f"Ratio service / baseline: **{ratio:.2f}×** (target ≤ 3×:"
            f" {'met' if ratio <= 3 else 'NOT met'}). Both timings move with other load on the"
            " machine (the one large UPDATE more than the batches): compare ratios only between"
            " runs with a low load average.",
            "",
            f"Peak RSS of the process (getrusage): {facts['rss_before']:.0f} MiB before"
            f" settlement, {facts['rss_after']:.0f} MiB after settling {facts['settled']:,}"
            " commissions — memory stays flat: a batch holds at most its ids in Python.",
            "",
            f"Checks: {check['entries']:,} ledger entries crediting {check['credited']} CNY ="
            f" {check['settled_sum']} CNY of settled commissions = {check['balances']} CNY in"
            f" {check['balance_rows']:,} cached balances; {check['history_rows']:,} history rows;"
            f" {check['left_unsettled']:,} commissions still approved (the {NOISE:,} not due or"
            " held).",
            "",
            f"Reconcile (`reconcile_balances()`, set-based per chunk of promoters) after the run:"
            f" {report['accounts_checked']:,} accounts checked, drift {report['drift_count']}, in"
            f" {facts['reconcile_s']:.1f} s.",
            "",
        ]
    )


def save_section(section: str) -> None:
    """Replace (or add) the "## Settlement" section; other benches keep theirs."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        rest = "" if end < 0 else "\n" + text[end + 1 :]
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    RESULTS.write_text(text)


def _load() -> float:
    with open("/proc/loadavg") as info:
        return float(info.read().split()[0])


async def main(args: argparse.Namespace) -> dict[str, Any]:
    name = f"fenxiao_settle_bench_{secrets.token_hex(4)}"
    await admin_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    original_pool = await _server_value("SELECT @@innodb_buffer_pool_size")
    try:
        if args.buffer_pool_mb:
            await admin_sql(f"SET GLOBAL innodb_buffer_pool_size = {args.buffer_pool_mb << 20}")
        await Tortoise.init(config=tortoise_config(_database_url(name)))
        await Tortoise.generate_schemas(safe=False)
        pool_mb = int(await _value("SELECT @@innodb_buffer_pool_size")) >> 20
        version = str(await _value("SELECT VERSION()"))
        now = datetime.now(UTC)
        load_before = _load()
        print(f"generating {args.commissions:,} commissions…", flush=True)
        generation = await generate(name, args.commissions, args.promoters, now)
        print(f"generated: {generation}", flush=True)
        await _value("SELECT COUNT(*) FROM commissions")  # warm the pages both runs read
        baseline_s, baseline_rows = await baseline(now)
        print(f"baseline {baseline_s:.1f} s for {baseline_rows:,} rows", flush=True)
        rss_before = _rss_mib()
        began = time.perf_counter()
        result = await settle_due_commissions(now=now, batch_size=args.batch_size)
        service_s = time.perf_counter() - began
        rss_after = _rss_mib()
        print(f"service {service_s:.1f} s: {result}", flush=True)
        began = time.perf_counter()
        report = (await reconcile_balances()).to_dict()
        reconcile_s = time.perf_counter() - began
        facts = {
            "command": " ".join([COMMAND, *sys.argv[1:]]),
            "date": now.date().isoformat(),
            "machine": machine_line(version),
            "pool_mb": pool_mb,
            "load": (load_before, _load()),
            "commissions": args.commissions,
            "promoters": args.promoters,
            "generation": generation,
            "baseline_s": baseline_s,
            "baseline_rows": baseline_rows,
            "service_s": service_s,
            "settled": result["settled"],
            "batches": result["batches"],
            "batch_size": args.batch_size,
            "rss_before": rss_before,
            "rss_after": rss_after,
            "checks": await checks(args.commissions),
            "reconcile": report,
            "reconcile_s": reconcile_s,
        }
        return facts
    finally:
        await Tortoise.close_connections()
        await admin_sql(f"DROP DATABASE IF EXISTS `{name}`")
        if args.buffer_pool_mb:
            await _restore_pool(int(original_pool))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commissions", type=int, default=1_000_000)
    parser.add_argument("--promoters", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    # Room for the whole data set (~1.5 GiB at a million commissions), as on a server sized
    # for it; the server's own setting is restored at the end. 0 keeps the server's setting.
    parser.add_argument("--buffer-pool-mb", type=int, default=2048)
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    arguments = parse_args(sys.argv[1:])
    facts = asyncio.run(main(arguments))
    section = render(facts)
    print(section)
    if not arguments.no_write:
        save_section(section)
