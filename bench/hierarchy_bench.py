"""The promoter tree at a million promoters: closure table + maintained counts, against
recursive CTEs over `promoters.parent_id` on the same data.

    .venv/bin/python -m bench.hierarchy_bench [--promoters N] [--moves N] [--no-write]

Creates its own database on BENCH_MYSQL_URL's server (default mysql://root:@127.0.0.1:3306),
bulk-loads the tree with LOAD DATA, times the real service functions through tortoise/aiomysql,
checks every answer against the CTE, and writes the "## Hierarchy" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.log import db_client_logger
from tortoise.transactions import in_transaction

from bench.hierarchy_data import (
    BENCH_URL,
    Shape,
    admin_sql,
    build_shape,
    bulk_load,
    describe,
    largest_team,
    write_files,
)
from bench.hierarchy_report import Pass, Row, machine_line, render_results, save_section
from server.auth import Principal
from server.db import connection, tortoise_config
from server.models import Program
from server.services.promoters import hierarchy
from server.services.promoters import team as team_service

Call = Callable[[], Awaitable[Any]]
COMMAND = ".venv/bin/python -m bench.hierarchy_bench"
PAGE = 20
MOVE_TARGET = 10_000

CTE_TEAM = (
    "WITH RECURSIVE team (id, depth) AS (SELECT id, 0 FROM promoters WHERE id = %s"
    " UNION ALL SELECT p.id, team.depth + 1 FROM promoters AS p"
    " JOIN team ON p.parent_id = team.id) "
)
CTE_UPLINE = (
    "WITH RECURSIVE up (id, parent_id, depth) AS ("
    "SELECT id, parent_id, 0 FROM promoters WHERE id = %s"
    " UNION ALL SELECT p.id, p.parent_id, up.depth + 1 FROM promoters AS p"
    " JOIN up ON p.id = up.parent_id) "
)
BASELINES = {
    "upline": CTE_UPLINE + "SELECT id, depth FROM up WHERE depth > 0 ORDER BY depth",
    "counts": CTE_TEAM
    + "SELECT depth, COUNT(*) AS n FROM team WHERE depth > 0 GROUP BY depth ORDER BY depth",
    "page": CTE_TEAM
    + "SELECT t.id, u.nickname, COALESCE(p.decided_at, p.applied_at) AS joined_at FROM team AS t"
    " JOIN promoters AS p ON p.id = t.id JOIN users AS u ON u.id = p.user_id"
    " WHERE t.depth = %s AND t.id < %s ORDER BY t.id DESC LIMIT %s",
    "size": CTE_TEAM + "SELECT COUNT(*) - 1 AS n FROM team",
    "cycle": CTE_UPLINE + "SELECT COUNT(*) AS n FROM up WHERE id = %s",
}


async def measure(call: Callable[[], Awaitable[Any]], samples: int) -> list[float]:
    """Milliseconds per call, after a short warm-up."""
    for _ in range(min(5, samples)):
        await call()
    times = []
    for _ in range(samples):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return times


async def baseline(name: str, *values: Any) -> list[dict[str, Any]]:
    return await connection().execute_query_dict(BASELINES[name], list(values))


class _Statements(logging.Handler):
    """Collects the SQL tortoise sends, so EXPLAIN runs on exactly what the service runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, list[Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 2:
            self.seen.append((str(record.args[0]), list(record.args[1] or [])))


async def statements_of(call: Callable[[], Awaitable[Any]]) -> list[tuple[str, list[Any]]]:
    handler, level = _Statements(), db_client_logger.level
    db_client_logger.addHandler(handler)
    db_client_logger.setLevel(logging.DEBUG)
    try:
        await call()
    finally:
        db_client_logger.removeHandler(handler)
        db_client_logger.setLevel(level)
    return handler.seen


async def explain(statements: list[tuple[str, list[Any]]]) -> list[str]:
    lines = []
    for sql, values in statements:
        head = sql.lstrip().split(None, 1)[0].upper()
        if head not in ("SELECT", "DELETE", "INSERT") or " VALUES " in sql or "FOR UPDATE" in sql:
            continue
        if "LOCK IN SHARE MODE" in sql:
            continue
        lines.append(sql if len(sql) < 160 else sql[:157] + "...")
        for row in await connection().execute_query_dict("EXPLAIN " + sql, values):
            lines.append(
                f"  {row['select_type']:<12} {row['table'] or '-':<16} {row['type'] or '-':<7}"
                f" key={row['key']} rows={row['rows']} {row['Extra'] or ''}".rstrip()
            )
    return lines


async def measure_reads(shape: Shape, rng: random.Random) -> list[Row]:
    """Time each read and its CTE twin, after checking they agree on sampled inputs."""
    team = shape.levels[largest_team(shape)]
    leader = team[0][0]
    level = max((d for d in team if d), key=lambda d: len(team[d]))
    level_members = sorted(team[level])
    cursors = level_members[PAGE:]  # sliced once: a copy per call would be timed too

    def anyone() -> int:
        return rng.randint(1, shape.size)

    def deep() -> int:
        return rng.choice(shape.chain_tails)

    def cursor() -> int:
        return rng.choice(cursors)

    for pick in [anyone() for _ in range(300)] + [deep() for _ in range(50)]:
        ours = await hierarchy.upline_chain(promoter_id=pick)
        assert ours == [(r["id"], r["depth"]) for r in await baseline("upline", pick)], pick
    counts = {r["depth"]: r["n"] for r in await baseline("counts", leader)}
    assert await hierarchy.team_counts(promoter_id=leader) == counts
    assert await hierarchy.team_size(promoter_id=leader) == (await baseline("size", leader))[0]["n"]
    for after in [level_members[-1] + 1] + [cursor() for _ in range(10)]:
        page = await team_service.team_level_page(
            promoter_id=leader, depth=level, cursor=after, limit=PAGE
        )
        expected = [r["id"] for r in await baseline("page", leader, level, after, PAGE)]
        assert [m.id for m in page] == expected

    cases: list[tuple[str, Call, int, Call, int, str]] = [
        (
            "upline chain, random promoter",
            lambda: hierarchy.upline_chain(promoter_id=anyone()), 3000,
            lambda: baseline("upline", anyone()), 3000, "recursive CTE up parent_id",
        ),
        (
            "upline chain, 30–60 deep",
            lambda: hierarchy.upline_chain(promoter_id=deep()), 2000,
            lambda: baseline("upline", deep()), 2000, "recursive CTE up parent_id",
        ),
        (
            f"team counts by level, largest team ({sum(counts.values()):,})",
            lambda: hierarchy.team_counts(promoter_id=leader), 2000,
            lambda: baseline("counts", leader), 40, "recursive CTE + GROUP BY",
        ),
        (
            f"one level newest first, {PAGE}/page at a random cursor"
            f" (largest team, level {level}: {len(level_members):,})",
            lambda: team_service.team_level_page(
                promoter_id=leader, depth=level, cursor=cursor(), limit=PAGE
            ), 2000,
            lambda: baseline("page", leader, level, cursor(), PAGE), 40,
            "recursive CTE + filter + sort",
        ),
        (
            "whole-team size, largest team",
            lambda: hierarchy.team_size(promoter_id=leader), 2000,
            lambda: baseline("size", leader), 40, "recursive CTE + COUNT",
        ),
    ]  # fmt: skip
    rows = []
    for name, ours_call, ours_n, base_call, base_n, label in cases:
        plan = await explain(await statements_of(ours_call))
        ours_times = await measure(ours_call, ours_n)
        rows.append(Row(name, ours_times, await measure(base_call, base_n), label, plan))
    return rows


async def measure_moves(shape: Shape, samples: int) -> Row:
    """Move a ~10k subtree of the largest team to another team's lieutenant and back."""
    biggest = largest_team(shape)
    home = shape.top_roots[biggest]
    sizes = {
        lieutenant: await hierarchy.team_size(promoter_id=lieutenant) + 1
        for lieutenant in shape.levels[biggest][1]
    }
    moved = min(sizes, key=lambda lieutenant: abs(sizes[lieutenant] - MOVE_TARGET))
    away = shape.levels[(biggest + 1) % len(shape.top_roots)][1][0]
    before = await hierarchy.team_counts(promoter_id=home)
    staff = Principal(kind="staff", id=1, roles=frozenset({"staff"}))
    places = itertools.cycle([away, home])

    def one_move(to: int | None = None) -> Awaitable[Any]:
        return hierarchy.move_subtree(
            promoter_id=moved, new_parent_id=to or next(places), actor=staff, reason="bench"
        )

    plan = await explain(await statements_of(one_move))
    times = await measure(one_move, samples)
    if (await hierarchy.upline_chain(promoter_id=moved))[0][0] != home:
        await one_move(home)
    assert await hierarchy.team_counts(promoter_id=home) == before
    members = await team_service.subtree_page(promoter_id=moved, cursor=None, limit=50)
    for member in [moved, *(m.id for m in members)]:
        ours = await hierarchy.upline_chain(promoter_id=member)
        assert ours == [(r["id"], r["depth"]) for r in await baseline("upline", member)]

    async def adjacency_move() -> None:
        async with in_transaction() as tx:
            found = await tx.execute_query_dict(BASELINES["cycle"], [away, moved])
            assert found[0]["n"] == 0
            await tx.execute_query(
                "UPDATE promoters SET parent_id = %s WHERE id = %s", [away, moved]
            )
            await tx.rollback()

    return Row(
        f"move a {sizes[moved]:,}-member subtree (depth 1 ↔ 2, via move_subtree)",
        times,
        await measure(adjacency_move, 40),
        "CTE cycle check + UPDATE parent_id",
        plan,
    )


async def pool_size() -> int:
    rows = await connection().execute_query_dict("SELECT @@innodb_buffer_pool_size AS pool")
    return int(rows[0]["pool"])


async def set_pool(size: int) -> None:
    await admin_sql(f"SET GLOBAL innodb_buffer_pool_size = {size}")
    for _ in range(600):  # resizing is online and asynchronous
        if await pool_size() == size:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("innodb_buffer_pool_size did not reach the requested size")


async def warm_pool(database: str) -> None:
    """Read every index of the tables the reads touch, so a fresh pool starts warm."""
    conn = connection()
    for table in ("promoters", "users", "promoter_closure", "team_counts"):
        indexes = await conn.execute_query_dict(
            "SELECT DISTINCT index_name AS name FROM information_schema.statistics"
            " WHERE table_schema = %s AND table_name = %s",
            [database, table],
        )
        for index in indexes:
            await conn.execute_query_dict(
                f"SELECT COUNT(*) AS n FROM `{table}` FORCE INDEX (`{index['name']}`)"
            )


async def measure_pass(title: str, shape: Shape, rng: random.Random, moves: int) -> Pass:
    load = os.getloadavg()[0]
    rows = await measure_reads(shape, rng)
    rows.append(await measure_moves(shape, moves))
    return Pass(title, rows, (load, os.getloadavg()[0]))


async def run(*, total: int, seed: int, moves: int, pool_mb: int | None, command: str) -> str:
    rng = random.Random(seed)
    database = f"fenxiao_bench_{secrets.token_hex(4)}"
    await admin_sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    parts = urlsplit(BENCH_URL)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + database, "", ""))
    original_pool: int | None = None
    try:
        await Tortoise.init(config=tortoise_config(url))
        await Tortoise.generate_schemas(safe=False)
        program = await Program.create(name="bench", currency="CNY")
        build: dict[str, float] = {}
        began = time.perf_counter()
        shape = build_shape(total, rng)
        build["generate tree"] = time.perf_counter() - began
        with tempfile.TemporaryDirectory() as directory:
            began = time.perf_counter()
            paths, links = write_files(shape, Path(directory))
            build["write files"] = time.perf_counter() - began
            build.update(await bulk_load(database, paths, program.id))
        print("built:", {k: round(v, 1) for k, v in build.items()}, flush=True)
        described, data_mib = await describe(shape, links, database)
        version = (await connection().execute_query_dict("SELECT VERSION() AS v"))[0]["v"]
        original_pool = await pool_size()
        passes = [
            await measure_pass(
                f"innodb_buffer_pool_size {original_pool >> 20} MiB (the server's setting)",
                shape, rng, moves,
            )
        ]  # fmt: skip
        if pool_mb:
            await set_pool(pool_mb << 20)
            await warm_pool(database)
            passes.append(
                await measure_pass(
                    f"innodb_buffer_pool_size {pool_mb} MiB (set for this pass: room for the"
                    " whole data set, as on a server sized for it)",
                    shape, rng, moves,
                )
            )  # fmt: skip
        return render_results(
            passes=passes,
            shape=described,
            data_mib=data_mib,
            build=build,
            machine=machine_line(version),
            command=command,
        )
    finally:
        if pool_mb and original_pool:
            await set_pool(original_pool)
        await Tortoise.close_connections()
        await admin_sql(f"DROP DATABASE IF EXISTS `{database}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--promoters", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--moves", type=int, default=30, help="timed moves per pass")
    parser.add_argument(
        "--buffer-pool-mb",
        type=int,
        default=None,
        help="also measure with the server's InnoDB buffer pool at this size (set with SET"
        " GLOBAL for the pass, restored afterwards)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    args = parser.parse_args()
    command = " ".join([COMMAND, *sys.argv[1:]])
    section = asyncio.run(
        run(
            total=args.promoters,
            seed=args.seed,
            moves=args.moves,
            pool_mb=args.buffer_pool_mb,
            command=command,
        )
    )
    print(section)
    if not args.no_write:
        save_section(section)


if __name__ == "__main__":
    main()
