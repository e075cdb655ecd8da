"""Reports at scale: the 30-day overview and every breakdown read from rollups, against the
same totals computed from raw rows in the same run; rebuilding rollups timed per day.

    .venv/bin/python -m bench.report_bench [--visits 10000000] [--orders 1000000]
        [--days 90] [--samples 30] [--no-write] [--database NAME [--build-only]]

Creates its own database on BENCH_MYSQL_URL's server (default mysql://root:@127.0.0.1:3306),
generates the raw rows in the database (INSERT … SELECT, three commissions per order),
rebuilds the rollups with the service's own rebuild, then times the real service functions
through tortoise/aiomysql.
Writes the "## Reports" section of bench/RESULTS.md. With `--database NAME` the database is
kept, and a later run naming it measures it again without rebuilding (its build figures are
kept in bench/.data/NAME.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from bench.hierarchy_bench import pool_size, set_pool
from bench.hierarchy_data import BENCH_URL, admin_sql
from bench.hierarchy_report import machine_line, percentile, save_section
from bench.report_data import END, generate
from server.db import connection, tortoise_config
from server.domain.periods import zone
from server.domain.reports.rollup import Dimension
from server.models import Program, ReportRangeFigures
from server.services.reports import queries
from server.services.reports.reads import Segment
from server.services.reports.rollups import rebuild_reports
from server.services.reports.spans import recompute_spans

COMMAND = ".venv/bin/python -m bench.report_bench"
LAST_DAY = date(2026, 3, 31)  # the last local day of the data (END is its end)
BREAKDOWNS = [d.value for d in Dimension if d != Dimension.ALL]


async def timed(call: Callable[[], Awaitable[Any]], samples: int) -> list[float]:
    """Milliseconds of each of `samples` calls after one warm-up call."""
    await call()
    times = []
    for _ in range(samples):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return times


async def raw_totals(program_id: int, window: queries.Window) -> dict[str, Any]:
    """The overview's totals computed from raw rows (the baseline)."""
    conn = connection()
    r = window.current
    visits = (
        await conn.execute_query_dict(
            "SELECT SUM(1 - is_bot) AS visits, SUM(is_bot) AS bots, COUNT(DISTINCT CASE WHEN"
            " is_bot = 0 THEN visitor_hash END) AS uniques FROM visits"
            " WHERE program_id = %s AND at >= %s AND at < %s",
            [program_id, r.start, r.end],
        )
    )[0]
    orders = (
        await conn.execute_query_dict(
            "SELECT COUNT(*) AS n, SUM(total_amount) AS gmv, SUM(CASE WHEN status = 'cancelled'"
            " THEN total_amount ELSE refunded_amount END) AS refunds FROM orders"
            " WHERE program_id = %s AND status IN ('paid', 'completed', 'cancelled', 'refunded')"
            " AND paid_at >= %s AND paid_at < %s",
            [program_id, r.start, r.end],
        )
    )[0]
    commissions = await conn.execute_query_dict(
        "SELECT c.status AS status, COUNT(*) AS n, SUM(CASE WHEN c.status IN ('rejected',"
        " 'reversed') THEN c.original_amount ELSE c.amount END) AS amount FROM commissions AS c"
        " JOIN orders AS o ON o.id = c.order_id WHERE o.program_id = %s"
        " AND o.status IN ('paid', 'completed', 'cancelled', 'refunded')"
        " AND o.paid_at >= %s AND o.paid_at < %s GROUP BY c.status",
        [program_id, r.start, r.end],
    )
    return {
        "visits": int(visits["visits"] or 0),
        "bot_visits": int(visits["bots"] or 0),
        "unique_visitors": int(visits["uniques"] or 0),
        "orders": int(orders["n"] or 0),
        "gmv": f"{Decimal(orders['gmv'] or 0):.2f}",
        "refunds": f"{Decimal(orders['refunds'] or 0):.2f}",
        "commissions_by_status": {
            row["status"]: {"count": int(row["n"]), "amount": f"{Decimal(row['amount']):.2f}"}
            for row in commissions
        },
    }


async def raw_by_promoter(program_id: int, window: queries.Window) -> None:
    """The promoter breakdown's core from raw rows: visits and net sales per promoter."""
    conn = connection()
    r = window.current
    await conn.execute_query_dict(
        "SELECT promoter_id, SUM(1 - is_bot), COUNT(DISTINCT visitor_hash) FROM visits"
        " WHERE program_id = %s AND at >= %s AND at < %s GROUP BY promoter_id",
        [program_id, r.start, r.end],
    )
    await conn.execute_query_dict(
        "SELECT attributed_promoter_id, COUNT(*), SUM(total_amount - refunded_amount) FROM orders"
        " WHERE program_id = %s AND status IN ('paid', 'completed', 'cancelled', 'refunded')"
        " AND paid_at >= %s AND paid_at < %s GROUP BY attributed_promoter_id",
        [program_id, r.start, r.end],
    )


def _same(rolled: dict[str, Any], raw: dict[str, Any]) -> bool:
    """Every summed figure equal (unique visitors are an estimate: compared apart)."""
    by_status = {
        status: figures
        for status, figures in rolled["commissions_by_status"].items()
        if figures["count"]
    }
    keys = ("visits", "bot_visits", "orders", "gmv", "refunds")
    return all(rolled[k] == raw[k] for k in keys) and by_status == raw["commissions_by_status"]


async def _one_day_rebuilt(program: Program) -> str:
    """How long rebuilding the last day takes, and the six spans holding it alone."""
    try:
        one_day = await timed(
            lambda: rebuild_reports(start=END - timedelta(days=1), end=END, program_id=program.id),
            2,
        )
        spans_of_day = await timed(lambda: _spans_of_last_day(program), 3)
    except OperationalError as error:  # a shared server's small buffer pool may refuse it
        return f"Rebuilding one day of rollups failed on the shared server: {error}."
    return (
        "Rebuilding one day of rollups (rebuild_reports, from raw rows):"
        f" p50 {percentile(one_day, 50) / 1000:.2f} s over {len(one_day)} runs, of which"
        " recomputing the six spans holding the day alone takes p50"
        f" {percentile(spans_of_day, 50) / 1000:.2f} s."
    )


async def _composite_cpu(window: queries.Window, runs: int) -> list[float]:
    """This process's CPU milliseconds for the overview and all breakdowns, per run: what a
    busy machine's waits for the database and the scheduler leave out of the wall times."""
    found = []
    for _ in range(runs):
        began = time.process_time()
        await _composite(window)
        found.append((time.process_time() - began) * 1000)
    return found


async def _composite(window: queries.Window) -> None:
    await queries.overview(window=window, segment=Segment())
    for dimension in BREAKDOWNS:
        await queries.breakdown(window=window, dimension=dimension, limit=100)


async def _cold_composite(window: queries.Window, runs: int) -> list[float]:
    """Milliseconds of the overview and all breakdowns when no range's figures are kept
    yet (the first read of a range, or after a rebuild)."""
    found = []
    for _ in range(runs):
        await ReportRangeFigures.filter(program_id=window.program.id).delete()
        began = time.perf_counter()
        await _composite(window)
        found.append((time.perf_counter() - began) * 1000)
    return found


async def _spans_of_last_day(program: Program) -> None:
    """What a refresh adds for spans: the six spans holding the last day, from their halves."""
    async with in_transaction() as conn:
        await recompute_spans(
            conn, program_id=program.id, days=[LAST_DAY], tz=zone(program.time_zone)
        )


def _raw_only(build: dict[str, float], *, visits: int, orders: int, days: int) -> str:
    steps = {k: v for k, v in build.items() if k.startswith("insert")}
    return (
        f"`{COMMAND} {' '.join(sys.argv[1:])}`, run {date.today()}: {visits:,} visits,"
        f" {orders:,} orders, their lines and {3 * orders:,} commissions over {days} days"
        f" generated in {sum(steps.values()):.1f} s ("
        + ", ".join(_step(k, v) for k, v in build.items())
        + ")."
    )


def _step(name: str, value: float) -> str:
    return f"{name} {value:.1f}" if name.startswith("load average") else f"{name} {value:.1f} s"


def _row(name: str, times: list[float]) -> str:
    return (
        f"| {name} | {percentile(times, 50):,.1f} ms | {percentile(times, 99):,.1f} ms"
        f" | {len(times)} |"
    )


BUILDS = Path(__file__).resolve().parent / ".data"


async def build_data(
    database: str, *, visits: int, orders: int, days: int, seed: int, rollups: bool = True
) -> tuple[Program, dict[str, float]]:
    """The raw rows (INSERT … SELECT) and their rollups (the service's rebuild); seconds."""
    await Tortoise.generate_schemas(safe=False)
    program = await Program.create(name="bench", currency="CNY", time_zone="Asia/Shanghai")
    build: dict[str, float] = {"load average before": os.getloadavg()[0]}
    build.update(
        await generate(
            database, program_id=program.id, visits=visits, orders=orders, days=days, seed=seed
        )
    )
    print("loaded:", {k: round(v, 1) for k, v in build.items()}, flush=True)
    if not rollups:
        build["load average after"] = os.getloadavg()[0]
        return program, build
    began = time.perf_counter()
    await rebuild_reports(start=END - timedelta(days=days), end=END, program_id=program.id)
    build[f"rebuild all {days} days of rollups"] = time.perf_counter() - began
    build["load average after"] = os.getloadavg()[0]
    print("built:", {k: round(v, 1) for k, v in build.items()}, flush=True)
    return program, build


async def run(
    *,
    visits: int,
    orders: int,
    days: int,
    samples: int,
    seed: int,
    database: str | None = None,
    build_only: bool = False,
    raw_only: bool = False,
    raw_samples: int | None = None,
    pool_mb: int | None = None,
) -> str:
    keep = database is not None
    database = database or f"fenxiao_bench_{secrets.token_hex(4)}"
    saved = BUILDS / f"{database}.json"
    reuse = keep and saved.exists()
    if not reuse:
        await admin_sql(f"DROP DATABASE IF EXISTS `{database}`")
        await admin_sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    parts = urlsplit(BENCH_URL)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + database, "", ""))
    load_before = os.getloadavg()[0]
    original_pool = None
    try:
        await Tortoise.init(config=tortoise_config(url))
        if pool_mb:  # for build and reads: room for the data, as on a server sized for it
            original_pool = await pool_size()
            await set_pool(pool_mb << 20)
        pool = await pool_size() >> 20
        if reuse:
            program = await Program.get(name="bench")
            build = json.loads(saved.read_text())
        else:
            program, build = await build_data(
                database, visits=visits, orders=orders, days=days, seed=seed, rollups=not raw_only
            )
            if keep:
                BUILDS.mkdir(exist_ok=True)
                saved.write_text(json.dumps(build))
        if raw_only:
            return _raw_only(build, visits=visits, orders=orders, days=days)
        if build_only:
            return ""
        window = await queries.report_window(
            program_id=program.id,
            preset="custom",
            first=LAST_DAY - timedelta(days=29),
            last=LAST_DAY,
        )
        rolled = (await queries.overview(window=window, segment=Segment()))["totals"]
        raw = await raw_totals(program.id, window)
        agree = _same(rolled, raw)
        rows: list[str] = []
        overview = await timed(lambda: queries.overview(window=window, segment=Segment()), samples)
        rows.append(_row("overview (totals, previous period, daily series, promoters)", overview))
        composite = list(overview)
        for dimension in BREAKDOWNS:
            times = await timed(
                lambda d=dimension: queries.breakdown(window=window, dimension=d, limit=100),
                samples,
            )
            composite = [a + b for a, b in zip(composite, times, strict=True)]
            rows.append(_row(f"breakdown by {dimension}", times))
        for by in queries.TOP_SORTS:
            times = await timed(
                lambda b=by: queries.top_promoters(window=window, by=b, limit=10), samples
            )
            rows.append(_row(f"top promoters by {by}", times))
        rows.append(
            _row(
                "funnel",
                await timed(lambda: queries.funnel(window=window, segment=Segment()), samples),
            )
        )
        rows.insert(0, _row("**overview + all 11 breakdowns (sum per sample)**", composite))
        composite_cpu = await _composite_cpu(window, 5)
        cold = await _cold_composite(window, max(3, samples // 6))
        baseline_samples = raw_samples or max(3, samples // 6)
        raw_times = await timed(lambda: raw_totals(program.id, window), baseline_samples)
        raw_promoters = await timed(lambda: raw_by_promoter(program.id, window), baseline_samples)
        version = (await connection().execute_query_dict("SELECT VERSION() AS v"))[0]["v"]
        rebuilt = await _one_day_rebuilt(program)
    finally:
        if original_pool is not None:
            await set_pool(original_pool)
        await Tortoise.close_connections()
        if not keep:
            await admin_sql(f"DROP DATABASE IF EXISTS `{database}`")
    met = percentile(composite, 50) <= 50 and percentile(composite, 99) <= 200
    return "\n".join(
        [
            "## Reports",
            "",
            f"`{COMMAND} {' '.join(sys.argv[1:])}`, run {date.today()}, on its own database on"
            " `BENCH_MYSQL_URL` (dropped after the run unless `--database` names it; a named"
            " one built earlier is measured again, with the build figures of its first run).",
            "",
            f"Machine: {machine_line(version)} innodb_buffer_pool_size {pool} MiB"
            f"{' (set for this run)' if pool_mb else ''}; 1-minute load average"
            f" {load_before:.1f} before,"
            f" {os.getloadavg()[0]:.1f} after.",
            "",
            f"Data: one program (Asia/Shanghai), {visits:,} visits (3% bots, a third as many"
            f" visitors) and {orders:,} orders with one line and three commissions each"
            f" ({3 * orders:,}), over {days} days; 5,000 promoters (Pareto-shaped traffic).",
            "",
            "Build: " + ", ".join(_step(k, v) for k, v in build.items()) + ".",
            rebuilt,
            "",
            f"The last 30 days (custom range {window.current.first}..{window.current.last}, beside"
            " the 30 before). Each figure is the wall time of one call of the service function"
            " (server.services.reports.queries) through tortoise and aiomysql.",
            "",
            "| read | p50 | p99 | n |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            "The same overview and 11 breakdowns on their first read, before their ranges'"
            " figures are kept (each sample deletes every kept range first: a range nobody"
            " read yet, or one after a rebuild):",
            "",
            "| read | p50 | p99 | n |",
            "|---|---:|---:|---:|",
            _row("overview + all 11 breakdowns, first read", cold),
            "",
            "Baseline, from raw rows in the same run:",
            "",
            "| read | p50 | p99 | n |",
            "|---|---:|---:|---:|",
            _row("overview totals only (visits, uniques, orders, money, commissions)", raw_times),
            _row("visits and net sales per promoter", raw_promoters),
            "",
            f"Ratio: the rollup overview with its series and previous period p50"
            f" {percentile(overview, 50):,.1f} ms against {percentile(raw_times, 50):,.1f} ms for"
            f" the raw totals alone ({percentile(raw_times, 50) / percentile(overview, 50):.1f}x)."
            f" Rollup totals equal the raw ones: {'yes' if agree else 'NO'}; unique visitors"
            f" {rolled['unique_visitors']:,} estimated against {raw['unique_visitors']:,} exact"
            f" ({(rolled['unique_visitors'] / raw['unique_visitors'] - 1) * 100:+.2f} %).",
            "",
            f"Python CPU of this process for the overview and all 11 breakdowns: p50"
            f" {percentile(composite_cpu, 50):,.1f} ms over {len(composite_cpu)} runs (the rest of"
            " the wall time is the database and waiting for a core).",
            "",
            "Targets (p50 ≤ 50 ms, p99 ≤ 200 ms for the overview with all its breakdowns):"
            f" {'met' if met else 'NOT met'}.",
            "",
            "",  # a blank line before the next section
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--visits", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    parser.add_argument("--database", help="keep this database, or measure it again if built")
    parser.add_argument("--build-only", action="store_true", help="with --database: only build")
    parser.add_argument(
        "--raw-only", action="store_true", help="only time generating the raw rows, then drop"
    )
    parser.add_argument(
        "--raw-samples", type=int, help="samples of each raw-row baseline (default samples/6)"
    )
    parser.add_argument(
        "--buffer-pool-mb",
        type=int,
        help="run with the server's InnoDB buffer pool at this size (SET GLOBAL, restored after)",
    )
    args = parser.parse_args()
    section = asyncio.run(
        run(
            visits=args.visits,
            orders=args.orders,
            days=args.days,
            samples=args.samples,
            seed=args.seed,
            database=args.database,
            build_only=args.build_only,
            raw_only=args.raw_only,
            raw_samples=args.raw_samples,
            pool_mb=args.buffer_pool_mb,
        )
    )
    print(section)
    if section and not args.no_write:
        save_section(section, heading="## Reports")


if __name__ == "__main__":
    main()
