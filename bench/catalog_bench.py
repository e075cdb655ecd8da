"""A catalog push of N products on MariaDB: created, pushed again unchanged, then all updated,
beside two ways of writing the same update with the ORM, measured in the same run.

    .venv/bin/python -m bench.catalog_bench [--products 5000] [--samples 3] [--no-save]

Creates (and drops) its own database on BENCH_MYSQL_URL's server (default
mysql://root:@127.0.0.1:3306); writes the "## Catalog push" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from bench.hierarchy_data import BENCH_URL, admin_sql
from bench.hierarchy_report import machine_line, save_section
from server.db import connection, tortoise_config
from server.models import CatalogProduct, Program
from server.services.catalog.sync import push_catalog

COMMAND = ".venv/bin/python -m bench.catalog_bench"
SECTION = "## Catalog push"
START = datetime(2026, 3, 1, tzinfo=UTC)


def _rows(count: int, at: datetime, price: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"SKU-{n:06d}",
            "name": f"Product {n}",
            "category_id": f"cat-{n % 40}",
            "price": price,
            "currency": "CNY",
            "status": "active",
            "updated_at": at.isoformat(),
        }
        for n in range(count)
    ]


async def _timed(work: Callable[[], Awaitable[Any]]) -> float:
    began = time.perf_counter()
    await work()
    return time.perf_counter() - began


async def _orm_update(program_id: int, price: str, *, per_row: bool) -> None:
    async with in_transaction() as conn:
        rows = await CatalogProduct.filter(program_id=program_id).using_db(conn)
        for row in rows:
            row.price = Decimal(price)
        if per_row:
            for row in rows:
                await row.save(using_db=conn, update_fields=["price"])
        else:
            await CatalogProduct.bulk_update(rows, ["price"], batch_size=500, using_db=conn)


async def _sample(program_id: int, n: int, t0: datetime) -> dict[str, float]:
    async def push(rows: list[dict[str, Any]]) -> None:
        await push_catalog(program_id=program_id, categories=[], products=rows, key_id="bench")

    return {
        "push: create": await _timed(lambda: push(_rows(n, t0, "10.00"))),
        "push: the same again (unchanged)": await _timed(lambda: push(_rows(n, t0, "10.00"))),
        "push: all updated": await _timed(lambda: push(_rows(n, t0 + timedelta(hours=1), "11.00"))),
        "baseline: ORM bulk_update (CASE per 500)": await _timed(
            lambda: _orm_update(program_id, "12.00", per_row=False)
        ),
        "baseline: ORM save per row": await _timed(
            lambda: _orm_update(program_id, "13.00", per_row=True)
        ),
    }


def _load() -> float:
    with open("/proc/loadavg") as info:
        return float(info.read().split()[0])


async def main(args: argparse.Namespace) -> dict[str, Any]:
    name = f"fenxiao_catalog_bench_{secrets.token_hex(4)}"
    await admin_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    parts = urlsplit(BENCH_URL)
    try:
        await Tortoise.init(
            config=tortoise_config(urlunsplit((parts.scheme, parts.netloc, "/" + name, "", "")))
        )
        await Tortoise.generate_schemas(safe=False)
        [version] = await connection().execute_query_dict("SELECT VERSION() AS v")
        load_before = _load()
        times: dict[str, list[float]] = {}
        for sample in range(args.samples):
            program = await Program.create(name=f"bench {sample}", currency="CNY")
            for label, seconds in (
                await _sample(program.id, args.products, START + timedelta(days=sample))
            ).items():
                times.setdefault(label, []).append(seconds)
                print(f"{label}: {seconds:.2f} s", flush=True)
        return {
            "command": " ".join([COMMAND, *sys.argv[1:]]),
            "date": datetime.now(UTC).date().isoformat(),
            "machine": machine_line(str(version["v"])),
            "load": (load_before, _load()),
            "products": args.products,
            "times": times,
        }
    finally:
        await Tortoise.close_connections()
        await admin_sql(f"DROP DATABASE IF EXISTS `{name}`")


def render(facts: dict[str, Any]) -> str:
    times = facts["times"]
    update = statistics.median(times["push: all updated"])
    lines = [
        SECTION,
        "",
        f"`{facts['command']}`, run {facts['date']}. It creates and drops its own database on"
        " `BENCH_MYSQL_URL`.",
        "",
        f"Machine: {facts['machine'].rstrip('.')}. 1-minute load average"
        f" {facts['load'][0]:.1f} before, {facts['load'][1]:.1f} after.",
        "",
        f"One push of {facts['products']:,} products through"
        " `server.services.catalog.sync.push_catalog` (checking every row, reading the stored"
        " ones, writing; one transaction), and the same update written two other ways (these"
        " write one column, `price`, and check nothing; the push writes every field):",
        "",
        "| step | p50 | runs | × the push's update |",
        "|---|---:|---:|---:|",
    ]
    for label, values in times.items():
        p50 = statistics.median(values)
        lines.append(f"| {label} | {p50:.2f} s | {len(values)} | {p50 / update:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    arguments = parser.parse_args()
    section = render(asyncio.run(main(arguments)))
    print(section)
    if not arguments.no_save:
        save_section(section, heading=SECTION)
